"""A roofline model of serving speed: decode bound by memory bandwidth, prefill by compute.

Pure functions over the architecture, the GPU spec and one replica's shape. The efficiency factors
are calibrated against published measurements (tests/fixtures/throughput, tests/test_throughput.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llmplan.gpus import GpuSpec
from llmplan.model.architecture import ModelArchitecture
from llmplan.sizing.kv import kv_bytes_per_token_per_gpu
from llmplan.sizing.precision import Precision
from llmplan.sizing.weights import weight_bytes

# Fractions of the datasheet figure that serving kernels reach. Grid-fitted (mean |log error|)
# against 36 metrics of the 31 scored fixtures in tests/fixtures/throughput: median error 12.7 %,
# worst a factor of 1.68 (python tests/throughput_calibration.py [--fit]).
BANDWIDTH_EFFICIENCY = 0.85
COMPUTE_EFFICIENCY = 0.45
LINK_EFFICIENCY = 0.6
# Fixed cost of one all-reduce (kernel launch + synchronisation), per link kind.
ALLREDUCE_LATENCY_S = {"nvlink": 8e-6, "pcie": 25e-6}
# Per-step scheduler and sampling cost that no roofline sees (Python side of the engine);
# fitted with the factors above, it mostly shows at batch 1 (70B TP2 fp8: 18.6 ms measured).
STEP_OVERHEAD_S = 3.0e-3
CROSS_NODE_HOP_S = 60e-6
PCIE_GBS_DEFAULT = 32.0
# When the GPU table has no dense 16-bit figure (A10G: AWS publishes none), assume a ridge point
# of this many FLOPs per byte of bandwidth, a low end for data-centre GPUs (A10: 208, L4: 403).
FALLBACK_FLOPS_PER_BYTE = 150.0


@dataclass(frozen=True)
class ReplicaShape:
    tensor_parallel: int
    pipeline_parallel: int
    nodes: int = 1


@dataclass(frozen=True)
class Speed:
    """Speed of one replica at ``batch`` concurrent requests."""

    batch: int
    ttft_ms: float
    tpot_ms: float
    output_tokens_per_s: float

    def usd_per_million_tokens(self, hourly_usd: float) -> float:
        if self.output_tokens_per_s <= 0:
            return math.inf
        return hourly_usd / (self.output_tokens_per_s * 3600) * 1e6


def _compute_tflops(gpu: GpuSpec, precision: Precision) -> float:
    if precision.weights == "fp8" and gpu.fp8_dense_tflops:
        return gpu.fp8_dense_tflops
    if precision.weights == "int8" and precision.method == "w8a8" and gpu.int8_dense_tops:
        return gpu.int8_dense_tops
    if gpu.bf16_dense_tflops > 0:
        return gpu.bf16_dense_tflops
    return gpu.memory_bandwidth_gbs * FALLBACK_FLOPS_PER_BYTE / 1e3


def active_weight_bytes(arch: ModelArchitecture, precision: Precision, batch: int) -> float:
    """Weight bytes one decode step reads: for MoE, only the experts the batch's tokens route to."""
    wb = weight_bytes(arch, precision)
    if not arch.is_moe:
        return wb.body + wb.lm_head + (wb.embedding if arch.lm_head_parameters == 0 else 0)
    expert_share = arch.expert_parameters / max(1, wb_params(arch))
    expert_bytes = wb.body * expert_share
    dense_bytes = wb.body - expert_bytes
    # Expected distinct experts hit per layer when `batch` tokens each pick k of E.
    e, k = arch.num_experts, arch.experts_per_token
    touched = e * (1 - (1 - k / e) ** batch)
    return dense_bytes + expert_bytes * touched / e + wb.lm_head


def wb_params(arch: ModelArchitecture) -> int:
    return (
        arch.total_parameters
        - arch.embedding_parameters
        - arch.lm_head_parameters
        - arch.vision_parameters
    )


def _allreduce_s(arch: ModelArchitecture, gpu: GpuSpec, tp: int, tokens: int) -> float:
    """Two all-reduces per layer of ``tokens`` hidden vectors (ring: 2(t-1)/t of the data)."""
    if tp <= 1:
        return 0.0
    link = gpu.interconnect if gpu.interconnect in ALLREDUCE_LATENCY_S else "pcie"
    gbs = (
        gpu.nvlink_gbs if link == "nvlink" and gpu.nvlink_gbs else gpu.pcie_gbs
    ) or PCIE_GBS_DEFAULT
    # NVLink figures are bidirectional; one direction carries the ring's traffic.
    gbs = gbs / 2 if link == "nvlink" else gbs
    data = tokens * arch.hidden_size * 2 * 2 * (tp - 1) / tp
    per = data / (gbs * 1e9 * LINK_EFFICIENCY) + ALLREDUCE_LATENCY_S[link]
    return 2 * arch.num_layers * per


