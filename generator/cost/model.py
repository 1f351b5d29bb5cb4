"""What Terraform compute costs per month: resources -> (instance type, count, tier, region) -> $.

One small function per Terraform resource type (as Infracost does) turns a resource's values into
:class:`Usage` parts; the catalogs price them. Unlike Infracost it prices the tiers the source
asks for: AWS ``instance_market_options`` spot on plain instances, GCP ``provisioning_model =
"SPOT"``, Azure ``priority = "Spot"``, and capacity reservations (billed at the on-demand rate
whether instances use them or not). What cannot be priced is a line with a reason, never $0.

Resources come from a Terraform folder (through the shared reader :mod:`llmplan.terraform.module`, with
``count``/``for_each`` expanded where static and local modules followed) or from a plan JSON
(:mod:`llmplan.terraform.plan_json`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmplan.providers.base import HOURS_PER_MONTH, Catalog, Offering
from llmplan.terraform.plan_json import ResourceValues, UnknownAfterApply

if TYPE_CHECKING:
    from llmplan.terraform.module import Evaluation, Resource

MAX_MODULE_DEPTH = 6


# --- value helpers: plan-JSON shaped values, unknowns from either reader


def is_unknown(value: Any) -> bool:
    from llmplan.terraform.values import Unknown

    if isinstance(value, Unknown | UnknownAfterApply):
        return True
    return isinstance(value, str) and "${" in value


def dig(values: Any, *path: str | int) -> Any:
    """``values[a][0][b]`` with missing steps as None (nested blocks are lists of dicts)."""
    current = values
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, list) or len(current) <= step:
                return None
            current = current[step]
        else:
            if not isinstance(current, Mapping):
                return None
            current = current.get(step)
    return current


def shown(value: Any) -> str:
    from llmplan.terraform.values import Unknown

    if isinstance(value, Unknown):
        return value.source or "unknown"
    return str(value)


def _int(value: Any) -> int | None:
    from llmplan.terraform.values import as_int

    return None if value is None or is_unknown(value) else as_int(value)


def _truthy(value: Any) -> bool:
    from llmplan.terraform.values import as_bool

    return not is_unknown(value) and as_bool(value) is True


def _lower(value: Any) -> str:
    return value.lower() if isinstance(value, str) and not is_unknown(value) else ""


# --- what a resource uses


@dataclass(frozen=True)
class Usage:
    """Some instances of one type in one tier; ``label`` names the tier as shown."""

    cloud: str
    instance_type: str
    count: float
    tier: str = "on-demand"
    region: str | None = None
    label: str = ""
    covered_by: str = ""  # runs inside this capacity reservation: already billed there


class Unpriced(Exception):
    """A resource that cannot be priced, and why."""


@dataclass
class Context:
    """What a mapping function may look at besides its own resource."""

    resources: Mapping[str, ResourceValues]  # by address
    default_regions: Mapping[str, str]

    def referenced(self, r: ResourceValues, types: Sequence[str],
                   by_values: Sequence[Any] = ()) -> ResourceValues | None:
        """The resource of ``types`` that ``r`` refers to (by reference, id, name or link)."""
        for address in sorted(r.references):
            for candidate in self._instances(address):
                if candidate.type in types:
                    return candidate
        wanted = {str(v) for v in by_values if isinstance(v, str) and not is_unknown(v)}
        if wanted:
            for candidate in self.resources.values():
                if candidate.type not in types:
                    continue
                keys = {candidate.values.get(k) for k in ("id", "name", "self_link")}
                names = {str(k).rsplit("/", 1)[-1] for k in keys if isinstance(k, str)}
                if wanted & {str(k) for k in keys if isinstance(k, str)} or \
                        {w.rsplit("/", 1)[-1] for w in wanted} & names:
                    return candidate
        return None

    def _instances(self, address: str) -> list[ResourceValues]:
        exact = self.resources.get(address)
        if exact is not None:
            return [exact]
        return [r for a, r in self.resources.items() if a.startswith(address + "[")]

    def region(self, cloud: str, *candidates: Any) -> str | None:
        for value in candidates:
            if isinstance(value, str) and value and not is_unknown(value):
                return normalize_region(cloud, value)
        return self.default_regions.get(cloud)


_AWS_AZ = re.compile(r"^([a-z]{2}(?:-gov)?-[a-z]+-\d+)[a-z]$")
_GCP_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")


def normalize_region(cloud: str, value: str) -> str:
    """Zones and display names to the catalog's region ids (``us-east-1a`` -> ``us-east-1``)."""
    text = value.strip()
    if cloud == "aws":
        match = _AWS_AZ.match(text)
        return match.group(1) if match else text
    if cloud == "gcp":
        match = _GCP_ZONE.match(text)
        return match.group(1) if match else text
    if cloud == "azure":
        return text.replace(" ", "").lower()
    return text


