"""From a chosen plan to Terraform files: the Python side decides, Jinja2 templates only lay out.

:class:`Deployment` is everything a template may show, computed once from a Candidate, the
Workload and the engine launch. Each cloud's ``render_<cloud>.context()`` turns it into the values
its templates need; :func:`render` runs the templates (``StrictUndefined``: a missing value is an
error, never an empty string) and returns the files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from llmplan.engines.launch import Launch, LaunchSpec, build
from llmplan.render.escape import (
    gcp_label,
    hcl_string,
    heredoc,
    resource_name,
    sh,
    sh_from_tf,
    template_escape,
)

if TYPE_CHECKING:
    import jinja2

    from llmplan.plan.select import Candidate
    from llmplan.workload import Workload

Mode = Literal["inline", "module"]
CLOUDS = ("aws", "gcp", "azure")
MODULE_FILES = ("versions.tf", "variables.tf", "main.tf", "outputs.tf")
BOOT_FILE = "boot.sh.tftpl"
GIB = 1024**3
# Root disk beyond the weights: OS + driver image (~60 GiB on the GPU images), the engine's
# container image (~20 GiB unpacked), compile caches; the weights are downloaded once into it.
DISK_BASE_GIB = 150
DISK_WEIGHTS_FACTOR = 1.25


@dataclass(frozen=True)
class Deployment:
    """What gets deployed, in cloud-neutral terms."""

    cloud: str
    region: str
    instance_type: str
    gpu: str
    gpu_count: int
    fast_network: str | None
    tier: str
    nodes: int
    replicas: int
    nodes_per_replica: int
    replicas_per_node: int
    tensor_parallel: int
    pipeline_parallel: int
    node_hourly_usd: float
    hourly_usd: float
    monthly_usd: float
    price_source: str
    price_as_of: str
    price_origin: str
    model: str
    engine: str
    context: int
    concurrency: int
    max_concurrency: float
    weights_gib: float
    launch: Launch
    name: str = "llm"
    workload: str = "realtime"

    @property
    def topology(self) -> Literal["single", "replicas", "multinode"]:
        if self.nodes_per_replica > 1:
            return "multinode"
        return "replicas" if self.nodes > 1 else "single"

    @property
    def groups(self) -> int:
        """Replica groups of a multi-node plan (each ``nodes_per_replica`` nodes)."""
        return self.nodes // self.nodes_per_replica

    @property
    def workers_per_group(self) -> int:
        return self.nodes_per_replica - 1

    @property
    def gpus_used(self) -> int:
        return self.replicas * self.tensor_parallel * self.pipeline_parallel

    @property
    def disk_gib(self) -> int:
        raw = DISK_BASE_GIB + self.weights_gib * DISK_WEIGHTS_FACTOR
        return int(math.ceil(raw / 50) * 50)

    @property
    def is_spot(self) -> bool:
        return self.tier == "spot"

    @property
    def is_reserved(self) -> bool:
        return self.tier.startswith("reserved")

    @property
    def reserved_years(self) -> int:
        return 3 if self.tier == "reserved-3y" else 1

    @property
    def parallelism(self) -> str:
        text = f"TP={self.tensor_parallel} x PP={self.pipeline_parallel}"
        if self.nodes_per_replica > 1:
            text += f" over {self.nodes_per_replica} nodes"
        if self.replicas_per_node > 1:
            text += f", {self.replicas_per_node} replicas per node (data parallel)"
        return text + f"; {self.replicas} replica(s) on {self.nodes} node(s)"


def launch_spec(candidate: Candidate, workload: Workload, model: str) -> LaunchSpec:
    s = candidate.sizing
    return LaunchSpec(
        engine=s.engine,
        model=model,
        tensor_parallel=candidate.shape.tensor_parallel,
        pipeline_parallel=candidate.shape.pipeline_parallel,
        nodes_per_replica=candidate.shape.nodes_per_replica,
        replicas_per_node=candidate.shape.replicas_per_node,
        gpus_per_node=candidate.offering.gpu_count,
        context=workload.context,
        # Each replica is sized for its share of the requests; the engine admits that many.
        max_seqs=max(1, s.concurrency),
        memory_fraction=s.memory_fraction,
        kv_cache_dtype=s.precision.kv_cache,
        quantization=workload.quantization or (s.precision.method if workload.precision else None),
        max_batched_tokens=workload.max_batched_tokens,
        kv_tokens=s.kv_tokens,
    )


def deployment(
    candidate: Candidate,
    workload: Workload,
    model: str,
    *,
    name: str = "llm",
) -> Deployment:
    """The Deployment for ``candidate``; raises UsageError when the engine cannot run its shape."""
    s = candidate.sizing
    o = candidate.offering
    launch = build(launch_spec(candidate, workload, model))
    weights = s.weights_bytes_per_gpu * s.tensor_parallel * s.pipeline_parallel / GIB
    return Deployment(
        cloud=o.cloud,
        region=o.region,
        instance_type=o.instance_type,
        gpu=o.gpu,
        gpu_count=o.gpu_count,
        fast_network=o.fast_network,
        tier=candidate.tier,
        nodes=candidate.nodes,
        replicas=candidate.replicas,
        nodes_per_replica=candidate.shape.nodes_per_replica,
        replicas_per_node=candidate.shape.replicas_per_node,
        tensor_parallel=candidate.shape.tensor_parallel,
        pipeline_parallel=candidate.shape.pipeline_parallel,
        node_hourly_usd=candidate.price.hourly_usd,
        hourly_usd=candidate.hourly_usd,
        monthly_usd=candidate.monthly_usd,
        price_source=candidate.price.source,
        price_as_of=candidate.price.as_of,
        price_origin=candidate.price.origin,
        model=model,
        engine=s.engine,
        context=workload.context,
        concurrency=workload.concurrency,
        max_concurrency=candidate.max_concurrency,
        weights_gib=weights,
        launch=launch,
        name=resource_name(name, 20),
        workload=workload.workload,
    )


# --- Jinja2 environment


def _template_source(name: str) -> str:
    return resources.files("llmplan.templates").joinpath(name).read_text(encoding="utf-8")


@cache
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        {
            "hcl": hcl_string,
            "sh": sh,
            "tpl": template_escape,
            "label": gcp_label,
            "num": _number,
            "hcl_map": hcl_map,
        }
    )
    return env


def hcl_map(values: Mapping[str, object], indent: int = 2) -> str:
    """An HCL object literal with quoted keys, ``=`` aligned the way ``terraform fmt`` does."""
    pad = " " * indent
    width = max((len(hcl_string(k)) for k in values), default=0)
    lines = [f"{pad}  {hcl_string(k).ljust(width)} = {hcl_string(v)}" for k, v in values.items()]
    return "{\n" + "\n".join(lines) + "\n" + pad + "}"


def _number(value: float, digits: int = 4) -> str:
    """An HCL number literal, rounded (prices) without a trailing ``.0`` for integers."""
    rounded = round(float(value), digits)
    return str(int(rounded)) if rounded == int(rounded) else repr(rounded)


# --- rendering


BootVars = Mapping[str, str]
# Variables every cloud's boot script gets; each cloud may add its own (region, key vault...).
BASE_BOOT_VARS = ("hf_token_secret", "engine_image", "node_rank", "head_address")


def boot_expression(mode: Mode, role_vars: BootVars, body: Callable[[BootVars], str]) -> str:
    """The HCL expression giving one node role's boot script.

    ``module``: ``templatefile()`` over the shipped ``boot.sh.tftpl`` with this role's variables.
    ``inline``: the same template text as a heredoc, its variables replaced by the expressions.
    """
    if mode == "module":
        pairs = ", ".join(f"{k} = {v}" for k, v in role_vars.items())
        return f'templatefile("${{path.module}}/{BOOT_FILE}", {{ {pairs} }})'
    return heredoc(body(role_vars))


def render_boot(d: Deployment, refs: Mapping[str, str]) -> str:
    """The boot script as Terraform template text; ``refs`` maps each variable to an expression."""
    from importlib import import_module

    words = {k: sh_from_tf(v) for k, v in refs.items()}
    cloud = import_module(f"llmplan.render.{d.cloud}")
    # The node rank is a number Terraform computes (count.index): no quoting needed or possible.
    rank = "'${" + refs["node_rank"] + "}'"
    template = environment().get_template("common/boot.sh.j2")
    return template.render(
        d=d,
        launch=d.launch,
        tf=words,
        rank=rank,
        docker=_docker_lines(d),
        extra=[k for k in refs if k not in BASE_BOOT_VARS],
        # A cloud may find the rank and head at boot instead (scale sets have no per-node values).
        discovery=getattr(cloud, "boot_discovery", lambda _d: None)(d),
    )


def container_options(d: Deployment) -> tuple[str, ...]:
    """Extra ``docker run`` options the cloud's nodes need for this deployment (default none)."""
    from importlib import import_module

    cloud = import_module(f"llmplan.render.{d.cloud}")
    return tuple(getattr(cloud, "container_options", lambda _d: ())(d))


