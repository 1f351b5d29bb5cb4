"""Find GPU compute in evaluated Terraform, on AWS, GCP and Azure.

Each VM, template, scale set, node group, node pool or SageMaker variant becomes a
:class:`Compute`: the instance type as written, what the catalog knows about it (GPU model and
count), how many nodes, whether it may run on spot capacity, its tags/labels, and its boot
scripts. Instance specs come from the providers' price snapshots plus
``data/extra_instance_types.json`` (sizes the snapshots do not price); names match
case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from llmplan.catalog.instances import InstanceSpec, gcp_accelerator_gpu, lookup
from llmplan.terraform.evaluation import Evaluation, Resource
from llmplan.terraform.values import Unknown, as_bool, as_int, as_text, is_unknown

# Resource types this module reads, per cloud (the rules' "reads" lists come from here).
AWS_TYPES = ("aws_instance", "aws_spot_instance_request", "aws_launch_template",
             "aws_launch_configuration", "aws_autoscaling_group", "aws_eks_node_group",
             "aws_sagemaker_endpoint_configuration")
GCP_TYPES = ("google_compute_instance", "google_compute_instance_template",
             "google_compute_region_instance_template", "google_container_node_pool",
             "google_container_cluster")
AZURE_TYPES = ("azurerm_linux_virtual_machine", "azurerm_windows_virtual_machine",
               "azurerm_linux_virtual_machine_scale_set",
               "azurerm_orchestrated_virtual_machine_scale_set", "azurerm_virtual_machine",
               "azurerm_kubernetes_cluster_node_pool", "azurerm_kubernetes_cluster")
COMPUTE_TYPES = AWS_TYPES + GCP_TYPES + AZURE_TYPES
MODULE_SOURCES = ("terraform-aws-modules/eks/aws", "terraform-aws-modules/autoscaling/aws",
                  "terraform-google-modules/kubernetes-engine/google")

_MODULE_TEXT = re.compile("|".join(re.escape(m) for m in MODULE_SOURCES))

# A quick text test: does a module mention anything this module could turn into compute?
PREFILTER = re.compile(
    r'resource\s+"(?:' + "|".join(COMPUTE_TYPES) + r')"|eks_managed_node_groups|'
    r"self_managed_node_groups|terraform-aws-modules/(?:eks|autoscaling)/aws|node_pools\s*=|"
    r"karpenter\.k8s\.aws|instance_types?\s*=")


@dataclass
class BootText:
    """A boot script or container spec as Terraform will pass it, with where it is written."""

    text: str
    file: str
    line: int
    key: str
    exact: bool = False  # ``line`` is the text's first line (an inline heredoc body)


@dataclass
class Compute:
    """One place GPUs run: a VM, template, scale set, node group/pool or SageMaker variant."""

    cloud: str
    kind: str
    address: str
    resource: Resource
    file: str
    line: int
    instance_type: Any  # str as written, or Unknown
    type_line: int
    spec: InstanceSpec | None = None
    gpu: str | None = None
    gpu_count: int | None = None
    nodes: int | None = None
    spot: bool | None = None
    spot_line: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    boot: list[BootText] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    gke: bool = False
    scheduling: dict[str, Any] = field(default_factory=dict)
    scheduling_line: int = 0
    accelerator_types: list[tuple[Any, int]] = field(default_factory=list)
    alternatives: list[str] = field(default_factory=list)

    @property
    def has_gpus(self) -> bool:
        return bool(self.gpu_count) and self.gpu_count is not None and self.gpu_count > 0

    @property
    def type_name(self) -> str:
        return self.instance_type if isinstance(self.instance_type, str) else "(unknown)"


# --- instance catalog


# --- finding compute


def find_compute(ev: Evaluation) -> list[Compute]:
    """Every compute resource of the module (GPU or not yet known); caller filters on GPUs."""
    found: list[Compute] = []
    for res in ev.resources(COMPUTE_TYPES):
        found.extend(_from_resource(ev, res))
    for call in ev.module_calls(_MODULE_TEXT):
        found.extend(_from_module(ev, call))
    _link_autoscaling(ev, found)
    return found


def _from_resource(ev: Evaluation, res: Resource) -> Iterator[Compute]:
    reader = _READERS.get(res.type)
    if reader is not None:
        yield from reader(ev, res)


def _first(value: Any) -> dict[str, Any]:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return value if isinstance(value, dict) else {}


def _text_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        text = as_text(v)
        if text is not None:
            out[str(k)] = text
    return out


def _boot(res: Resource, *keys: str) -> list[BootText]:
    out = []
    for key in keys:
        value = res.values.get(key)
        if isinstance(value, str) and value.strip():
            attr = res.block.attributes.get(key)
            body = _heredoc_line(attr.node) if attr is not None else None
            out.append(BootText(value, res.file, body or res.line_of(key), key, body is not None))
    return out


def _heredoc_line(node: Any) -> int | None:
    """First body line of a heredoc written inline in an attribute (``<<-EOT`` + 1)."""
    stack = [node]
    while stack:
        current = stack.pop()
        name = current.lark_name() if hasattr(current, "lark_name") else ""
        if name in ("heredoc_template", "heredoc_template_trim"):
            line = getattr(getattr(current, "_meta", None), "line", None)
            return int(line) + 1 if line else None
        if name in ("identifier", "get_attr_expr_term", "index_expr_term"):
            return None  # a reference: the text is written elsewhere
        stack.extend(c for c in getattr(current, "children", []) or [] if c is not None)
    return None


def _new(cloud: str, kind: str, res: Resource, type_value: Any, type_key: str,
         address: str | None = None, line: int | None = None) -> Compute:
    compute = Compute(cloud=cloud, kind=kind, address=address or res.address, resource=res,
                      file=res.file, line=line or res.line, instance_type=type_value,
                      type_line=line or res.line_of(type_key))
    _apply_spec(compute)
    return compute


def _apply_spec(compute: Compute) -> None:
    if isinstance(compute.instance_type, str) and "${" not in compute.instance_type:
        spec = lookup(compute.cloud, compute.instance_type)
        compute.spec = spec
        if spec is not None:
            compute.gpu = spec.gpu
            compute.gpu_count = spec.gpu_count if spec.gpu else 0


def _aws_instance(ev: Evaluation, res: Resource) -> Iterator[Compute]:
    c = _new("aws", "vm", res, res.values.get("instance_type"), "instance_type")
    market = _first(res.values.get("instance_market_options"))
    c.spot = res.type == "aws_spot_instance_request" or _market_spot(market)
    c.spot_line = res.line_of("instance_market_options")
    c.labels = _text_map(res.values.get("tags"))
    c.boot = _boot(res, "user_data", "user_data_base64")
    c.nodes = 1
    yield c


def _market_spot(market: dict[str, Any]) -> bool | None:
    kind = market.get("market_type")
    if isinstance(kind, Unknown):
        return None
    return isinstance(kind, str) and kind.lower() == "spot"


def _aws_launch_template(ev: Evaluation, res: Resource) -> Iterator[Compute]:
    c = _new("aws", "template", res, res.values.get("instance_type"), "instance_type")
    c.spot = _market_spot(_first(res.values.get("instance_market_options")))
    c.spot_line = res.line_of("instance_market_options")
    c.labels = _text_map(res.values.get("tags"))
    for spec in res.values.get("tag_specifications") or []:
        if isinstance(spec, dict):
            c.labels.update(_text_map(spec.get("tags")))
    c.boot = _boot(res, "user_data")
    if res.type == "aws_launch_configuration":
        c.spot = "spot_price" in res.values or c.spot
        c.spot_line = res.line_of("spot_price")
    yield c


def _aws_asg(ev: Evaluation, res: Resource) -> Iterator[Compute]:
    policy = _first(res.values.get("mixed_instances_policy"))
    template = _first(policy.get("launch_template"))
    overrides = [o for o in (template.get("override") or []) if isinstance(o, dict)]
    types = [o.get("instance_type") for o in overrides]
    nodes = _nodes(res.values, "desired_capacity", "min_size")
    if not types:
        return  # the launch template it names is the compute; linked in _link_autoscaling
    c = _new("aws", "scale-set", res, types[0], "mixed_instances_policy")
    c.alternatives = [t for t in types[1:] if isinstance(t, str)]
    dist = _first(policy.get("instances_distribution"))
    c.spot = _asg_spot(dist)
    c.spot_line = res.line_of("mixed_instances_policy")
    c.nodes = nodes
    c.labels = {str(t.get("key")): str(t.get("value")) for t in res.values.get("tag") or []
                if isinstance(t, dict) and isinstance(t.get("key"), str)}
    yield c


def _asg_spot(dist: dict[str, Any]) -> bool | None:
    base = dist.get("on_demand_base_capacity", 0)
    above = dist.get("on_demand_percentage_above_base_capacity", 100)
    if is_unknown(above) or is_unknown(base):
        return None
    percent = as_int(above)
    return percent is not None and percent < 100


def _nodes(values: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        if key in values:
            return as_int(values[key])
    return None


def _aws_eks_node_group(ev: Evaluation, res: Resource) -> Iterator[Compute]:
    types = res.values.get("instance_types")
    first = types[0] if isinstance(types, list) and types else (
        types if is_unknown(types) else None)
    if first is None:
        return
    c = _new("aws", "node-group", res, first, "instance_types")
    c.alternatives = [t for t in (types[1:] if isinstance(types, list) else [])
                      if isinstance(t, str)]
    capacity = res.values.get("capacity_type")
    c.spot = None if is_unknown(capacity) else (isinstance(capacity, str)
                                               and capacity.upper() == "SPOT")
    c.spot_line = res.line_of("capacity_type")
    c.nodes = _nodes(_first(res.values.get("scaling_config")), "desired_size", "min_size")
    c.labels = {**_text_map(res.values.get("tags")), **_text_map(res.values.get("labels"))}
    yield c


def _sagemaker(ev: Evaluation, res: Resource) -> Iterator[Compute]:
    variants = res.values.get("production_variants")
    for i, variant in enumerate(variants if isinstance(variants, list) else []):
        if not isinstance(variant, dict) or "instance_type" not in variant:
            continue
        c = _new("aws", "sagemaker", res, variant.get("instance_type"), "production_variants",
                 address=f"{res.address}.production_variants[{i}]")
        c.nodes = as_int(variant.get("initial_instance_count"))
        c.spot = False
        c.labels = _text_map(res.values.get("tags"))
        c.metadata = {"model_name": variant.get("model_name")}
        yield c


def _gcp_instance(ev: Evaluation, res: Resource) -> Iterator[Compute]:
    c = _new("gcp", "vm" if res.type == "google_compute_instance" else "template", res,
             res.values.get("machine_type"), "machine_type")
    _gcp_accelerators(c, res.values.get("guest_accelerator"))
    c.scheduling = _first(res.values.get("scheduling"))
    c.scheduling_line = res.line_of("scheduling")
    c.spot = _gcp_spot(c.scheduling)
    c.spot_line = c.scheduling_line
    c.labels = _text_map(res.values.get("labels"))
    metadata = res.values.get("metadata")
    c.metadata = dict(metadata) if isinstance(metadata, dict) else {}
    c.boot = _boot(res, "metadata_startup_script")
    for key in ("startup-script", "user-data"):
        value = c.metadata.get(key)
        if isinstance(value, str):
            c.boot.append(BootText(value, res.file, res.line_of("metadata"), f"metadata.{key}"))
    c.nodes = 1
    yield c


def _gcp_spot(values: Mapping[str, Any]) -> bool | None:
    preemptible = values.get("preemptible", False)
    model = values.get("provisioning_model", "STANDARD")
    spot = values.get("spot", False)
    if any(is_unknown(v) for v in (preemptible, model, spot)):
        return None
    return bool(as_bool(preemptible)) or bool(as_bool(spot)) or (
        isinstance(model, str) and model.upper() == "SPOT")


def _gcp_accelerators(c: Compute, value: Any) -> None:
    """GPUs attached with guest_accelerator; accelerator-optimized types keep their own."""
    accelerators = value if isinstance(value, list) else []
    total: int | None = 0
    gpu: str | None = None
    for acc in accelerators:
        if not isinstance(acc, dict):
            continue
        count = as_int(acc.get("count", 1))
        c.accelerator_types.append((acc.get("type"), count or 0))
        name = acc.get("type")
        if isinstance(name, str) and "${" not in name:
            gpu = gcp_accelerator_gpu(name.rsplit("/", 1)[-1]) or gpu
        if count is None or total is None:
            total = None
        else:
            total += count
    if is_unknown(value):
        c.accelerator_types.append((value, 0))
    if c.spec is not None and c.spec.gpu:
        return  # A2/A3/G2 carry their GPUs; a guest_accelerator block only repeats them
    if accelerators:
        c.gpu = gpu
        c.gpu_count = total


def _gke_node_pool(ev: Evaluation, res: Resource) -> Iterator[Compute]:
    configs: list[tuple[dict[str, Any], Resource, str, int]] = []
    if res.type == "google_container_node_pool":
        configs.append((_first(res.values.get("node_config")), res, res.address, res.line))
    else:
        for i, pool in enumerate(res.values.get("node_pool") or []):
            if isinstance(pool, dict):
                configs.append((_first(pool.get("node_config")), res,
                                f"{res.address}.node_pool[{i}]", res.line_of("node_pool")))
    for config, owner, address, line in configs:
        if "machine_type" not in config:
            continue
        c = _new("gcp", "node-pool", owner, config.get("machine_type"), "node_config",
                 address=address, line=line)
        c.gke = True
        _gcp_accelerators(c, config.get("guest_accelerator"))
        c.spot = _gcp_spot(config)
        c.spot_line = line
        c.labels = _text_map(config.get("labels"))
        c.nodes = _nodes(owner.values, "node_count", "initial_node_count")
        yield c


def _azure_vm(ev: Evaluation, res: Resource) -> Iterator[Compute]:
    key = {"azurerm_virtual_machine": "vm_size",
           "azurerm_linux_virtual_machine_scale_set": "sku",
           "azurerm_orchestrated_virtual_machine_scale_set": "sku_name",
           "azurerm_kubernetes_cluster_node_pool": "vm_size"}.get(res.type, "size")
    values, owner_line = res.values, res.line_of(key)
    if res.type == "azurerm_kubernetes_cluster":
        values = _first(res.values.get("default_node_pool"))
        key, owner_line = "vm_size", res.line_of("default_node_pool")
    if key not in values:
        return
    kind = "node-pool" if "kubernetes" in res.type else (
        "scale-set" if "scale_set" in res.type else "vm")
    c = _new("azure", kind, res, values.get(key), key, line=owner_line)
    priority = values.get("priority", "Regular")
    c.spot = None if is_unknown(priority) else (isinstance(priority, str)
                                               and priority.lower() == "spot")
    c.spot_line = res.line_of("priority")
    c.labels = {**_text_map(res.values.get("tags")), **_text_map(values.get("node_labels"))}
    c.boot = _boot(res, "custom_data", "user_data")
    c.nodes = _nodes(values, "instances", "node_count", "min_count") if kind != "vm" else 1
    yield c


_READERS = {
    "aws_instance": _aws_instance,
    "aws_spot_instance_request": _aws_instance,
    "aws_launch_template": _aws_launch_template,
    "aws_launch_configuration": _aws_launch_template,
    "aws_autoscaling_group": _aws_asg,
    "aws_eks_node_group": _aws_eks_node_group,
    "aws_sagemaker_endpoint_configuration": _sagemaker,
    "google_compute_instance": _gcp_instance,
    "google_compute_instance_template": _gcp_instance,
    "google_compute_region_instance_template": _gcp_instance,
    "google_container_node_pool": _gke_node_pool,
    "google_container_cluster": _gke_node_pool,
    **{t: _azure_vm for t in AZURE_TYPES},
}


def _link_autoscaling(ev: Evaluation, found: list[Compute]) -> None:
    """Give a launch template the node count and spot setting of the ASG that uses it."""
    templates = {c.resource.name: c for c in found if c.resource.type == "aws_launch_template"}
    if not templates:
        return
    for res in ev.resources(("aws_autoscaling_group",)):
        spec = _first(res.values.get("launch_template"))
        ref = spec.get("id") if spec else None
        if ref is None:
            ref = spec.get("name") if spec else None
        source = ref.source if isinstance(ref, Unknown) else ""
        match = re.search(r"aws_launch_template\.([\w-]+)", source)
        if match and match.group(1) in templates:
            template = templates[match.group(1)]
            template.nodes = _nodes(res.values, "desired_capacity", "min_size")


# --- module calls: terraform-aws-modules and terraform-google-modules


def _from_module(ev: Evaluation, call: Resource) -> Iterator[Compute]:
    source = call.values.get("source")
    if not isinstance(source, str):
        return
    src = source.lower()
    if src.startswith("terraform-aws-modules/eks/aws"):
        if "modules/eks-managed-node-group" in src or "modules/self-managed-node-group" in src:
            yield from _eks_group(call, call.values, call.address, call.line, {})
            return
        defaults = call.values.get("eks_managed_node_group_defaults")
        for key in ("eks_managed_node_groups", "self_managed_node_groups"):
            groups = call.values.get(key)
            if not isinstance(groups, dict):
                continue
            lines = _object_lines(ev, call, key)
            for name, group in groups.items():
                if isinstance(group, dict):
                    yield from _eks_group(call, group, f'{call.address}.{key}["{name}"]',
                                          lines.get(name, call.line_of(key)),
                                          defaults if isinstance(defaults, dict) else {})
    elif src.startswith("terraform-aws-modules/autoscaling/aws"):
        yield from _autoscaling_module(call)
    elif src.startswith("terraform-google-modules/kubernetes-engine/google"):
        yield from _gke_module(call)


def _object_lines(ev: Evaluation, call: Resource, key: str) -> dict[str, int]:
    """Line of each key of a literal object attribute (node group names in a module call)."""
    attr = call.block.attributes.get(key)
    if attr is None:
        return {}
    node = attr.node
    inner = getattr(node, "expression", node)
    if getattr(inner, "lark_name", lambda: "")() != "object":
        return {}
    from llmplan.terraform.syntax import object_key_literal

    out: dict[str, int] = {}
    for element in inner.elements:
        name = object_key_literal(element.key)
        if name is not None:
            out[name] = int(getattr(element._meta, "line", 0) or call.line)
    return out


def _eks_group(call: Resource, group: Mapping[str, Any], address: str, line: int,
               defaults: Mapping[str, Any]) -> Iterator[Compute]:
    merged = {**defaults, **group}
    types = merged.get("instance_types")
    first = types[0] if isinstance(types, list) and types else merged.get("instance_type")
    if first is None:
        return
    c = _new("aws", "node-group", call, first, "instance_types", address=address, line=line)
    c.alternatives = [t for t in (types[1:] if isinstance(types, list) else [])
                      if isinstance(t, str)]
    capacity = merged.get("capacity_type", "ON_DEMAND")
    c.spot = None if is_unknown(capacity) else (isinstance(capacity, str)
                                               and capacity.upper() == "SPOT")
    c.spot_line = line
    c.nodes = _nodes(merged, "desired_size", "min_size")
    c.labels = {**_text_map(merged.get("tags")), **_text_map(merged.get("labels"))}
    yield c


def _autoscaling_module(call: Resource) -> Iterator[Compute]:
    values = call.values
    if "instance_type" not in values:
        return
    c = _new("aws", "scale-set", call, values.get("instance_type"), "instance_type")
    c.nodes = _nodes(values, "desired_capacity", "min_size")
    c.spot = _market_spot(_first(values.get("instance_market_options")))
    policy = values.get("mixed_instances_policy")
    if as_bool(values.get("use_mixed_instances_policy")) and isinstance(policy, dict):
        c.spot = _asg_spot(_first(policy.get("instances_distribution")))
    c.labels = _text_map(values.get("tags"))
    user_data = values.get("user_data")
    if isinstance(user_data, str):
        c.boot.append(BootText(user_data, call.file, call.line_of("user_data"), "user_data"))
    yield c


def _gke_module(call: Resource) -> Iterator[Compute]:
    pools = call.values.get("node_pools")
    for i, pool in enumerate(pools if isinstance(pools, list) else []):
        if not isinstance(pool, dict) or "machine_type" not in pool:
            continue
        c = _new("gcp", "node-pool", call, pool.get("machine_type"), "node_pools",
                 address=f"{call.address}.node_pools[{i}]", line=call.line_of("node_pools"))
        c.gke = True
        if "accelerator_type" in pool:
            _gcp_accelerators(c, [{"type": pool.get("accelerator_type"),
                                   "count": pool.get("accelerator_count", 1)}])
        c.spot = _gcp_spot(pool)
        c.nodes = _nodes(pool, "node_count", "min_count", "initial_node_count")
        yield c
