"""What gets deployed, in cloud-neutral terms: a chosen plan, its workload and its engine launch.

:class:`Deployment` is everything a template may show, computed once. Each cloud's renderer
(:mod:`llmplan.render.clouds`) turns it into the values its templates need, and
:func:`llmplan.render.terraform.render` runs the templates (``StrictUndefined``: a missing value
is an error, never an empty string) and returns the files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from llmplan.engines.launch import Launch, LaunchSpec, build
from llmplan.render.escape import resource_name

if TYPE_CHECKING:
    from llmplan.plan.candidate import Candidate
    from llmplan.workload import Workload

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
    # generate --verify: the boot script checks the engine's KV cache against the plan's.
    verify: bool = False
    kv_tokens_per_replica: int = 0

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
    verify: bool = False,
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
        workload=workload.kind,
        verify=verify,
        kv_tokens_per_replica=s.kv_tokens,
    )


# --- Jinja2 environment


# --- rendering


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