def _docker_lines(d: Deployment) -> dict[str, Any]:
    from llmplan.engines.launch import ShellVar, docker_run, shell_line

    image = ShellVar("ENGINE_IMAGE")
    multi = d.nodes_per_replica > 1
    extra = container_options(d)
    head = [shell_line(docker_run(c, image, network_host=multi, extra=extra))
            for c in d.launch.head]
    worker = [shell_line(docker_run(c, image, network_host=multi, extra=extra))
              for c in d.launch.worker]
    exec_line = ""
    if d.launch.head_exec:
        exec_line = shell_line(
            [
                "docker",
                "exec",
                "-d",
                "-e",
                "HF_TOKEN",
                "-e",
                "HUGGING_FACE_HUB_TOKEN",
                d.launch.head[0].name,
                *d.launch.head_exec,
            ]
        )
    names = [c.name for c in (*d.launch.head, *d.launch.worker)]
    return {
        "head": [template_escape(x) for x in head],
        "worker": [template_escape(x) for x in worker],
        "exec": template_escape(exec_line),
        "names": " ".join(sh(n) for n in dict.fromkeys(names)),
        "gpus_per_replica": d.tensor_parallel * d.pipeline_parallel,
    }


@dataclass(frozen=True)
class Rendered:
    """The files of one rendering, by name."""

    files: dict[str, str]

    @property
    def main_tf(self) -> str:
        return self.files["main.tf"]


