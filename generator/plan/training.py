"""Training plans: offering x nodes x tier, ranked by the whole job's cost (or its wall time).

Pure: takes catalogs, a model and a :class:`~llmplan.workload.Training` job; returns ranked
candidates and why the other instance types were rejected. The serving planner
(:mod:`llmplan.plan.select`) is untouched; this is its sibling for ``--task finetune|pretrain``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from llmplan.catalog.pricing import PricedCatalogs, load_catalogs, select_clouds
from llmplan.errors import UsageError
from llmplan.gpus import GIB, GpuSpec, canonical_gpu_name, get_gpu
from llmplan.model.architecture import ModelArchitecture
from llmplan.model.registry import load_model
from llmplan.plan.select import check_regions, gpu_filter, tiers_for
from llmplan.providers.base import Catalog, Offering, Price
from llmplan.sizing.training import TrainingMemory, training_memory
from llmplan.sizing.training_facts import node_network_gbps, spot_defaults
from llmplan.sizing.training_fit import layouts
from llmplan.sizing.training_time import (
    Network,
    SpotRestarts,
    StepTime,
    intra_node_gbs,
    spot_restarts,
    step_time,
)
from llmplan.workload import Training, Workload


@dataclass(frozen=True)
class TrainingCandidate:
    """One way to run the job: ``nodes`` of ``offering`` at ``tier``."""

    offering: Offering
    nodes: int
    tier: str
    price: Price
    memory: TrainingMemory
    step: StepTime
    network_gbps: float | None
    tokens: float
    restarts: SpotRestarts | None = None

    @property
    def gpus(self) -> int:
        return self.offering.gpu_count * self.nodes

    @property
    def compute_hours(self) -> float:
        """Wall time without interruptions."""
        return self.tokens / self.step.tokens_per_s / 3600

    @property
    def wall_hours(self) -> float:
        overhead = self.restarts.overhead if self.restarts else 0.0
        return self.compute_hours * (1 + overhead)

    @property
    def gpu_hours(self) -> float:
        return self.wall_hours * self.gpus

    @property
    def hourly_usd(self) -> float:
        return self.price.hourly_usd * self.nodes

    @property
    def job_usd(self) -> float:
        return self.hourly_usd * self.wall_hours

    def rank_key(self, objective: str) -> tuple[float, int, float, str, str, str]:
        # At the same cost to the cent, fewer nodes (fewer failure points), then the shorter
        # wall time; by latency, the shorter wall time, then fewer nodes.
        cost, hours = round(self.job_usd, 2), round(self.wall_hours, 6)
        first, second = (hours, cost) if objective == "latency" else (cost, hours)
        return (
            first,
            self.nodes,
            second,
            self.offering.instance_type,
            self.offering.region,
            self.tier,
        )

    def to_json(self) -> dict[str, Any]:
        o, m, s = self.offering, self.memory, self.step
        finite = math.isfinite(self.wall_hours)
        return {
            "cloud": o.cloud,
            "region": o.region,
            "instance_type": o.instance_type,
            "gpu": o.gpu,
            "gpu_count": o.gpu_count,
            "nodes": self.nodes,
            "gpus": self.gpus,
            "tier": self.tier,
            "sharding": m.sharding,
            "activation_checkpointing": m.activation_checkpointing,
            "memory_gib_per_gpu": round(m.total / GIB, 2),
            "cpu_offload_gib_per_node": round(m.cpu_offload * o.gpu_count / GIB, 2),
            "fast_network": o.fast_network,
            "network_gbps": self.network_gbps,
            "tokens_per_second": round(s.tokens_per_s, 1),
            "mfu": round(s.mfu, 4),
            "utilisation_basis": s.utilisation.basis,
            "communication_bound": s.communication_bound,
            "step_compute_s": round(s.compute_s, 4),
            "step_communication_s": round(s.communication_s, 4),
            "compute_hours": round(self.compute_hours, 3),
            "restart_overhead": (
                round(self.restarts.overhead, 4)
                if self.restarts and math.isfinite(self.restarts.overhead)
                else (None if self.restarts is None else "unbounded")
            ),
            "expected_interruptions": (
                round(self.restarts.expected_interruptions, 2)
                if self.restarts and math.isfinite(self.restarts.expected_interruptions)
                else None
            ),
            "wall_hours": round(self.wall_hours, 3) if finite else None,
            "gpu_hours": round(self.gpu_hours, 2) if finite else None,
            "hourly_usd": round(self.hourly_usd, 4),
            "job_usd": round(self.job_usd, 2) if finite else None,
            "price_source": self.price.source,
            "price_as_of": self.price.as_of,
            "price_origin": self.price.origin,
        }


@dataclass
class TrainingSelection:
    candidates: list[TrainingCandidate]
    rejected: dict[str, str] = field(default_factory=dict)
    considered_tiers: tuple[str, ...] = ()
    objective: str = "cost"
    tokens: float = 0.0

    def best_per_cloud_and_tier(self) -> dict[tuple[str, str], TrainingCandidate]:
        best: dict[tuple[str, str], TrainingCandidate] = {}
        for c in self.candidates:
            best.setdefault((c.offering.cloud, c.tier), c)
        return best

    def best_per_cloud(self) -> dict[str, TrainingCandidate]:
        best: dict[str, TrainingCandidate] = {}
        for c in self.candidates:
            best.setdefault(c.offering.cloud, c)
        return best


def select_training(
    arch: ModelArchitecture,
    training: Training,
    workload: Workload,
    catalogs: Sequence[Catalog],
) -> TrainingSelection:
    """Every offering x node count x tier that trains the job, cheapest (or fastest) first."""
    tokens = training.total_tokens
    if tokens is None:
        raise UsageError(
            "plan --task " + training.task + ": needs the tokens to train on "
            "(--tokens N, or --dataset-tokens N with --epochs E)"
        )
    tiers = tiers_for(workload)
    allowed = gpu_filter(workload)
    check_regions(catalogs, workload.regions)
    selection = TrainingSelection(
        candidates=[], considered_tiers=tiers, objective=workload.objective, tokens=tokens
    )
    spot = _spot_settings(training)
    sized: dict[tuple[str, int], tuple[list[TrainingMemory], TrainingMemory]] = {}
    for offering in _offerings(catalogs, workload):
        key = f"{offering.cloud}:{offering.instance_type}"
        if allowed is not None and offering.gpu not in allowed:
            selection.rejected.setdefault(key, f"GPU {offering.gpu} not in --gpu")
            continue
        spec = _gpu(offering)
        if spec is None:
            selection.rejected.setdefault(key, f"unknown GPU {offering.gpu}")
            continue
        if spec.bf16_dense_tflops <= 0:
            selection.rejected.setdefault(
                key, f"no 16-bit tensor peak on record for {spec.name}, so no training time"
            )
            continue
        priced = [(t, p) for t in tiers if (p := offering.price(t)) is not None]
        if not priced:
            why = "; ".join(dict.fromkeys(offering.unpriced.get(t, "") for t in tiers)).strip("; ")
            selection.rejected.setdefault(
                key,
                f"no {'/'.join(tiers)} price in {offering.region} (and the other regions "
                f"considered): {why or 'not sold there'}",
            )
            continue
        gbps = node_network_gbps(offering.cloud, offering.instance_type)
        found = False
        for nodes in range(1, workload.max_nodes + 1):
            if nodes > 1 and gbps is None:
                if not found:
                    selection.rejected[key] = (
                        f"{selection.rejected.get(key, 'one node does not hold the job')}; the "
                        "network between these nodes is not on record, so no multi-node plan"
                    )
                break
            gpus = offering.gpu_count * nodes
            if (spec.name, gpus) not in sized:
                sized[(spec.name, gpus)] = fitting_layouts(arch, training, spec, gpus)
            fitting, closest = sized[(spec.name, gpus)]
            if not fitting:
                selection.rejected[key] = f"{gpus} x {offering.gpu}: {closest.reasons[0]}"
                continue
            network = Network(offering.gpu_count, nodes, intra_node_gbs(spec), gbps)
            best = _fastest(arch, training, spec, offering, fitting, network)
            if best is None:
                host = min(m.cpu_offload for m in fitting) * offering.gpu_count
                selection.rejected[key] = (
                    f"CPU offload needs {host / GIB:,.0f} GiB of host memory per node; "
                    f"{offering.instance_type} has {offering.memory_gib:,.0f} GiB"
                )
                continue
            memory, step = best
            for tier, price in priced:
                restarts = None
                if tier == "spot":
                    restarts = spot_restarts(tokens / step.tokens_per_s / 3600, nodes, *spot)
                selection.candidates.append(
                    TrainingCandidate(offering, nodes, tier, price, memory, step, gbps, tokens,
                                      restarts)
                )
            found = True
        if found:
            selection.rejected.pop(key, None)
    selection.candidates.sort(key=lambda c: c.rank_key(workload.objective))
    return selection


def fitting_layouts(
    arch: ModelArchitecture, training: Training, gpu: GpuSpec, gpus: int
) -> tuple[list[TrainingMemory], TrainingMemory]:
    """Every sharding x checkpointing layout that fits ``gpus`` GPUs, and the closest one."""
    fitting: list[TrainingMemory] = []
    closest: TrainingMemory | None = None
    for stage, ac in layouts(training, gpus):
        memory = training_memory(arch, training, gpu, gpus, stage, ac)
        if memory.fits:
            fitting.append(memory)
        elif closest is None or memory.total < closest.total:
            closest = memory
    return fitting, closest or fitting[0]


def _fastest(
    arch: ModelArchitecture,
    training: Training,
    gpu: GpuSpec,
    offering: Offering,
    fitting: list[TrainingMemory],
    network: Network,
) -> tuple[TrainingMemory, StepTime] | None:
    """The layout with the shortest step whose offloaded states fit the node's host memory."""
    best: tuple[TrainingMemory, StepTime] | None = None
    for memory in fitting:
        if memory.cpu_offload * offering.gpu_count > offering.memory_gib * GIB:
            continue
        step = step_time(arch, training, gpu, memory, network)
        # Ties (communication hidden either way) go to the layout listed first: less sharding.
        if best is None or step.step_s < best[1].step_s * (1 - 1e-9):
            best = (memory, step)
    return best


