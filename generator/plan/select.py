"""Candidate plans (offering x parallelism x replicas x tier) and the cheapest that fits.

Pure: takes catalogs and a workload, returns ranked candidates and why the rest were rejected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from llmplan.engines.profiles import EngineProfile
from llmplan.errors import UsageError, did_you_mean
from llmplan.gpus import GpuSpec, canonical_gpu_name, get_gpu
from llmplan.model.architecture import ModelArchitecture
from llmplan.plan.candidate import Candidate, Selection, Shape
from llmplan.plan.demand import in_flight, request_lengths, required_tokens_per_s
from llmplan.providers.base import Catalog, Offering, Price
from llmplan.sizing.memory import SizingResult, parallelism_problems, size_on
from llmplan.sizing.precision import Precision, resolve_precision
from llmplan.sizing.throughput import ReplicaShape, Speed, best_batch, speed
from llmplan.workload import Workload

MAX_TOTAL_NODES = 64


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


def gpu_filter(workload: Workload) -> set[str] | None:
    """Canonical names of the GPUs --gpu allows (None: any); an unknown name is an error."""
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


def check_regions(catalogs: Sequence[Catalog], regions: Sequence[str]) -> None:
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
    allowed_gpus = gpu_filter(workload)
    check_regions(catalogs, workload.regions)
    precision = resolve_precision(arch, workload)
    specs: dict[str, GpuSpec | None] = {}
    sized: dict[tuple[str, int, int], SizingResult] = {}
    base = _single_request(workload)
    prompt, output = request_lengths(workload)
    selection = Selection(
        candidates=[],
        considered_tiers=considered,
        objective=workload.objective,
        required_tokens_per_s=required_tokens_per_s(workload),
        prompt_tokens=prompt,
        output_tokens=output,
    )
    perf = _Perf(arch, precision, engine, workload, prompt, output)
    latency_rejected: set[str] = set()

    for offering in _offerings(catalogs, workload):
        key = f"{offering.cloud}:{offering.instance_type}"
        if allowed_gpus is not None and offering.gpu not in allowed_gpus:
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
                # Shapes come smallest first: the widest one that still fails says the most.
                if key not in latency_rejected and _is_memory_reason(selection.rejected, key):
                    selection.rejected[key] = _why(replica, offering, shape)
                continue
            replicas, nodes = _replicas_needed(workload.concurrency, replica, shape)
            fast, load_replicas, problem = perf.replica_speed(spec, shape, replica, replicas)
            if problem:
                # A shape that holds the model but misses a latency target says more than the
                # smaller shapes' memory failures: it replaces them (the first one is kept).
                if key not in latency_rejected:
                    latency_rejected.add(key)
                    selection.rejected[key] = f"{offering.gpu_count} x {offering.gpu}: {problem}"
                continue
            if load_replicas is not None and load_replicas > replicas:
                replicas, nodes = _whole_nodes(load_replicas, shape)
            if nodes > MAX_TOTAL_NODES:
                selection.rejected.setdefault(key, _too_many_nodes(nodes, workload))
                continue
            per_replica = math.ceil(workload.concurrency / replicas)
            final = _with_concurrency(replica, per_replica)
            if not workload.load.is_set:
                # Without a load the batch is the concurrency each replica is asked to hold.
                fast = perf.at_batch(spec, shape, per_replica)
            fitting += 1
            demand = max(float(workload.concurrency), in_flight(workload, fast))
            for tier, price in priced:
                selection.candidates.append(
                    Candidate(
                        offering, shape, tier, price, final, nodes, replicas, fast, load_replicas,
                        demand,
                    )
                )
        if fitting:
            selection.rejected.pop(key, None)
    selection.candidates = _single_node_first(selection.candidates, selection.rejected)
    selection.candidates.sort(key=lambda c: c.rank_key(workload.objective))
    return selection


def _single_node_first(candidates: list[Candidate], rejected: dict[str, str]) -> list[Candidate]:
    """Keep replicas that span nodes only for clouds where no single node holds one.

    Pipeline stages over the network cost latency and failure modes that a cheaper hourly rate
    rarely pays for; they are the answer only when the model fits no single machine.
    """
    single = {c.offering.cloud for c in candidates if c.shape.nodes_per_replica == 1}
    kept: list[Candidate] = []
    for c in candidates:
        if c.shape.nodes_per_replica > 1 and c.offering.cloud in single:
            key = f"{c.offering.cloud}:{c.offering.instance_type}"
            if not any(k.offering.instance_type == c.offering.instance_type
                       and k.offering.cloud == c.offering.cloud for k in kept):
                rejected.setdefault(key, "a replica would span nodes, and a single node fits "
                                         "elsewhere on this cloud")
            continue
        kept.append(c)
    return kept


class _Perf:
    """Roofline speeds of one replica shape, cached per (GPU, TP, PP, nodes) across offerings."""

    def __init__(
        self,
        arch: ModelArchitecture,
        precision: Precision,
        engine: EngineProfile,
        workload: Workload,
        prompt: int,
        output: int,
    ) -> None:
        self.arch, self.precision, self.engine, self.workload = arch, precision, engine, workload
        self.prompt, self.output = prompt, output
        self._best: dict[tuple[str, int, int, int], tuple[Speed | None, int | None, str]] = {}
        self._at: dict[tuple[str, int, int, int, int], Speed] = {}

    def at_batch(self, gpu: GpuSpec, shape: Shape, batch: int) -> Speed:
        key = (gpu.name, shape.tensor_parallel, shape.pipeline_parallel, shape.nodes_per_replica)
        if (*key, batch) not in self._at:
            self._at[(*key, batch)] = speed(
                self.arch, gpu, self.precision, _roof(shape), batch, self.prompt, self.output
            )
        return self._at[(*key, batch)]

    def replica_speed(
        self, gpu: GpuSpec, shape: Shape, replica: SizingResult, replicas: int
    ) -> tuple[Speed | None, int | None, str]:
        """With a load: (speed at the best batch, replicas the load needs, rejection reason)."""
        if not self.workload.load.is_set:
            return None, None, ""
        key = (gpu.name, shape.tensor_parallel, shape.pipeline_parallel, shape.nodes_per_replica)
        if key not in self._best:
            self._best[key] = self._for_load(gpu, shape, replica)
        return self._best[key]

    def _for_load(
        self, gpu: GpuSpec, shape: Shape, replica: SizingResult
    ) -> tuple[Speed | None, int | None, str]:
        load = self.workload.load
        _, max_seqs = self.engine.batch_defaults(gpu.memory_gib_usable, gpu.name)
        max_batch = max(1, min(int(replica.max_concurrency), max_seqs))
        fast = best_batch(
            self.arch, gpu, self.precision, _roof(shape), max_batch,
            self.prompt, self.output, load.tpot_ms,
        )  # fmt: skip
        if fast is None:
            single = self.at_batch(gpu, shape, 1)
            return (
                None,
                None,
                (f"TPOT {single.tpot_ms:.1f} ms at batch 1 misses the {load.tpot_ms:g} ms target"),
            )
        if load.ttft_ms is not None and fast.ttft_ms > load.ttft_ms:
            return (
                None,
                None,
                (
                    f"TTFT {fast.ttft_ms:.0f} ms for a {self.prompt:,}-token prompt misses the "
                    f"{load.ttft_ms:g} ms target"
                ),
            )
        required = required_tokens_per_s(self.workload) or 0.0
        needed = max(1, math.ceil(required / fast.output_tokens_per_s - 1e-9))
        return fast, needed, ""


def _roof(shape: Shape) -> ReplicaShape:
    return ReplicaShape(shape.tensor_parallel, shape.pipeline_parallel, shape.nodes_per_replica)


def _whole_nodes(replicas: int, shape: Shape) -> tuple[int, int]:
    groups = math.ceil(replicas / shape.replicas_per_node)
    return groups * shape.replicas_per_node, groups * shape.nodes_per_replica


def _too_many_nodes(nodes: int, workload: Workload) -> str:
    if workload.load.is_set:
        return f"needs {nodes} nodes for the target load (more than {MAX_TOTAL_NODES})"
    return f"needs {nodes} nodes for concurrency {workload.concurrency}"


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


_WHY_PREFIX = " as TP="


def _why(result: SizingResult, offering: Offering, shape: Shape) -> str:
    reason = result.reasons[0] if result.reasons else "does not fit"
    span = f" over {shape.nodes_per_replica} nodes" if shape.nodes_per_replica > 1 else ""
    return (f"{result.gpu_count} x {offering.gpu}{_WHY_PREFIX}{result.tensor_parallel} x "
            f"PP={result.pipeline_parallel}{span}: {reason}")


def _is_memory_reason(rejected: dict[str, str], key: str) -> bool:
    """Whether ``key`` has no reason yet, or only a memory one a wider shape may replace."""
    return key not in rejected or _WHY_PREFIX in rejected[key]


def _replicas_needed(concurrency: int, replica: SizingResult, shape: Shape) -> tuple[int, int]:
    """Replicas to hold ``concurrency`` requests, rounded up to whole nodes; and those nodes."""
    replicas = max(1, math.ceil(concurrency / replica.max_concurrency - 1e-9))
    return _whole_nodes(replicas, shape)


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
        if tier == "spot" and workload.kind == "realtime" and not workload.allow_spot:
            rejected.setdefault(key, "spot capacity for a realtime workload (use --allow-spot)")
            continue
        price = offering.price(tier)
        if price is None:
            # Keyed by instance type, so say where the gap was seen rather than implying that
            # this region is the only one.
            reason = offering.unpriced.get(tier) or "not sold there"
            rejected.setdefault(key, f"no {tier} price in {offering.region} (and the other "
                                     f"regions considered): {reason}")
            continue
        out.append((tier, price))
    return out