def decode_step_s(
    arch: ModelArchitecture,
    gpu: GpuSpec,
    precision: Precision,
    shape: ReplicaShape,
    batch: int,
    kv_tokens_per_request: int,
) -> float:
    """One decode step for ``batch`` requests each holding ``kv_tokens_per_request`` tokens."""
    tp, pp = shape.tensor_parallel, shape.pipeline_parallel
    weights = active_weight_bytes(arch, precision, batch) / (tp * pp)
    kv = batch * kv_tokens_per_request * kv_bytes_per_token_per_gpu(arch, precision, tp, pp)
    bandwidth = gpu.memory_bandwidth_gbs * 1e9 * BANDWIDTH_EFFICIENCY
    memory_s = (weights + kv) / bandwidth
    flops = 2 * arch.active_parameters * batch / (tp * pp)
    compute_s = flops / (_compute_tflops(gpu, precision) * 1e12 * COMPUTE_EFFICIENCY)
    # Stages run one after another for a token: PP adds capacity, not speed.
    stage = max(memory_s, compute_s) + _allreduce_s(arch, gpu, tp, batch) / pp
    hops = (pp - 1) * (CROSS_NODE_HOP_S if shape.nodes > 1 else 10e-6)
    return pp * stage + hops + STEP_OVERHEAD_S


def prefill_s(
    arch: ModelArchitecture,
    gpu: GpuSpec,
    precision: Precision,
    shape: ReplicaShape,
    prompt_tokens: int,
) -> float:
    """Time to process one prompt: compute-bound matmuls plus causal attention."""
    tp = shape.tensor_parallel
    attention = 2 * arch.num_layers * prompt_tokens**2 * arch.num_attention_heads * arch.head_dim
    flops = 2 * arch.active_parameters * prompt_tokens + attention
    compute_s = flops / (tp * _compute_tflops(gpu, precision) * 1e12 * COMPUTE_EFFICIENCY)
    weights_s = (weight_bytes(arch, precision).total / tp) / (
        gpu.memory_bandwidth_gbs * 1e9 * BANDWIDTH_EFFICIENCY
    )
    return max(compute_s, weights_s) + _allreduce_s(arch, gpu, tp, prompt_tokens)


def speed(
    arch: ModelArchitecture,
    gpu: GpuSpec,
    precision: Precision,
    shape: ReplicaShape,
    batch: int,
    prompt_tokens: int,
    output_tokens: int,
) -> Speed:
    """Steady-state speed with ``batch`` requests in flight under continuous batching.

    Every step decodes one token for each request and, on average, prefills the prompts of the
    ``batch / output_tokens`` requests that replace the finished ones.
    """
    average_kv = prompt_tokens + output_tokens // 2
    decode = decode_step_s(arch, gpu, precision, shape, batch, average_kv)
    ttft = prefill_s(arch, gpu, precision, shape, prompt_tokens)
    step = decode + ttft * batch / max(1, output_tokens)
    return Speed(
        batch=batch, ttft_ms=ttft * 1e3, tpot_ms=step * 1e3, output_tokens_per_s=batch / step
    )


def best_batch(
    arch: ModelArchitecture,
    gpu: GpuSpec,
    precision: Precision,
    shape: ReplicaShape,
    max_batch: int,
    prompt_tokens: int,
    output_tokens: int,
    tpot_ms: float | None = None,
) -> Speed | None:
    """The largest batch (up to what memory allows) whose TPOT meets the target; None if none."""
    if max_batch < 1:
        return None
    lo, hi = 1, max_batch
    first = speed(arch, gpu, precision, shape, 1, prompt_tokens, output_tokens)
    if tpot_ms is not None and first.tpot_ms > tpot_ms:
        return None
    if tpot_ms is None:
        return speed(arch, gpu, precision, shape, max_batch, prompt_tokens, output_tokens)
    # TPOT grows with the batch: binary search for the largest batch within the target.
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if speed(arch, gpu, precision, shape, mid, prompt_tokens, output_tokens).tpot_ms <= tpot_ms:
            lo = mid
        else:
            hi = mid - 1
    return speed(arch, gpu, precision, shape, lo, prompt_tokens, output_tokens)