def _require(value: Any, what: str) -> str:
    if value is None or value == "":
        raise Unpriced(f"no {what} set")
    if is_unknown(value):
        raise Unpriced(f"{what} is not known statically ({shown(value)})")
    return str(value)


def _count(value: Any, what: str) -> int:
    if value is None:
        raise Unpriced(f"no {what} set")
    number = _int(value)
    if number is None:
        raise Unpriced(f"{what} is not known statically ({shown(value)})")
    return number


Mapper = Callable[[ResourceValues, Context], list[Usage]]
MAPPERS: dict[str, Mapper] = {}
FREE_TYPES = frozenset({
    "aws_launch_template", "aws_launch_configuration", "google_compute_instance_template",
    "google_compute_region_instance_template",
})
NOT_PRICED: dict[str, str] = {
    "aws_ec2_capacity_block_reservation":
        "capacity blocks are sold at auction-style prices that no catalog lists",
    "aws_savingsplans_savings_plan": "a savings plan commitment is not an instance price",
    "azurerm_windows_virtual_machine":
        "Windows licence prices are not in the catalog (Linux prices only)",
    "azurerm_windows_virtual_machine_scale_set":
        "Windows licence prices are not in the catalog (Linux prices only)",
    "google_compute_region_commitment": "committed-use contracts are not priced",
}


def mapper(*types: str) -> Callable[[Mapper], Mapper]:
    def register(fn: Mapper) -> Mapper:
        for t in types:
            MAPPERS[t] = fn
        return fn
    return register


def priced_types() -> frozenset[str]:
    return frozenset(MAPPERS) | frozenset(NOT_PRICED)


# --- AWS


def _aws_template(r: ResourceValues, ctx: Context, spec: Any) -> ResourceValues | None:
    spec = spec if isinstance(spec, Mapping) else {}
    return ctx.referenced(r, ("aws_launch_template", "aws_launch_configuration"),
                          [spec.get("id"), spec.get("name"), spec.get("launch_template_id"),
                           spec.get("launch_template_name")])


def _aws_market(values: Mapping[str, Any]) -> str:
    if _lower(dig(values, "instance_market_options", 0, "market_type")) == "spot":
        return "spot"
    if values.get("spot_price") not in (None, "") and not is_unknown(values.get("spot_price")):
        return "spot"  # aws_launch_configuration
    return "on-demand"


