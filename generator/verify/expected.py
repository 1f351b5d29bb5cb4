"""What the plan predicted for a deployment: from ``llmplan plan --format json``, or re-derived
from the Terraform ``llmplan generate`` wrote (its ``llmplan-*`` tags and engine flags).

Figures are per replica (one engine instance, a data-parallel rank counts as one), because that is
what an engine reports about itself; the workload's concurrency is for the whole plan.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmplan.errors import LlmplanError, UsageError
from llmplan.verify.capacity import ENGINE_DISPLAY, Expected


@dataclass(frozen=True)
class Hardware:
    """What the speed model needs to re-derive the plan's speed at other lengths or loads."""

    model: str  # a registry id or path load_model resolves
    gpu: str
    tensor_parallel: int
    pipeline_parallel: int
    nodes_per_replica: int
    precision: str | None = None  # None: the checkpoint's own
    quantization: str | None = None
    kv_cache_dtype: str = "auto"


@dataclass(frozen=True)
class Prediction:
    source: str  # which plan and candidate, or which Terraform resource
    model: str
    engine: str
    context: int
    concurrency: int  # requests in flight over the whole plan
    replicas: int
    replicas_per_node: int  # data-parallel ranks behind one engine server
    kv_tokens_per_replica: int
    max_concurrency_per_replica: float
    demand_per_replica: float  # requests in flight the workload puts on one replica
    prompt_tokens: int
    output_tokens: int
    batch_per_replica: int | None = None
    tpot_ms: float | None = None
    ttft_ms: float | None = None
    tokens_per_second: float | None = None  # output tokens/s of one replica at its batch
    tpot_target_ms: float | None = None  # the load's latency targets, when the spec set them
    ttft_target_ms: float | None = None
    memory_fraction: float | None = None
    kv_cache_dtype: str | None = None
    hardware: Hardware | None = None

    @property
    def engine_display(self) -> str:
        return ENGINE_DISPLAY.get(self.engine, self.engine)

    def capacity(self) -> Expected:
        return Expected(
            engine=self.engine, context=self.context, kv_tokens=self.kv_tokens_per_replica,
            max_concurrency=self.max_concurrency_per_replica, demand=self.demand_per_replica,
            replicas=self.replicas, replicas_per_endpoint=self.replicas_per_node,
            memory_fraction=self.memory_fraction, kv_cache_dtype=self.kv_cache_dtype)

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    def for_load(self, prompt_tokens: int, output_tokens: int, concurrency: int) -> Prediction:
        """The plan's speeds at other request lengths or another concurrency, from the same
        speed model the plan used; without what that model needs, no speed figures at all
        (a figure for other lengths would be compared with the wrong thing)."""
        if (prompt_tokens, output_tokens, concurrency) == (
                self.prompt_tokens, self.output_tokens, self.concurrency):
            return self
        from dataclasses import replace

        batch = max(1, math.ceil(concurrency / self.replicas))
        fast = _speed(self.hardware, prompt_tokens, output_tokens, batch)
        return replace(
            self, prompt_tokens=prompt_tokens, output_tokens=output_tokens,
            batch_per_replica=batch if fast else None,
            tpot_ms=fast.tpot_ms if fast else None, ttft_ms=fast.ttft_ms if fast else None,
            tokens_per_second=fast.output_tokens_per_s if fast else None)


def _speed(hardware: Hardware | None, prompt: int, output: int, batch: int) -> Any:
    if hardware is None:
        return None
    from llmplan.gpus import canonical_gpu_name, get_gpu
    from llmplan.model.registry import load_model
    from llmplan.sizing.precision import Precision, resolve_precision
    from llmplan.sizing.throughput import ReplicaShape, speed
    from llmplan.workload import Workload

    try:
        arch = load_model(hardware.model)
        name = canonical_gpu_name(hardware.gpu)
        gpu = get_gpu(name or hardware.gpu)
    except LlmplanError:
        return None
    if hardware.precision is not None:
        precision = Precision(hardware.precision, hardware.quantization, hardware.kv_cache_dtype)
    else:
        precision = resolve_precision(arch, Workload(model=hardware.model,
                                                     kv_cache_dtype="fp8" if hardware
                                                     .kv_cache_dtype == "fp8" else "auto"))
    shape = ReplicaShape(hardware.tensor_parallel, hardware.pipeline_parallel,
                         hardware.nodes_per_replica)
    return speed(arch, gpu, precision, shape, batch, prompt, output)


# --- from a plan JSON


