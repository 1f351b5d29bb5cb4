"""Memory sizing: weights, KV cache and engine overheads per GPU, for one way of sharding a model.

Pure functions over facts (architecture, GPU, engine profile); no I/O. All sizes are bytes unless a
name says GiB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from llmplan.model.architecture import ModelArchitecture
from llmplan.engines.profiles import EngineProfile
from llmplan.gpus import GIB, GpuSpec
from llmplan.workload import Workload

# Bytes per weight by precision, for the part of the model that is quantized.
_DENSE_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}
# Group-quantized 4-bit layouts: 4-bit codes plus one 16-bit scale (and a packed 4-bit zero point
# for AWQ/GPTQ) per group of 128 input weights; MXFP4 has an 8-bit scale per 32 weights.
_INT4_BYTES = {
    "awq": 0.5 + (2 + 0.5) / 128,
    "gptq": 0.5 + (2 + 0.5) / 128,
    "mxfp4": 0.5 + 1 / 32,
    "bitsandbytes": 0.5 + 4 / 64,
}
_GROUP_SIZE = {"awq": 128, "gptq": 128}
_DEFAULT_METHOD = {"fp8": "fp8", "int8": "w8a8", "int4": "awq"}
_CHECKPOINT_PRECISION = {
    "float32": "fp32",
    "fp32": "fp32",
    "bfloat16": "bf16",
    "bf16": "bf16",
    "float16": "fp16",
    "fp16": "fp16",
    "fp8": "fp8",
    "float8": "fp8",
    "int8": "int8",
    "mxfp4": "int4",
    "int4": "int4",
    "awq": "int4",
    "gptq": "int4",
}
_CHECKPOINT_METHOD = {"mxfp4": "mxfp4", "awq": "awq", "gptq": "gptq", "fp8": "fp8", "float8": "fp8"}

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
# vLLM's MXFP4 MoE kernels pad each rank's expert width to 128 and the hidden width to 256.
MXFP4_INTERMEDIATE_ALIGN = 128
MXFP4_HIDDEN_ALIGN = 256

MAX_GPUS_PER_NODE = 8
# Sequences whose logits SGLang materialises at once (its CUDA-graph batch sizes stop near here).
STATIC_MAX_SEQS = 256


@dataclass(frozen=True)
class Precision:
    weights: str
    method: str | None
    kv_cache: str

    @property
    def label(self) -> str:
        return f"{self.weights}/{self.method}" if self.method else self.weights


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


def resolve_precision(arch: ModelArchitecture, workload: Workload) -> Precision:
    """The weight precision and method: the spec's, else the checkpoint's own."""
    native = arch.checkpoint_dtype.lower()
    weights = workload.precision or _CHECKPOINT_PRECISION.get(native, "bf16")
    method = workload.quantization
    if method is None and workload.precision is None:
        method = _CHECKPOINT_METHOD.get(native)
    if method is None and weights in _DEFAULT_METHOD:
        method = _DEFAULT_METHOD[weights]
    return Precision(weights=weights, method=method, kv_cache=workload.kv_cache_dtype)


def _kv_dtype_bytes(precision: Precision) -> int:
    if precision.kv_cache == "fp8":
        return 1
    return 4 if precision.weights == "fp32" else 2


@dataclass(frozen=True)
class WeightBytes:
    """Whole-model weight bytes by where they sit."""

    embedding: float
    lm_head: float
    vision: float
    body: float

    @property
    def total(self) -> float:
        return self.embedding + self.lm_head + self.vision + self.body


def weight_bytes(arch: ModelArchitecture, precision: Precision) -> WeightBytes:
    """Bytes of the checkpoint as loaded: quantized layers at their packed size, the rest 16-bit."""
    keep = 4.0 if precision.weights == "fp32" else 2.0
    # The served weights: DeepSeek's multi-token-prediction module is loaded only for speculation.
    body_params = (
        arch.served_parameters
        - arch.embedding_parameters
        - arch.lm_head_parameters
        - arch.vision_parameters
    )
    if precision.weights == "int4":
        packed = _INT4_BYTES.get(precision.method or "awq", _INT4_BYTES["awq"])
    else:
        packed = _DENSE_BYTES[precision.weights]
    if precision.method == "mxfp4" and arch.is_moe:
        # MXFP4 checkpoints (gpt-oss) quantize only the routed experts; attention stays 16-bit.
        body = arch.expert_parameters * packed + (body_params - arch.expert_parameters) * keep
    else:
        body = body_params * packed
    return WeightBytes(
        embedding=arch.embedding_parameters * keep,
        lm_head=arch.lm_head_parameters * keep,
        vision=arch.vision_parameters * 2.0,
        body=body,
    )


def _round_up(value: float, align: int) -> int:
    return int(math.ceil(value / align) * align)


def _mxfp4_padding_bytes(arch: ModelArchitecture, precision: Precision, tp: int) -> float:
    """Extra bytes the padded MXFP4 expert tensors take over the checkpoint's packed size."""
    width = round(_moe_width(arch))
    hidden = arch.hidden_size
    factor = (_round_up(width / tp, MXFP4_INTERMEDIATE_ALIGN) * tp / width) * (
        _round_up(hidden, MXFP4_HIDDEN_ALIGN) / hidden
    )
    packed = _INT4_BYTES["mxfp4"]
    return arch.expert_parameters * packed * (factor - 1)