def render(d: Deployment, mode: Mode = "inline") -> Rendered:
    """Render ``d`` as one self-contained main.tf (``inline``) or a module folder (``module``)."""
    from importlib import import_module

    if d.cloud not in CLOUDS:
        raise ValueError(f"no templates for cloud {d.cloud!r}")
    cloud = import_module(f"llmplan.render.{d.cloud}")
    role_vars: dict[str, BootVars] = cloud.boot_vars(d)
    body = _boot_body(d)
    boot = {role: boot_expression(mode, v, body) for role, v in role_vars.items()}
    ctx: dict[str, Any] = cloud.context(d)
    ctx.update(d=d, boot=boot, mode=mode, launch=d.launch)
    env = environment()
    parts = {f: env.get_template(f"{d.cloud}/{f}.j2").render(**ctx) for f in MODULE_FILES}
    if mode == "module":
        names = next(iter(role_vars.values())).keys()
        files = dict(parts)
        files[BOOT_FILE] = render_boot(d, {k: k for k in names})
        files["README.md"] = env.get_template("common/README.md.j2").render(
            d=d, launch=d.launch, boot_file=BOOT_FILE
        )
        return Rendered(files)
    header = env.get_template("common/header.tf.j2").render(d=d, launch=d.launch)
    joined = header + "\n".join(parts[f].strip("\n") + "\n" for f in MODULE_FILES)
    return Rendered({"main.tf": joined})


def _boot_body(d: Deployment) -> Callable[[BootVars], str]:
    def body(refs: BootVars) -> str:
        return render_boot(d, refs)

    return body


def boot_roles(d: Deployment, base: dict[str, str], head_address: str) -> dict[str, dict[str, str]]:
    """The boot script's variables per node role: one role, or a head and its workers.

    ``head_address`` is the HCL expression for a worker's head, written with ``{group}`` where
    the worker's replica group index goes.
    """
    if d.topology != "multinode":
        return {"single": {**base, "node_rank": "0", "head_address": '""'}}
    w = d.workers_per_group
    return {
        "head": {**base, "node_rank": "0", "head_address": '""'},
        "worker": {
            **base,
            "node_rank": f"count.index % {w} + 1",
            "head_address": head_address.format(group=f"floor(count.index / {w})"),
        },
    }


def labels(d: Deployment) -> dict[str, str]:
    """Tags every resource carries: what it serves and what it was priced at.

    The keys are the ones ``llmplan check`` reads, so that checking generated Terraform judges
    the same workload the plan was made for (context, concurrency, batch or realtime, nodes).
    """
    return {
        "llmplan-model": d.model,
        "llmplan-engine": d.engine,
        "llmplan-context": str(d.context),
        "llmplan-concurrency": str(d.concurrency),
        "llmplan-nodes": str(d.nodes_per_replica),
        "workload": d.workload,
        "llmplan-tier": d.tier,
        "llmplan-parallelism": f"tp{d.tensor_parallel}-pp{d.pipeline_parallel}"
        f"-nodes{d.nodes_per_replica}-dp{d.replicas_per_node}",
    }