def _spot_settings(training: Training) -> tuple[float, float, float]:
    defaults = spot_defaults()
    rate = training.spot_interruptions_per_day
    restart = training.restart_minutes
    return (
        defaults.interruptions_per_node_day if rate is None else rate,
        training.checkpoint_interval_minutes / 60,
        (defaults.restart_minutes if restart is None else restart) / 60,
    )


@cache
def _gpu_named(name: str) -> GpuSpec | None:
    canonical = canonical_gpu_name(name)
    return get_gpu(canonical) if canonical else None


def _gpu(offering: Offering) -> GpuSpec | None:
    return _gpu_named(offering.gpu)


def _offerings(catalogs: Iterable[Catalog], workload: Workload) -> Iterable[Offering]:
    regions = set(workload.regions)
    for catalog in catalogs:
        for offering in catalog.offerings:
            if not regions or offering.region in regions:
                yield offering


@dataclass(frozen=True)
class TrainingPlanResult:
    workload: Workload
    training: Training
    arch: ModelArchitecture
    prices: PricedCatalogs
    selection: TrainingSelection


def plan_training(
    workload: Workload, training: Training, *, pricing: str = "snapshot"
) -> TrainingPlanResult:
    """Load the model and prices for ``workload`` and rank the ways to run ``training``."""
    arch = load_model(workload.model)
    prices = load_catalogs(select_clouds(workload.clouds), pricing, workload.regions)
    selection = select_training(arch, training, workload, prices.catalogs)
    if not selection.candidates:
        why = next(iter(selection.rejected.values()), "no offering matches the filters")
        raise UsageError(
            f"no instance trains {arch.model_id} ({training.method}, {training.micro_batch} x "
            f"{training.seq_len:,} tokens per GPU) within {workload.max_nodes} node"
            f"{'s' if workload.max_nodes != 1 else ''} "
            f"(tiers {', '.join(selection.considered_tiers)})"
            f": {why}; try --max-nodes, --activation-checkpointing, --offload cpu or "
            "--method qlora"
        )
    return TrainingPlanResult(workload, training, arch, prices, selection)
