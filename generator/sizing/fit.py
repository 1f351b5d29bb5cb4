"""The fewest GPUs that fit, the TP x PP layouts of a GPU count, and what would fit instead.

Searches over :func:`llmplan.sizing.memory.size_on`; pure.
"""

from __future__ import annotations

import math
from dataclasses import replace

from llmplan.engines.profiles import EngineProfile
from llmplan.gpus import GpuSpec
from llmplan.model.architecture import ModelArchitecture
from llmplan.sizing.memory import SizingResult, parallelism_problems, size_on
from llmplan.workload import Workload

MAX_GPUS_PER_NODE = 8


def layouts(gpu_count: int, gpus_per_node: int = MAX_GPUS_PER_NODE) -> list[tuple[int, int]]:
    """(TP, PP) pairs using exactly ``gpu_count`` GPUs: TP inside a node, PP across nodes.

    The widest TP comes first.
    """
    out = []
    tp = min(gpu_count, gpus_per_node)
    while tp >= 1:
        if gpu_count % tp == 0:
            out.append((tp, gpu_count // tp))
        tp -= 1
    return out


GPU_COUNTS = (1, 2, 4, 8, 16, 24, 32, 48, 64)


def fewest_gpus(
    arch: ModelArchitecture,
    workload: Workload,
    gpu: GpuSpec,
    engine: EngineProfile,
    max_gpus: int = 64,
) -> SizingResult:
    """The smallest replica of ``gpu`` that fits; if none does, the largest tried, with why."""
    last: SizingResult | None = None
    for count in GPU_COUNTS:
        if count > max_gpus:
            break
        best: SizingResult | None = None
        for tp, pp in layouts(count):
            result = size_on(arch, workload, gpu, engine, tp, pp)
            if result.fits:
                best = result
                break
            if best is None and not parallelism_problems(arch, tp, pp, result.precision):
                best = result
        if best is not None and best.fits:
            return best
        last = best or last
    if last is None:
        last = size_on(arch, workload, gpu, engine, 1, 1)
    return replace(last, suggestions=tuple(suggest(arch, workload, gpu, engine, last)))


def suggest(
    arch: ModelArchitecture,
    workload: Workload,
    gpu: GpuSpec,
    engine: EngineProfile,
    failed: SizingResult,
) -> list[str]:
    """What would fit instead of ``failed``: each a concrete, checked alternative."""
    tips: list[str] = []
    tp, pp = failed.tensor_parallel, failed.pipeline_parallel
    current = failed.precision
    trials: list[tuple[str, Workload]] = []
    if current.kv_cache != "fp8":
        trials.append(
            ("use an fp8 KV cache (--kv-cache-dtype fp8)", replace(workload, kv_cache_dtype="fp8"))
        )
    if current.weights in ("fp32", "bf16", "fp16"):
        trials.append(
            (
                "quantize the weights to fp8 (--precision fp8)",
                replace(workload, precision="fp8", quantization="fp8"),
            )
        )
    if current.weights != "int4":
        trials.append(
            (
                "quantize the weights to int4 AWQ (--precision int4 --quantization awq)",
                replace(workload, precision="int4", quantization="awq"),
            )
        )
    for label, trial in trials:
        if size_on(arch, trial, gpu, engine, tp, pp).fits:
            tips.append(f"{label} on the same {failed.gpu_count} x {gpu.name}")
    if failed.kv_cache_bytes_per_gpu > 0 and failed.kv_tokens >= workload.concurrency:
        shorter = failed.kv_tokens // workload.concurrency // 256 * 256
        if 0 < shorter < workload.context:
            tips.append(f"shorten the context to {shorter:,} tokens (--context {shorter})")
        if failed.max_concurrency >= 1:
            tips.append(
                f"serve at most {int(failed.max_concurrency)} concurrent requests "
                f"(--concurrency {int(failed.max_concurrency)})"
            )
    nodes = math.ceil(failed.gpu_count / MAX_GPUS_PER_NODE)
    for count in GPU_COUNTS:
        if count <= failed.gpu_count:
            continue
        for ttp, tpp in layouts(count):
            if size_on(arch, workload, gpu, engine, ttp, tpp).fits:
                where = (
                    "one node"
                    if count <= MAX_GPUS_PER_NODE
                    else (f"{math.ceil(count / MAX_GPUS_PER_NODE)} nodes with a fast network")
                )
                tips.append(f"use {count} x {gpu.name} (TP={ttp}, PP={tpp}) on {where}")
                break
        else:
            continue
        break
    if not tips and nodes >= 1:
        tips.append(f"use GPUs with more memory than {gpu.name} ({gpu.memory_gb:g} GB)")
    return tips