def _stage_layers(num_layers: int, pipeline: int) -> int:
    return math.ceil(num_layers / pipeline)


def weights_per_gpu(arch: ModelArchitecture, precision: Precision, tp: int, pp: int) -> int:
    """Weight bytes on the fullest GPU: its share of the layers, plus embeddings at the ends."""
    wb = weight_bytes(arch, precision)
    per_layer = wb.body / arch.num_layers
    layers = _stage_layers(arch.num_layers, pp)
    lm_head = wb.lm_head if wb.lm_head else (wb.embedding if pp > 1 else 0.0)
    if precision.method == "mxfp4" and arch.is_moe:
        wb = replace(wb, body=wb.body + _mxfp4_padding_bytes(arch, precision, tp))
    if pp == 1:
        total = wb.total
    else:
        first = layers * per_layer + wb.embedding + wb.vision
        last = (arch.num_layers - layers * (pp - 1)) * per_layer + lm_head
        total = max(first, last, layers * per_layer)
    return int(total / tp)


def kv_heads_per_gpu(arch: ModelArchitecture, tp: int) -> int:
    # With more ranks than KV heads each rank keeps a replica of one head.
    return max(1, arch.num_kv_heads // tp)


def kv_layer_bytes_per_token(arch: ModelArchitecture, precision: Precision, tp: int) -> int:
    """KV bytes one token costs in one layer on one GPU."""
    dtype = _kv_dtype_bytes(precision)
    if arch.is_mla:
        # MLA caches one compressed latent plus the rope key, shared by all heads: TP does not
        # split it, every rank holds the whole latent for its layers.
        return ((arch.kv_lora_rank or 0) + (arch.qk_rope_head_dim or 0)) * dtype
    return 2 * kv_heads_per_gpu(arch, tp) * arch.head_dim * dtype


def kv_bytes_per_token_per_gpu(
    arch: ModelArchitecture, precision: Precision, tp: int, pp: int
) -> int:
    return kv_layer_bytes_per_token(arch, precision, tp) * _stage_layers(arch.num_layers, pp)


def kv_bytes_per_request_per_gpu(
    arch: ModelArchitecture,
    precision: Precision,
    tp: int,
    pp: int,
    context: int,
    engine: EngineProfile,
) -> int:
    """KV bytes one full-length request holds on the fullest GPU.

    Engines with a hybrid allocator keep only the window for sliding-window layers.
    """
    per_layer = kv_layer_bytes_per_token(arch, precision, tp)
    layers = _stage_layers(arch.num_layers, pp)
    if not (engine.sliding_window_aware and arch.sliding_window and arch.sliding_window_layers):
        return per_layer * layers * context
    share = arch.sliding_window_layers / arch.num_layers
    swa_layers = round(layers * share)
    window = min(context, arch.sliding_window + engine.kv_block_tokens)
    return per_layer * ((layers - swa_layers) * context + swa_layers * window)


def activation_bytes_per_gpu(
    arch: ModelArchitecture, tp: int, batched_tokens: int, max_seqs: int
) -> int:
    """Peak activation memory of the engine's profiling forward pass on one GPU."""
    ffn = arch.experts_per_token * _moe_width(arch) if arch.is_moe else _dense_width(arch)
    per_token = ACTIVATION_HIDDEN_BYTES * arch.hidden_size + ACTIVATION_FFN_BYTES * ffn / tp
    sampler = min(max_seqs, batched_tokens) * arch.vocab_size * SAMPLER_BYTES_PER_VOCAB_SEQ
    return int(batched_tokens * per_token + sampler)


def _dense_width(arch: ModelArchitecture) -> float:
    if arch.intermediate_size:
        return float(arch.intermediate_size)
    # Hand-built records may lack the width; recover it from the per-layer parameters.
    attn = arch.hidden_size * arch.head_dim * (2 * arch.num_attention_heads + 2 * arch.num_kv_heads)
    body = arch.total_parameters - arch.embedding_parameters - arch.lm_head_parameters
    body -= arch.vision_parameters
    mlp_per_layer = max(0.0, body / arch.num_layers - attn)
    return mlp_per_layer / (3 * arch.hidden_size)


def _moe_width(arch: ModelArchitecture) -> float:
    if arch.moe_intermediate_size:
        return float(arch.moe_intermediate_size)
    per_expert = arch.expert_parameters / max(1, arch.num_layers * arch.num_experts)
    return per_expert / (3 * arch.hidden_size)


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
    if precision is not None and precision.method in _GROUP_SIZE and tp > 1:
        group = _GROUP_SIZE[precision.method]
        width = _moe_width(arch) if arch.is_moe else _dense_width(arch)
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
