"""Memory sizing: weights, KV cache and engine overheads per GPU, for one way of sharding a model.

Pure functions over facts (architecture, GPU, engine profile); no I/O. All sizes are bytes unless a
name says GiB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmplan.engines.profiles import EngineProfile
from llmplan.gpus import GIB, GpuSpec
from llmplan.model.architecture import ModelArchitecture
from llmplan.sizing.kv import kv_bytes_per_request_per_gpu, kv_bytes_per_token_per_gpu
from llmplan.sizing.precision import GROUP_SIZE, Precision, resolve_precision
from llmplan.sizing.weights import dense_width, moe_width, weights_per_gpu
from llmplan.workload import Workload

# Engine overheads outside the weights and the KV cache. Calibrated against vLLM start-up logs
# (tests/fixtures/vllm_startup); see tests/test_calibration.py for the error they reach.
CUDA_CONTEXT_BYTES = int(0.25 * GIB)
# NCCL plus custom all-reduce buffers per rank once TP >= 2: about 1.9 GiB where vLLM's custom
# all-reduce runs (NVLink), far less where it is disabled (PCIe without P2P).
NCCL_BYTES_TP = {"nvlink": int(1.85 * GIB), "pcie": int(0.35 * GIB)}
# The profiling forward pass: a few hidden-width buffers per token plus the MLP's widest tensor.
ACTIVATION_HIDDEN_BYTES = 4
ACTIVATION_FFN_BYTES = 1
# The dummy sampler run holds fp32 logits, probabilities and sorting buffers for every sequence.
SAMPLER_BYTES_PER_VOCAB_SEQ = 14

# Sequences whose logits SGLang materialises at once (its CUDA-graph batch sizes stop near here).
STATIC_MAX_SEQS = 256


@dataclass(frozen=True)
class SizingResult:
    """The memory picture of one replica: ``gpu_count`` GPUs as TP x PP."""

    model_id: str
    parameters: int
    active_parameters: int
    gpu: str
    gpu_count: int
    tensor_parallel: int
    pipeline_parallel: int
    engine: str
    precision: Precision
    context: int
    concurrency: int
    memory_fraction: float
    usable_bytes_per_gpu: int
    budget_bytes_per_gpu: int
    weights_bytes_per_gpu: int
    activation_bytes_per_gpu: int
    non_torch_bytes_per_gpu: int
    kv_cache_bytes_per_gpu: int
    kv_bytes_per_token_per_gpu: int
    kv_bytes_per_request_per_gpu: int
    kv_tokens: int
    max_concurrency: float
    fits: bool
    reasons: tuple[str, ...] = field(default=())
    suggestions: tuple[str, ...] = field(default=())

    @property
    def headroom(self) -> float:
        """How many times the requested concurrency the KV cache holds (1.0 = exactly)."""
        return self.max_concurrency / self.concurrency if self.concurrency else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "parameters": self.parameters,
            "active_parameters": self.active_parameters,
            "engine": self.engine,
            "precision": self.precision.weights,
            "quantization": self.precision.method,
            "kv_cache_dtype": self.precision.kv_cache,
            "gpu": self.gpu,
            "gpu_count": self.gpu_count,
            "tensor_parallel": self.tensor_parallel,
            "pipeline_parallel": self.pipeline_parallel,
            "memory_fraction": self.memory_fraction,
            "usable_gib_per_gpu": _gib(self.usable_bytes_per_gpu),
            "weights_gib_per_gpu": _gib(self.weights_bytes_per_gpu),
            "activation_gib_per_gpu": _gib(self.activation_bytes_per_gpu),
            "non_torch_gib_per_gpu": _gib(self.non_torch_bytes_per_gpu),
            "kv_cache_gib_per_gpu": _gib(self.kv_cache_bytes_per_gpu),
            "kv_bytes_per_token_per_gpu": self.kv_bytes_per_token_per_gpu,
            "kv_tokens": self.kv_tokens,
            "context": self.context,
            "concurrency": self.concurrency,
            "max_concurrency": round(self.max_concurrency, 2),
            "fits": self.fits,
            "reasons": list(self.reasons),
            "suggestions": list(self.suggestions),
        }


def _gib(n: int) -> float:
    return round(n / GIB, 2)


def activation_bytes_per_gpu(
    arch: ModelArchitecture, tp: int, batched_tokens: int, max_seqs: int
) -> int:
    """Peak activation memory of the engine's profiling forward pass on one GPU."""
    ffn = arch.experts_per_token * moe_width(arch) if arch.is_moe else dense_width(arch)
    per_token = ACTIVATION_HIDDEN_BYTES * arch.hidden_size + ACTIVATION_FFN_BYTES * ffn / tp
    sampler = min(max_seqs, batched_tokens) * arch.vocab_size * SAMPLER_BYTES_PER_VOCAB_SEQ
    return int(batched_tokens * per_token + sampler)


def parallelism_problems(
    arch: ModelArchitecture, tp: int, pp: int, precision: Precision | None = None
) -> list[str]:
    """Why an engine would refuse this TP x PP for this model (empty when it is valid)."""
    problems: list[str] = []
    if tp < 1 or pp < 1:
        return [f"parallel sizes must be >= 1 (got TP={tp}, PP={pp})"]
    if arch.num_attention_heads % tp:
        problems.append(
            f"{arch.num_attention_heads} attention heads are not divisible by tensor parallel {tp}"
        )
    kv = arch.num_kv_heads
    if not arch.is_mla and kv % tp and tp % kv:
        problems.append(
            f"{kv} KV heads and tensor parallel {tp} are incompatible (one must divide the other)"
        )
    if pp > arch.num_layers:
        problems.append(f"pipeline parallel {pp} exceeds the model's {arch.num_layers} layers")
    if precision is not None and precision.method in GROUP_SIZE and tp > 1:
        group = GROUP_SIZE[precision.method]
        width = moe_width(arch) if arch.is_moe else dense_width(arch)
        shard = round(width) / tp
        if shard % group:
            problems.append(
                f"{precision.method.upper()} group size {group} does not divide the "
                f"{round(width)}-wide MLP split {tp} ways"
            )
    return problems