def from_plan_json(path: str, cloud: str | None = None,
                   instance_type: str | None = None) -> Prediction:
    """The first candidate of ``path`` (cheapest), or the first on ``cloud`` / ``instance_type``."""
    where = f"--plan {path}"
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{where}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UsageError(f"{where}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("candidates"), list) or not \
            isinstance(doc.get("workload"), dict):
        raise UsageError(f"{where}: not a plan (expected the output of llmplan plan --format "
                         "json, with 'workload' and 'candidates')")
    candidates = [c for c in doc["candidates"] if isinstance(c, dict)
                  and (cloud is None or c.get("cloud") == cloud)
                  and (instance_type is None or c.get("instance_type") == instance_type)]
    if not candidates:
        wanted = " ".join(x for x in (cloud, instance_type) if x) or "any"
        raise UsageError(f"{where}: no candidate matches ({wanted}); the plan has "
                         f"{len(doc['candidates'])}")
    c, w = candidates[0], doc["workload"]
    index = doc["candidates"].index(c) + 1
    try:
        replicas = int(c["replicas"])
        max_conc = float(c["max_concurrency"])
        headroom = float(c.get("headroom") or 0) or None
        concurrency = int(w["concurrency"])
        context = int(w["context"])
        prediction = Prediction(
            source=(f"{path}, candidate {index}: {c['cloud']} {c['instance_type']} "
                    f"({c['gpu_count']}x {c['gpu']}) x {c['nodes']} node(s), {c['tier']}"),
            model=str(doc.get("model") or ""),
            engine=str(w["engine"]),
            context=context,
            concurrency=concurrency,
            replicas=replicas,
            replicas_per_node=int(c.get("data_parallel_per_node") or 1),
            kv_tokens_per_replica=int(c["kv_tokens_per_replica"]),
            max_concurrency_per_replica=max_conc / replicas,
            # The plan's demand (its concurrency, or the load's in-flight requests) is
            # capacity / headroom; per replica it is that over the replicas.
            demand_per_replica=round((max_conc / headroom if headroom else concurrency)
                                     / replicas, 2),
            prompt_tokens=int(w.get("prompt_tokens") or max(1, context * 3 // 4)),
            output_tokens=int(w.get("output_tokens") or max(1, context // 4)),
            batch_per_replica=_opt_int(c.get("batch_per_replica")),
            tpot_ms=_opt_float(c.get("tpot_ms")),
            ttft_ms=_opt_float(c.get("ttft_ms")),
            tokens_per_second=_opt_float(c.get("tokens_per_second")),
            tpot_target_ms=_opt_float((w.get("load") or {}).get("tpot_ms")),
            ttft_target_ms=_opt_float((w.get("load") or {}).get("ttft_ms")),
            memory_fraction=_opt_float(c.get("memory_fraction")),
            kv_cache_dtype=c.get("kv_cache_dtype") if isinstance(c.get("kv_cache_dtype"), str)
            else None,
            hardware=Hardware(
                model=str(doc.get("model") or ""), gpu=str(c["gpu"]),
                tensor_parallel=int(c["tensor_parallel"]),
                pipeline_parallel=int(c["pipeline_parallel"]),
                nodes_per_replica=max(1, round(int(c["nodes"]) * int(
                    c.get("data_parallel_per_node") or 1) / replicas)),
                precision=c.get("precision") if isinstance(c.get("precision"), str) else None,
                quantization=c.get("quantization") if isinstance(c.get("quantization"), str)
                else None,
                kv_cache_dtype=str(c.get("kv_cache_dtype") or "auto")),
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise UsageError(f"{where}: candidate {index} lacks a usable {exc} "
                         "(regenerate it with llmplan plan --format json)") from None
    return prediction


def _opt_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _opt_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- from generated Terraform


def from_terraform(directory: str) -> Prediction:
    """Size the deployment a Terraform folder declares, the way ``plan`` sized it.

    Reads what ``llmplan check`` reads (tags, boot-script engine flags, the instance's GPUs) and
    sizes one replica at its share of the concurrency; speeds use the plan's default request
    lengths (the load's own lengths are not written into Terraform).
    """
    from dataclasses import replace

    from llmplan.check import base
    from llmplan.check.deployments import build
    from llmplan.check.runner import repo_root
    from llmplan.plan.demand import request_lengths
    from llmplan.serving.intent import find_config, load_config
    from llmplan.sizing.memory import size_on
    from llmplan.sizing.throughput import ReplicaShape, speed
    from llmplan.terraform.evaluation import Evaluation
    from llmplan.terraform.module import Module

    where = f"--from-terraform {directory}"
    folder = Path(directory)
    if not folder.is_dir():
        raise UsageError(f"{where}: not a folder")
    if not any(folder.glob("*.tf")):
        raise UsageError(f"{where}: no .tf files in it")
    module = Module(folder, repo_root(folder))
    found = build(Evaluation(module), load_config(find_config(folder)))
    # A machine's flags and its GPUs may sit on two resources (an instance and its launch
    # template): pair the first engine found with the first GPU machine.
    serving = [d for d in found if d.served is not None and d.served.engine]
    gpus = [d for d in found if d.compute is not None and d.compute.has_gpus]
    if not serving or not gpus:
        raise UsageError(f"{where}: no GPU machine running a serving engine found "
                         "(llmplan verify reads what llmplan generate writes)")
    models = {str(d.served.model if d.served else "") for d in serving}
    if len(models) > 1:
        raise UsageError(f"{where}: several deployments ({', '.join(sorted(models))}); "
                         "verify one at a time with --plan")
    first = serving[0]
    with_gpus = first if first in gpus else gpus[0]
    dep = base.Deployment(with_gpus.compute, first.served, first.intent, with_gpus.region)
    arch, label = base.model(dep)
    if arch is None and dep.intent.model:
        # The flag's value may be unknown statically (a scale set's discovery script sets it);
        # the llmplan-model tag says what was planned.
        from llmplan.model.references import resolve_model

        arch, label = resolve_model(dep.intent.model)
    gpu = base.gpu_spec(dep)
    engine = base.engine_profile(dep)
    layout = base.parallelism(dep)
    if arch is None or gpu is None or engine is None or layout is None:
        missing = [name for name, v in (("model", arch), ("GPU", gpu), ("engine", engine),
                                        ("parallelism", layout)) if v is None]
        raise UsageError(f"{where}: cannot tell the {', '.join(missing)} of {dep.resource}")
    ctx, _default = base.context(dep, arch)
    spec = base.workload(dep, arch, ctx or arch.max_position_embeddings)
    if spec is None or ctx is None:
        raise UsageError(f"{where}: {dep.resource} has engine flags llmplan cannot size "
                         "(unknown precision or context)")
    tp, pp, dp = layout
    served = first.served
    assert served is not None
    nodes_per_replica = dep.intent.nodes or base.known_int(served.nodes) or 1
    concurrency = dep.intent.concurrency or spec.concurrency
    # The engine admits each replica's share (SGLang counts all its data-parallel ranks).
    admitted = base.known_int(served.max_num_seqs)
    if admitted and engine.name == "sglang":
        admitted = max(1, admitted // dp)
    per_replica = admitted or concurrency
    counted = {id(d.compute): d.compute.nodes or 0 for d in serving + gpus if d.compute}
    nodes = sum(counted.values()) or 1
    # Node counts a reader cannot see (a managed instance group's size) show in the share.
    replicas = max(max(1, nodes // nodes_per_replica) * dp, math.ceil(concurrency / per_replica))
    sized = size_on(arch, replace(spec, concurrency=per_replica), gpu, engine, tp, pp)
    prompt, output = request_lengths(spec)
    fast = speed(arch, gpu, sized.precision, ReplicaShape(tp, pp, nodes_per_replica),
                 per_replica, prompt, output)
    compute = dep.compute
    assert compute is not None
    return Prediction(
        source=(f"{directory}: {compute.address} ({compute.type_name}, {compute.gpu_count}x "
                f"{compute.gpu}), {label}"),
        model=arch.model_id,
        engine=engine.name,
        context=ctx,
        concurrency=concurrency,
        replicas=replicas,
        replicas_per_node=dp,
        kv_tokens_per_replica=sized.kv_tokens,
        max_concurrency_per_replica=sized.max_concurrency,
        demand_per_replica=round(concurrency / replicas, 2),
        prompt_tokens=prompt,
        output_tokens=output,
        batch_per_replica=per_replica,
        tpot_ms=fast.tpot_ms,
        ttft_ms=fast.ttft_ms,
        tokens_per_second=fast.output_tokens_per_s,
        memory_fraction=sized.memory_fraction,
        kv_cache_dtype=sized.precision.kv_cache,
        hardware=Hardware(arch.model_id, gpu.name, tp, pp, nodes_per_replica,
                          sized.precision.weights, sized.precision.method,
                          sized.precision.kv_cache),
    )
