"""Candidate plans (offering x parallelism x replicas x tier) and the cheapest that fits.

Pure: takes catalogs and a workload, returns ranked candidates and why the rest were rejected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmplan.architecture import ModelArchitecture
from llmplan.engines import EngineProfile
from llmplan.errors import UsageError, did_you_mean
from llmplan.gpus import GpuSpec, canonical_gpu_name, get_gpu
from llmplan.providers.base import HOURS_PER_MONTH, Catalog, Offering, Price
from llmplan.sizing import SizingResult, parallelism_problems, resolve_precision, size_on
from llmplan.spec import Workload

MAX_TOTAL_NODES = 64


@dataclass(frozen=True)
class Shape:
    """How one replica sits on the hardware: TP x PP GPUs over ``nodes_per_replica`` nodes."""

    tensor_parallel: int
    pipeline_parallel: int
    nodes_per_replica: int
    replicas_per_node: int


@dataclass(frozen=True)
class Candidate:
    offering: Offering
    shape: Shape
    tier: str
    price: Price
    sizing: SizingResult
    nodes: int
    replicas: int

    @property
    def hourly_usd(self) -> float:
        return self.price.hourly_usd * self.nodes

    @property
    def monthly_usd(self) -> float:
        return self.hourly_usd * HOURS_PER_MONTH

    @property
    def max_concurrency(self) -> float:
        return self.sizing.max_concurrency * self.replicas

    @property
    def headroom(self) -> float:
        return self.max_concurrency / self.sizing.concurrency

    @property
    def gpus_used(self) -> int:
        return self.replicas * self.shape.tensor_parallel * self.shape.pipeline_parallel

    def sort_key(self) -> tuple[float, float, int, str, str, str]:
        # Cheapest first; at equal price the one with more headroom, then fewer nodes.
        return (
            round(self.hourly_usd, 6),
            -self.headroom,
            self.nodes,
            self.offering.instance_type,
            self.offering.region,
            self.tier,
        )

    def to_json(self) -> dict[str, Any]:
        o = self.offering
        return {
            "cloud": o.cloud,
            "region": o.region,
            "instance_type": o.instance_type,
            "gpu": o.gpu,
            "gpu_count": o.gpu_count,
            "nodes": self.nodes,
            "replicas": self.replicas,
            "tensor_parallel": self.shape.tensor_parallel,
            "pipeline_parallel": self.shape.pipeline_parallel,
            "data_parallel_per_node": self.shape.replicas_per_node,
            "tier": self.tier,
            "hourly_usd": round(self.hourly_usd, 4),
            "monthly_usd": round(self.monthly_usd, 2),
            "max_concurrency": round(self.max_concurrency, 2),
            "headroom": round(self.headroom, 3),
            "kv_tokens_per_replica": self.sizing.kv_tokens,
            "weights_gib_per_gpu": round(self.sizing.weights_bytes_per_gpu / 1024**3, 2),
            "fast_network": o.fast_network,
            "price_source": self.price.source,
            "price_as_of": self.price.as_of,
            "price_origin": self.price.origin,
        }


@dataclass
class Selection:
    candidates: list[Candidate]
    rejected: dict[str, str] = field(default_factory=dict)
    considered_tiers: tuple[str, ...] = ()

    def best_per_cloud(self) -> dict[str, Candidate]:
        best: dict[str, Candidate] = {}
        for c in self.candidates:
            best.setdefault(c.offering.cloud, c)
        return best

    def best_per_cloud_and_tier(self) -> dict[tuple[str, str], Candidate]:
        best: dict[tuple[str, str], Candidate] = {}
        for c in self.candidates:
            best.setdefault((c.offering.cloud, c.tier), c)
        return best


def shapes(offering: Offering, max_nodes: int) -> list[Shape]:
    """Every way one replica can sit on this instance type.

    Inside a node: TP x PP GPUs, the node's other GPUs running more replicas (data parallel).
    Across nodes (only with a fast network): TP over the node's GPUs, PP over the nodes.
    """
    g = offering.gpu_count
    out: list[Shape] = []
    for tp in range(1, g + 1):
        if g % tp:
            continue
        for pp in range(1, g // tp + 1):
            if (g // tp) % pp:
                continue
            out.append(Shape(tp, pp, 1, g // (tp * pp)))
    if offering.fast_network:
        out += [Shape(g, nodes, nodes, 1) for nodes in range(2, max_nodes + 1)]
    return out


def tiers_for(workload: Workload, requested: Sequence[str] = ()) -> tuple[str, ...]:
    return tuple(requested or workload.tiers or ("on-demand",))


def _gpu_filter(workload: Workload) -> set[str] | None:
    if not workload.gpus:
        return None
    out = set()
    for name in workload.gpus:
        canonical = canonical_gpu_name(name)
        if canonical is None:
            get_gpu(name)  # raises the did-you-mean error
        else:
            out.add(canonical)
    return out


def _check_regions(catalogs: Sequence[Catalog], regions: Sequence[str]) -> None:
    known = {o.region for c in catalogs for o in c.offerings}
    for region in regions:
        if region not in known:
            raise UsageError(
                f"unknown region '{region}'{did_you_mean(region, known)} "
                f"for clouds {', '.join(c.cloud for c in catalogs)}"
            )


def select(
    arch: ModelArchitecture,
    workload: Workload,
    engine: EngineProfile,
    catalogs: Sequence[Catalog],
    tiers: Sequence[str] = (),
) -> Selection:
    """Every fitting candidate, cheapest first, and why each other instance type was rejected."""
    considered = tiers_for(workload, tiers)
    gpu_filter = _gpu_filter(workload)
    _check_regions(catalogs, workload.regions)
    precision = resolve_precision(arch, workload)
    specs: dict[str, GpuSpec | None] = {}
    sized: dict[tuple[str, int, int], SizingResult] = {}
    base = _single_request(workload)
    selection = Selection(candidates=[], considered_tiers=considered)

    for offering in _offerings(catalogs, workload):
        key = f"{offering.cloud}:{offering.instance_type}"
        if gpu_filter is not None and offering.gpu not in gpu_filter:
            selection.rejected.setdefault(key, f"GPU {offering.gpu} not in --gpu")
            continue
        if offering.gpu not in specs:
            name = canonical_gpu_name(offering.gpu)
            specs[offering.gpu] = get_gpu(name) if name else None
        spec = specs[offering.gpu]
        if spec is None:
            selection.rejected.setdefault(key, f"unknown GPU {offering.gpu}")
            continue
        priced = _priced_tiers(offering, considered, workload, selection.rejected, key)
        if not priced:
            continue
        fitting = 0
        for shape in shapes(offering, workload.max_nodes):
            tp, pp = shape.tensor_parallel, shape.pipeline_parallel
            if parallelism_problems(arch, tp, pp, precision):
                continue
            skey = (spec.name, tp, pp)
            if skey not in sized:
                sized[skey] = size_on(arch, base, spec, engine, tp, pp)
            replica = sized[skey]
            if replica.max_concurrency < 1 or not _memory_ok(replica):
                selection.rejected.setdefault(key, _why(replica, offering))
                continue
            replicas, nodes = _replicas_needed(workload.concurrency, replica, shape)
            if nodes > MAX_TOTAL_NODES:
                selection.rejected.setdefault(
                    key, f"needs {nodes} nodes for concurrency {workload.concurrency}"
                )
                continue
            per_replica = math.ceil(workload.concurrency / replicas)
            final = _with_concurrency(replica, per_replica)
            fitting += 1
            for tier, price in priced:
                selection.candidates.append(
                    Candidate(offering, shape, tier, price, final, nodes, replicas)
                )
        if fitting:
            selection.rejected.pop(key, None)
    selection.candidates.sort(key=Candidate.sort_key)
    return selection


def _single_request(workload: Workload) -> Workload:
    from dataclasses import replace

    return replace(workload, concurrency=1)


def _with_concurrency(result: SizingResult, concurrency: int) -> SizingResult:
    from dataclasses import replace

    return replace(result, concurrency=concurrency)


def _memory_ok(result: SizingResult) -> bool:
    # Only memory reasons disqualify here; the concurrency is met with replicas.
    return all("exceeds the model's maximum" not in r for r in result.reasons) and (
        result.kv_cache_bytes_per_gpu > 0
    )


def _why(result: SizingResult, offering: Offering) -> str:
    reason = result.reasons[0] if result.reasons else "does not fit"
    return f"{offering.gpu_count} x {offering.gpu}: {reason}"


def _replicas_needed(concurrency: int, replica: SizingResult, shape: Shape) -> tuple[int, int]:
    """Replicas to hold ``concurrency`` requests, rounded up to whole nodes; and those nodes."""
    replicas = max(1, math.ceil(concurrency / replica.max_concurrency - 1e-9))
    groups = math.ceil(replicas / shape.replicas_per_node)
    nodes = groups * shape.nodes_per_replica
    return groups * shape.replicas_per_node, nodes


def _offerings(catalogs: Iterable[Catalog], workload: Workload) -> Iterable[Offering]:
    regions = set(workload.regions)
    for catalog in catalogs:
        for offering in catalog.offerings:
            if regions and offering.region not in regions:
                continue
            yield offering


def _priced_tiers(
    offering: Offering,
    tiers: Sequence[str],
    workload: Workload,
    rejected: dict[str, str],
    key: str,
) -> list[tuple[str, Price]]:
    out = []
    for tier in tiers:
        if tier == "spot" and workload.workload == "realtime" and not workload.allow_spot:
            rejected.setdefault(key, "spot capacity for a realtime workload (use --allow-spot)")
            continue
        price = offering.price(tier)
        if price is None:
            reason = offering.unpriced.get(tier) or f"{tier} not sold in {offering.region}"
            rejected.setdefault(key, f"no {tier} price: {reason}")
            continue
        out.append((tier, price))
    return out