@mapper("aws_instance", "aws_spot_instance_request")
def _aws_instance(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    template = _aws_template(r, ctx, dig(values, "launch_template", 0)) \
        if values.get("launch_template") else None
    itype = values.get("instance_type")
    if itype in (None, "") and template is not None:
        itype = template.values.get("instance_type")
    tier = "spot" if r.type == "aws_spot_instance_request" else _aws_market(values)
    if tier == "on-demand" and template is not None:
        tier = _aws_market(template.values)
    region = ctx.region("aws", values.get("availability_zone"), r.provider_region)
    covered = ""
    # The reservation may be named on the instance or on its launch template.
    for source in (r, template):
        if source is None or covered:
            continue
        target = dig(source.values, "capacity_reservation_specification", 0,
                     "capacity_reservation_target", 0, "capacity_reservation_id")
        if target is not None:
            found = ctx.referenced(source, ("aws_ec2_capacity_reservation",), [target])
            covered = found.address if found is not None else ""
    return [Usage("aws", _require(itype, "instance_type"), 1, tier, region,
                  covered_by=covered)]


@mapper("aws_autoscaling_group")
def _aws_asg(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    desired = values.get("desired_capacity")
    count = _count(desired if desired is not None else values.get("min_size"),
                   "desired_capacity / min_size")
    region = ctx.region("aws", r.provider_region)
    mixed = dig(values, "mixed_instances_policy", 0)
    if isinstance(mixed, Mapping):
        lt = dig(mixed, "launch_template", 0)
        template = _aws_template(r, ctx, dig(lt, "launch_template_specification", 0))
        itype = dig(lt, "override", 0, "instance_type")
        if itype in (None, "") and template is not None:
            itype = template.values.get("instance_type")
        itype = _require(itype, "instance type (override or launch template)")
        dist = dig(mixed, "instances_distribution", 0) or {}
        base = _int(dist.get("on_demand_base_capacity"))
        pct = _int(dist.get("on_demand_percentage_above_base_capacity"))
        base = 0 if base is None else base
        pct = 100 if pct is None else pct
        on_demand = min(count, base) + math.ceil(max(count - base, 0) * pct / 100)
        spot = count - on_demand
        parts = [Usage("aws", itype, on_demand, "on-demand", region)] if on_demand else []
        parts += [Usage("aws", itype, spot, "spot", region)] if spot else []
        return parts or [Usage("aws", itype, 0, "on-demand", region)]
    spec = dig(values, "launch_template", 0)
    template = _aws_template(r, ctx, spec)
    if template is None and values.get("launch_configuration"):
        template = ctx.referenced(r, ("aws_launch_configuration",),
                                  [values.get("launch_configuration")])
    if template is None:
        raise Unpriced("its launch template is not in this configuration")
    itype = _require(template.values.get("instance_type"), f"{template.address}.instance_type")
    return [Usage("aws", itype, count, _aws_market(template.values), region)]


@mapper("aws_eks_node_group")
def _aws_eks_node_group(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    count = _count(dig(values, "scaling_config", 0, "desired_size"),
                   "scaling_config.desired_size")
    types = values.get("instance_types")
    itype: Any = types[0] if isinstance(types, list) and types else None
    if itype is None and values.get("launch_template"):
        template = _aws_template(r, ctx, dig(values, "launch_template", 0))
        itype = template.values.get("instance_type") if template is not None else None
    if itype is None and types is None:
        itype = "t3.medium"  # the EKS default
    tier = "spot" if _lower(values.get("capacity_type")) == "spot" else "on-demand"
    return [Usage("aws", _require(itype, "instance_types"), count, tier,
                  ctx.region("aws", r.provider_region))]


@mapper("aws_ec2_capacity_reservation")
def _aws_capacity_reservation(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    count = _count(values.get("instance_count"), "instance_count")
    region = ctx.region("aws", values.get("availability_zone"), r.provider_region)
    return [Usage("aws", _require(values.get("instance_type"), "instance_type"), count,
                  "on-demand", region, label="capacity-reservation")]


# --- Google Cloud


def _gcp_spot(scheduling: Any) -> bool:
    return _lower(dig(scheduling, "provisioning_model")) == "spot" or _truthy(
        dig(scheduling, "preemptible"))


def _machine_type(value: Any) -> Any:
    if isinstance(value, str) and "/" in value and not is_unknown(value):
        return value.rsplit("/", 1)[-1]
    return value


@mapper("google_compute_instance")
def _gcp_instance(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    tier = "spot" if _gcp_spot(dig(values, "scheduling", 0)) else "on-demand"
    region = ctx.region("gcp", values.get("zone"), r.provider_region)
    return [Usage("gcp", _require(_machine_type(values.get("machine_type")), "machine_type"), 1,
                  tier, region)]


@mapper("google_compute_instance_group_manager", "google_compute_region_instance_group_manager")
def _gcp_group(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    count = _count(values.get("target_size"), "target_size")
    links = [dig(v, "instance_template") for v in values.get("version") or []
             if isinstance(v, Mapping)]
    template = ctx.referenced(r, ("google_compute_instance_template",
                                  "google_compute_region_instance_template"), links)
    if template is None:
        raise Unpriced("its instance template is not in this configuration")
    tv = template.values
    itype = _require(_machine_type(tv.get("machine_type")), f"{template.address}.machine_type")
    tier = "spot" if _gcp_spot(dig(tv, "scheduling", 0)) else "on-demand"
    region = ctx.region("gcp", values.get("zone"), values.get("region"), tv.get("region"),
                        r.provider_region)
    return [Usage("gcp", itype, count, tier, region)]


@mapper("google_container_node_pool")
def _gcp_node_pool(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    config = dig(values, "node_config", 0) or {}
    itype = config.get("machine_type") or "e2-medium"  # the GKE default
    per_zone: Any = values.get("node_count")
    if per_zone is None:
        per_zone = dig(values, "autoscaling", 0, "min_node_count")
    if per_zone is None:
        per_zone = values.get("initial_node_count")
    count = _count(per_zone, "node_count")
    location = values.get("location")
    zones = values.get("node_locations")
    if isinstance(zones, list) and zones and all(isinstance(z, str) for z in zones):
        count *= len(zones)
    elif isinstance(location, str) and not is_unknown(location) and \
            not _GCP_ZONE.match(location):
        count *= 3  # a regional pool: node_count is per zone, three zones by default
    tier = "spot" if _truthy(config.get("spot")) or _truthy(config.get("preemptible")) \
        else "on-demand"
    region = ctx.region("gcp", location, r.provider_region)
    return [Usage("gcp", _require(itype, "node_config.machine_type"), count, tier, region)]


@mapper("google_compute_reservation")
def _gcp_reservation(r: ResourceValues, ctx: Context) -> list[Usage]:
    specific = dig(r.values, "specific_reservation", 0) or {}
    count = _count(specific.get("count"), "specific_reservation.count")
    itype = _machine_type(dig(specific, "instance_properties", 0, "machine_type"))
    region = ctx.region("gcp", r.values.get("zone"), r.provider_region)
    return [Usage("gcp", _require(itype, "instance_properties.machine_type"), count,
                  "on-demand", region, label="capacity-reservation")]


# --- Azure


def _azure_tier(values: Mapping[str, Any]) -> str:
    return "spot" if _lower(values.get("priority")) == "spot" else "on-demand"


@mapper("azurerm_linux_virtual_machine", "azurerm_virtual_machine")
def _azure_vm(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    size = values.get("size") if r.type == "azurerm_linux_virtual_machine" \
        else values.get("vm_size")
    return [Usage("azure", _require(size, "size"), 1, _azure_tier(values),
                  ctx.region("azure", values.get("location")))]


@mapper("azurerm_linux_virtual_machine_scale_set", "azurerm_orchestrated_virtual_machine_scale_set")
def _azure_scale_set(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    sku = values.get("sku") if "sku" in values else values.get("sku_name")
    count = _count(values.get("instances"), "instances")
    return [Usage("azure", _require(sku, "sku"), count, _azure_tier(values),
                  ctx.region("azure", values.get("location")))]


@mapper("azurerm_kubernetes_cluster_node_pool")
def _azure_node_pool(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    nodes = values.get("node_count")
    count = _count(nodes if nodes is not None else values.get("min_count"), "node_count")
    cluster = ctx.referenced(r, ("azurerm_kubernetes_cluster",))
    location = cluster.values.get("location") if cluster is not None else None
    return [Usage("azure", _require(values.get("vm_size"), "vm_size"), count,
                  _azure_tier(values), ctx.region("azure", location))]


@mapper("azurerm_kubernetes_cluster")
def _azure_cluster(r: ResourceValues, ctx: Context) -> list[Usage]:
    pool = dig(r.values, "default_node_pool", 0) or {}
    nodes = pool.get("node_count")
    count = _count(nodes if nodes is not None else pool.get("min_count"),
                   "default_node_pool.node_count")
    return [Usage("azure", _require(pool.get("vm_size"), "default_node_pool.vm_size"), count,
                  "on-demand", ctx.region("azure", r.values.get("location")))]


# --- pricing


@dataclass
class CostLine:
    """One priced (or unpriceable) resource instance."""

    address: str
    type: str
    cloud: str = ""
    region: str | None = None
    instance_type: str | None = None
    count: float = 0
    tier: str = ""
    hourly_usd: float | None = None  # all its instances together
    monthly_usd: float | None = None
    unpriced: str = ""  # why it has no price; empty when priced
    notes: list[str] = field(default_factory=list)
    price_source: str = ""
    as_of: str = ""
    gpu: str = ""
    gpu_count: int = 0  # per instance
    file: str = ""
    line: int = 0
    capacity: Capacity | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address, "type": self.type, "cloud": self.cloud,
            "region": self.region, "instance_type": self.instance_type, "count": self.count,
            "tier": self.tier, "gpu": self.gpu or None, "gpu_count": self.gpu_count,
            "hourly": _round(self.hourly_usd), "monthly": _round(self.monthly_usd),
            "unpriced": self.unpriced or None, "notes": self.notes,
            "price_source": self.price_source or None, "as_of": self.as_of or None,
            "capacity": None if self.capacity is None else self.capacity.to_json(),
        }


@dataclass(frozen=True)
class Capacity:
    """Max concurrent requests the GPUs of a resource hold for the model they serve."""

    model: str
    context: int
    max_concurrency: float  # all instances together
    replicas: int

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "context": self.context,
                "max_concurrency": round(self.max_concurrency, 1), "replicas": self.replicas}


def capacity_of(r: ResourceValues, ctx: Context, line: CostLine) -> Capacity | None:
    """What the boot script serves, sized on this resource's GPUs (None when not known)."""
    if not line.gpu or line.gpu_count <= 0 or line.count <= 0:
        return None
    try:
        return _capacity(r, ctx, line)
    except Exception:  # noqa: BLE001 - the capacity note is a bonus; a cost line never fails
        return None


def _capacity(r: ResourceValues, ctx: Context, line: CostLine) -> Capacity | None:
    from llmplan.serving.served import resolve_model
    from llmplan.serving.scan import scan_value
    from llmplan.engines.profiles import get_engine
    from llmplan.gpus import get_gpu
    from llmplan.sizing.memory import size_on
    from llmplan.workload import Workload
    from llmplan.terraform.values import as_int

    sources = [r] + [ctx.resources[a] for a in sorted(r.references) if a in ctx.resources]
    served = None
    for source in sources:
        found = scan_value(dict(source.values), source.file, source.line, source.address)
        served = next((s for s in found.served if s.engine and s.model), None)
        if served is not None:
            break
    if served is None or served.engine is None:
        return None
    arch, _ = resolve_model(served.model)
    if arch is None:
        return None
    tp = as_int(served.tp) if served.tp is not None else line.gpu_count
    pp = as_int(served.pp) if served.pp is not None else 1
    context = as_int(served.context) if served.context is not None \
        else arch.max_position_embeddings
    if not tp or not pp or not context or tp * pp > line.gpu_count:
        return None
    workload = Workload(model=arch.model_id, context=context, concurrency=1,
                        engine=served.engine)
    result = size_on(arch, workload, get_gpu(line.gpu), get_engine(served.engine), tp, pp)
    replicas = line.gpu_count // (tp * pp)
    per_instance = max(result.max_concurrency, 0.0) * replicas if result.fits else 0.0
    return Capacity(arch.model_id, context, per_instance * line.count, int(replicas * line.count))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class PriceBook:
    """Catalog offerings by (cloud, region, instance type), types case-insensitive."""

    def __init__(self, catalogs: Iterable[Catalog]) -> None:
        self.catalogs = {c.cloud: c for c in catalogs}
        self._by_key: dict[tuple[str, str, str], Offering] = {}
        self._types: dict[tuple[str, str], set[str]] = {}
        for catalog in self.catalogs.values():
            for o in catalog.offerings:
                self._by_key[(o.cloud, o.region, o.instance_type.lower())] = o
                self._types.setdefault((o.cloud, o.instance_type.lower()), set()).add(o.region)

    def regions(self, cloud: str) -> set[str]:
        return {k[1] for k in self._by_key if k[0] == cloud}

    def find(self, usage: Usage) -> Offering:
        itype = usage.instance_type.lower()
        if usage.cloud not in self.catalogs:
            raise Unpriced(f"no {usage.cloud} catalog loaded")
        regions = self._types.get((usage.cloud, itype))
        if not regions:
            raise Unpriced(f"{usage.instance_type} is not in the {usage.cloud} catalog "
                           "(llmplan's catalogs list GPU instance types)")
        if usage.region is None:
            raise Unpriced(f"region not known (set it in the provider block or pass "
                           f"--region {usage.cloud}=REGION)")
        offering = self._by_key.get((usage.cloud, usage.region, itype))
        if offering is None:
            raise Unpriced(f"{usage.instance_type} has no price for {usage.region} in the "
                           f"{usage.cloud} catalog (priced in {', '.join(sorted(regions))})")
        return offering


def price_resources(resources: Sequence[ResourceValues], book: PriceBook,
                    default_regions: Mapping[str, str] | None = None) -> list[CostLine]:
    ctx = Context({r.address: r for r in resources}, dict(default_regions or {}))
    lines: list[CostLine] = []
    for r in resources:
        if r.type in FREE_TYPES:
            continue
        line = CostLine(r.address, r.type, cloud=_cloud_of(r.type), file=r.file, line=r.line)
        if r.type in NOT_PRICED:
            line.unpriced = NOT_PRICED[r.type]
        elif r.type not in MAPPERS:
            continue
        elif r.unknown_count:
            line.unpriced = r.unknown_count
        else:
            try:
                usages = _declared_commitment(r, MAPPERS[r.type](r, ctx), line)
                _price(line, usages, book, r.multiplicity)
            except Unpriced as why:
                line.unpriced = str(why)
        if line.unpriced:
            line.hourly_usd = line.monthly_usd = None
        else:
            line.capacity = capacity_of(r, ctx, line)
        lines.append(line)
    return lines


COMMITMENT_TIERS = ("reserved-1y", "reserved-3y")


def _declared_commitment(r: ResourceValues, usages: list[Usage], line: CostLine) -> list[Usage]:
    """Price on-demand usage at the committed rate its ``llmplan-tier`` tag declares.

    Reserved instances, savings plans and committed-use discounts are bought outside Terraform,
    so nothing in a resource says it is covered; llmplan's generated Terraform tags the tier it
    was planned at, and a user can tag their own resources the same way.
    """
    tags: dict[str, Any] = {}
    for key in ("tags", "labels"):
        value = r.values.get(key)
        if isinstance(value, Mapping):
            tags.update({str(k).lower().replace("_", "-").replace(":", "-"): v
                         for k, v in value.items()})
    tier = str(tags.get("llmplan-tier", "")).strip().lower()
    if tier not in COMMITMENT_TIERS:
        return usages
    out = []
    for usage in usages:
        if usage.tier == "on-demand":
            usage = Usage(usage.cloud, usage.instance_type, usage.count, tier, usage.region,
                          usage.label, usage.covered_by)
            line.notes.append(f"priced at {tier}: the commitment its llmplan-tier tag declares "
                              "(bought outside Terraform)")
        out.append(usage)
    return out


def _cloud_of(type_: str) -> str:
    return {"aws": "aws", "google": "gcp", "azurerm": "azure"}.get(type_.split("_", 1)[0], "")


def _price(line: CostLine, usages: list[Usage], book: PriceBook, multiplicity: int) -> None:
    first = usages[0]
    line.instance_type = first.instance_type
    line.region = first.region
    line.count = sum(u.count for u in usages) * multiplicity
    labels = [u.label or u.tier for u in usages]
    line.tier = "+".join(dict.fromkeys(labels))
    if len(usages) > 1:
        line.notes.append(", ".join(f"{u.count * multiplicity:g} {u.tier}" for u in usages))
    hourly = 0.0
    for usage in usages:
        if usage.region is None:
            usage = Usage(usage.cloud, usage.instance_type, usage.count, usage.tier,
                          None, usage.label, usage.covered_by)
        offering = book.find(usage)
        line.region = offering.region
        line.gpu, line.gpu_count = offering.gpu, offering.gpu_count
        if usage.label == "capacity-reservation":
            rate = "the on-demand rate" if usage.tier == "on-demand" else f"the {usage.tier} rate"
            line.notes.append(f"billed at {rate} whether instances use it or not")
        if usage.covered_by:
            line.tier = "in-capacity-reservation"
            line.notes.append(f"runs in {usage.covered_by}, billed there")
            continue
        price = offering.price(usage.tier)
        if price is None:
            reason = offering.unpriced.get(usage.tier, "")
            raise Unpriced(f"no {usage.tier} price for {usage.instance_type} in "
                           f"{offering.region}" + (f": {reason}" if reason else ""))
        hourly += price.hourly_usd * usage.count * multiplicity
        line.price_source, line.as_of = price.source, price.as_of
    line.hourly_usd = hourly
    line.monthly_usd = hourly * HOURS_PER_MONTH


# --- reading Terraform folders through the shared reader


@dataclass
class Loaded:
    """Resources read from one side (a folder or a plan), with reading problems."""

    resources: list[ResourceValues]
    warnings: list[str] = field(default_factory=list)
    label: str = ""


_PROVIDER_OF = {"aws": "aws", "google": "google", "azurerm": "azurerm"}
_REFERENCE = re.compile(r"(?<![\w.])([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][\w-]*)")


def read_folder(path: str | Path, var_files: Sequence[Path] = (),
                overrides: Mapping[str, Any] | None = None) -> Loaded:
    from llmplan.terraform.module import Evaluation, Module

    directory = Path(path)
    if directory.is_file():
        directory = directory.parent
    loaded = Loaded([], label=str(path))
    evaluation = Evaluation(Module(directory), var_files, overrides)
    _read_module(evaluation, "", {}, loaded, 0)
    loaded.warnings += [f"{f.file}:{f.line}: {f.message}" for f in evaluation.failures]
    return loaded


def _read_module(evaluation: Evaluation, prefix: str, inherited: Mapping[str, Any], loaded: Loaded,
                 depth: int) -> None:
    from llmplan.terraform.module import Evaluation, Module

    module = evaluation.module
    regions = dict(inherited)
    for provider in ("aws", "google"):
        for block in module.provider_blocks(provider):
            alias = evaluation.value(block.attributes["alias"].node) \
                if "alias" in block.attributes else None
            key = f"{provider}.{alias}" if isinstance(alias, str) else provider
            for attr in ("region", "zone"):
                value = evaluation.value(block.attributes[attr].node) \
                    if attr in block.attributes else None
                if isinstance(value, str) and not is_unknown(value):
                    regions[key] = value
                    break
    wanted = sorted(priced_types() | FREE_TYPES | {"azurerm_capacity_reservation_group"})
    for path in module.files:
        failure = module.parsed(path).failure
        if failure is not None:
            loaded.warnings.append(f"{failure.file}:{failure.line}: {failure.message}")
    records = evaluation.resources(wanted)
    for record in records:
        provider = _provider_key(record, evaluation)
        multiplicity, unknown, address = 1, "", record.address
        if not record.instances_known:
            unknown = _why_count_unknown(record, evaluation)
            if unknown.startswith("="):
                # More instances than the reader expands: the first record stands for all.
                if record.key != 0:
                    continue
                multiplicity, unknown = int(unknown[1:]), ""
                address = address.rsplit("[", 1)[0] + "[*]"
        loaded.resources.append(ResourceValues(
            address=prefix + address,
            type=record.type,
            name=record.name,
            values=record.values,
            provider_region=regions.get(provider),
            references=frozenset(prefix + ref for ref in _hcl_references(record.values)),
            file=record.file,
            line=record.line,
            multiplicity=multiplicity,
            unknown_count=unknown,
            module=prefix,
        ))
    if depth >= MAX_MODULE_DEPTH:
        return
    for call in evaluation.module_calls():
        source = call.values.get("source")
        if not isinstance(source, str) or not source.startswith(("./", "../")):
            if call.values.get("source") is not None:
                loaded.warnings.append(
                    f"{call.file}:{call.line}: {call.address} (source {shown(source)}) "
                    "not read: only local modules are followed")
            continue
        inputs = {k: v for k, v in call.values.items() if k not in (
            "source", "version", "count", "for_each", "providers", "depends_on")}
        child = Evaluation(Module(module.directory / source, module.root), (), inputs)
        _read_module(child, f"{prefix}{call.address}.", regions, loaded, depth + 1)


def _provider_key(record: Resource, evaluation: Evaluation) -> str:
    prefix = record.type.split("_", 1)[0]
    attr = record.block.attributes.get("provider")
    if attr is not None:
        from llmplan.terraform.module import expression_text

        return str(expression_text(attr)).strip()
    return _PROVIDER_OF.get(prefix, prefix)


def _why_count_unknown(record: Resource, evaluation: Evaluation) -> str:
    """Why the instances are not known, or ``=N`` when ``count`` is known but over the cap."""
    from llmplan.terraform.values import as_int

    attr = record.block.attributes.get("count")
    if attr is not None:
        number = as_int(evaluation.value(attr.node))
        if number is not None:
            return f"={number}"
        from llmplan.terraform.module import expression_text

        return f"count is not known statically ({expression_text(attr)})"
    attr = record.block.attributes.get("for_each")
    if attr is not None:
        from llmplan.terraform.module import expression_text

        return f"for_each is not known statically ({expression_text(attr)})"
    return "the number of instances is not known statically"


def _hcl_references(value: Any) -> set[str]:
    from llmplan.terraform.values import Unknown

    found: set[str] = set()
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, Unknown):
            text = current.source
        elif isinstance(current, str) and "${" in current:
            text = current
        elif isinstance(current, Mapping):
            stack.extend(current.values())
            continue
        elif isinstance(current, list):
            stack.extend(current)
            continue
        else:
            continue
        for match in _REFERENCE.finditer(text):
            if match.group(1) not in ("var", "local", "data", "module", "path", "each", "count"):
                found.add(f"{match.group(1)}.{match.group(2)}")
    return found


# --- one side's breakdown, and the difference between two sides


@dataclass
class Breakdown:
    lines: list[CostLine]
    warnings: list[str] = field(default_factory=list)
    label: str = ""

    @property
    def priced(self) -> list[CostLine]:
        return [line for line in self.lines if not line.unpriced]

    @property
    def unpriced(self) -> list[CostLine]:
        return [line for line in self.lines if line.unpriced]

    @property
    def monthly_usd(self) -> float:
        return sum(line.monthly_usd or 0.0 for line in self.priced)

    @property
    def hourly_usd(self) -> float:
        return sum(line.hourly_usd or 0.0 for line in self.priced)

    def by_address(self) -> dict[str, CostLine]:
        return {line.address: line for line in self.lines}


@dataclass
class DiffRow:
    address: str
    before: CostLine | None
    after: CostLine | None

    @property
    def status(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        b, a = self.before, self.after
        same = (b.instance_type, b.count, b.tier, b.region, b.unpriced) == (
            a.instance_type, a.count, a.tier, a.region, a.unpriced)
        if same and _money_equal(b.monthly_usd, a.monthly_usd):
            return "unchanged"
        return "changed"

    @property
    def before_monthly(self) -> float | None:
        return None if self.before is None else self.before.monthly_usd

    @property
    def after_monthly(self) -> float | None:
        return None if self.after is None else self.after.monthly_usd

    @property
    def unpriced(self) -> str:
        for line in (self.after, self.before):
            if line is not None and line.unpriced:
                return line.unpriced
        return ""

    @property
    def delta_monthly(self) -> float | None:
        if self.unpriced:
            return None
        return (self.after_monthly or 0.0) - (self.before_monthly or 0.0)

    @property
    def current(self) -> CostLine:
        line = self.after or self.before
        assert line is not None
        return line


def _money_equal(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < 0.005


@dataclass
class CostDiff:
    before: Breakdown
    after: Breakdown
    rows: list[DiffRow]

    @property
    def changed(self) -> list[DiffRow]:
        rows = [r for r in self.rows if r.status != "unchanged"]
        return sorted(rows, key=lambda r: (r.delta_monthly is None,
                                           -abs(r.delta_monthly or 0.0), r.address))

    @property
    def delta_monthly(self) -> float:
        return self.after.monthly_usd - self.before.monthly_usd

    @property
    def percent(self) -> float | None:
        before = self.before.monthly_usd
        if before <= 0:
            return None
        return self.delta_monthly / before * 100


def diff(before: Breakdown, after: Breakdown) -> CostDiff:
    b, a = before.by_address(), after.by_address()
    addresses = list(b) + [x for x in a if x not in b]
    rows = [DiffRow(x, b.get(x), a.get(x)) for x in sorted(addresses, key=_address_key)]
    return CostDiff(before, after, rows)


def _address_key(address: str) -> tuple[str, int, str]:
    match = re.match(r"^(.*)\[(\d+)\]$", address)
    if match:
        return match.group(1), int(match.group(2)), ""
    return address, -1, ""