def size_on(
    arch: ModelArchitecture,
    workload: Workload,
    gpu: GpuSpec,
    engine: EngineProfile,
    tp: int,
    pp: int = 1,
) -> SizingResult:
    """Size one replica of ``tp x pp`` GPUs of type ``gpu`` for ``workload``."""
    precision = resolve_precision(arch, workload)
    # FP8 weights on a GPU without FP8 tensor cores still load (weight-only FP8 kernels), with the
    # same memory, so precision never disqualifies a GPU here; speed is the roofline's business.
    reasons = parallelism_problems(arch, tp, pp, precision)
    fraction = engine.memory_fraction(tp, workload.memory_fraction)
    usable = gpu.usable_bytes
    weights = weights_per_gpu(arch, precision, tp, pp)
    default_tokens, max_seqs = engine.batch_defaults(gpu.memory_gib_usable, gpu.name)
    batched = workload.max_batched_tokens or default_tokens
    activation = activation_bytes_per_gpu(arch, tp, batched, max_seqs)
    link = "nvlink" if gpu.interconnect in ("nvlink", "xgmi") else "pcie"
    non_torch = CUDA_CONTEXT_BYTES + (NCCL_BYTES_TP[link] if tp * pp > 1 else 0)
    runtime_room = usable
    if engine.fraction_of == "free":
        budget = usable
        kv_cache = int((usable - weights - activation - non_torch) * fraction)
    elif engine.fraction_of == "static":
        # SGLang's fraction covers only the weights and the KV pool; activations, CUDA graphs and
        # NCCL live in what is left, and its decode batch rarely exceeds a few hundred sequences.
        budget = int(usable * fraction)
        kv_cache = budget - weights
        runtime_room = usable - budget
        activation = activation_bytes_per_gpu(arch, tp, batched, min(max_seqs, STATIC_MAX_SEQS))
    else:
        budget = int(usable * fraction)
        kv_cache = budget - weights - activation - non_torch
    per_token = kv_bytes_per_token_per_gpu(arch, precision, tp, pp)
    per_request = kv_bytes_per_request_per_gpu(arch, precision, tp, pp, workload.context, engine)
    block = engine.kv_block_tokens
    if kv_cache > 0:
        kv_tokens = (kv_cache // (per_token * block)) * block
        max_conc = kv_cache / per_request if per_request else 0.0
        if per_request == per_token * workload.context:
            max_conc = kv_tokens / workload.context
    else:
        kv_tokens, max_conc = 0, 0.0
    if engine.fraction_of == "static" and weights > budget:
        reasons.append(
            f"weights ({_gib(weights)} GiB) exceed the {_gib(budget)} GiB of static memory on "
            f"each {gpu.name} ({fraction:g} x {_gib(usable)} GiB)"
        )
    elif engine.fraction_of == "static" and activation + non_torch > runtime_room:
        reasons.append(
            f"activations and runtime overhead ({_gib(activation + non_torch)} GiB) exceed the "
            f"{_gib(runtime_room)} GiB left outside the static fraction on each {gpu.name}; "
            "lower the memory fraction"
        )
    elif engine.fraction_of != "static" and weights + activation + non_torch > budget:
        reasons.append(
            f"weights ({_gib(weights)} GiB) plus activations and runtime overhead "
            f"({_gib(activation + non_torch)} GiB) exceed the {_gib(budget)} GiB the engine may "
            f"use on each {gpu.name} ({fraction:g} x {_gib(usable)} GiB)"
        )
    elif max_conc < 1:
        reasons.append(
            f"the KV cache holds {kv_tokens:,} tokens, less than one {workload.context:,}-token "
            "request"
        )
    elif max_conc < workload.concurrency:
        reasons.append(
            f"the KV cache holds {max_conc:.1f} requests of {workload.context:,} tokens, "
            f"fewer than the {workload.concurrency} requested"
        )
    if workload.context > arch.max_position_embeddings:
        reasons.append(
            f"context {workload.context:,} exceeds the model's maximum of "
            f"{arch.max_position_embeddings:,} tokens"
        )
    return SizingResult(
        model_id=arch.model_id,
        parameters=arch.total_parameters,
        active_parameters=arch.active_parameters,
        gpu=gpu.name,
        gpu_count=tp * pp,
        tensor_parallel=tp,
        pipeline_parallel=pp,
        engine=engine.name,
        precision=precision,
        context=workload.context,
        concurrency=workload.concurrency,
        memory_fraction=fraction,
        usable_bytes_per_gpu=usable,
        budget_bytes_per_gpu=budget,
        weights_bytes_per_gpu=weights,
        activation_bytes_per_gpu=activation,
        non_torch_bytes_per_gpu=non_torch,
        kv_cache_bytes_per_gpu=max(0, kv_cache),
        kv_bytes_per_token_per_gpu=per_token,
        kv_bytes_per_request_per_gpu=per_request,
        kv_tokens=kv_tokens,
        max_concurrency=max_conc,
        fits=not reasons,
        reasons=tuple(reasons),
    )


