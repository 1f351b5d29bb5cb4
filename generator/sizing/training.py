"""Training memory per GPU: weights, gradients, optimizer states, activations and overhead.

Pure functions over the architecture and a :class:`~llmplan.workload.Training` job, for one
layout: ``gpus`` GPUs of one type in one data-parallel group, a sharding stage and activation
checkpointing on or off. Sizes are bytes unless a name says GiB. The accounting and its sources:

- Model states per trainable parameter (ZeRO paper, Rajbhandari et al. 2019, section 3.1): mixed
  precision keeps 16-bit weights (2 B) and gradients (2 B) plus fp32 master weights, momentum and
  variance (K = 12 B) for Adam; pure bf16 (torchtune's recipes) keeps 2 + 2 + 2 x 2; fp32 keeps
  4 + 4 + 2 x 4. DeepSpeed's estimator code counts 18 B for mixed precision (a second, fp32
  gradient copy); this module follows the paper.
- Sharding (ZeRO paper; PyTorch FSDP ``ShardingStrategy``): stage 1 divides the optimizer states
  by the data-parallel degree N, stage 2 also the gradients, stage 3 and FSDP ``FULL_SHARD`` also
  the weights, and then gather one unit (a decoder layer) at a time: the current unit and the
  prefetched next one in 16-bit, plus the unit's gradients (DeepSpeed's estimator: 4 B per
  parameter of the largest gathered layer).
- CPU offload (ZeRO-Offload, FSDP ``CPUOffload``): optimizer states, master weights and gradient
  partitions live in host memory; under stage 3 / FSDP the weight shards too.
- LoRA (PEFT): ``r x (d_in + d_out)`` trainable parameters per adapted matrix; the base stays
  frozen in 16-bit (LoRA) or NF4 with double quantization, 4.127 bits per weight (QLoRA paper,
  Dettmers et al. 2023), for the decoder's linear layers; embeddings, norms and the LM head stay
  16-bit.
- Activations (Korthikanti et al. 2022 generalised to SwiGLU and GQA blocks): per layer and
  token, what autograd saves: both norm inputs, the projection inputs, Q, K and V, the attention
  output, and the four MLP tensors of the gated width. FlashAttention keeps no s x s matrix;
  eager attention adds Korthikanti's ``5 a s^2`` bytes per sequence and layer. Full activation
  checkpointing keeps only each layer's input (their ``2 s b h``) plus one layer being recomputed.
  The loss adds the logits over the whole vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from llmplan.gpus import GIB, GpuSpec
from llmplan.model.architecture import ModelArchitecture
from llmplan.vocabulary import ShardingName
from llmplan.workload import Training

# NF4 codes (4 bits) plus double-quantized block constants (0.127 bit per weight): QLoRA paper.
NF4_BYTES_PER_WEIGHT = 4.127 / 8
# bitsandbytes 8-bit Adam/AdamW: two uint8 states plus one fp32 absmax per 256-value block each.
ADAM_8BIT_BYTES = 2 + 2 * 4 / 256
# Bytes per logit (tokens x vocabulary) while the loss is computed and differentiated: the 16-bit
# logits, their fp32 upcast and log-softmax, and its gradient (Hugging Face's causal-LM loss).
# Calibrated against the HF + FlashAttention-2 rows of tests/fixtures/training (longest context
# that fits a given GPU), where the loss dominates the activations of a checkpointed model.
LOGIT_BYTES = 16
# Not seen by PyTorch's allocator statistics but taken from the GPU: the CUDA context, kernels
# and cuBLAS workspaces ("can take up 1-2 GB", HF model_memory_anatomy).
CUDA_CONTEXT_BYTES = int(1.0 * GIB)
# NCCL communicators and their buffers once there is more than one rank.
NCCL_BYTES = int(0.5 * GIB)
# DeepSpeed ZeRO 1/2 keep all-gather and reduce buckets of 5e8 elements (EleutherAI cookbook's
# calculator, ``zero_allgather_bucket_size``), in 16-bit.
ZERO_BUCKET_ELEMENTS = 500_000_000
# The caching allocator reserves more than it hands out (Answer.AI: 9.16 GiB allocated vs 10.22
# reserved; torchtune: 6.21 vs 6.27): a share of what PyTorch allocates.
ALLOCATOR_SLACK = 0.05

SHARDS_OPTIMIZER = {"zero1", "zero2", "zero3", "fsdp"}
SHARDS_GRADIENTS = {"zero2", "zero3", "fsdp"}
SHARDS_WEIGHTS = {"zero3", "fsdp"}


@dataclass(frozen=True)
class StateBytes:
    """Bytes per trainable parameter of each copy a precision mode keeps."""

    weight: float  # the copy the forward pass reads
    gradient: float
    master: float  # fp32 master weights held by the optimizer (mixed precision only)
    state: float  # one optimizer state value (momentum, variance, factored row/column)
    activation: int  # one activation element


PRECISION_BYTES = {
    "mixed": StateBytes(weight=2, gradient=2, master=4, state=4, activation=2),
    "bf16": StateBytes(weight=2, gradient=2, master=0, state=2, activation=2),
    "fp32": StateBytes(weight=4, gradient=4, master=0, state=4, activation=4),
}


@dataclass(frozen=True)
class Linear:
    """``count`` linear layers of ``d_in -> d_out`` (what LoRA adapts, what Adafactor factors)."""

    name: str
    d_in: int
    d_out: int
    count: int


@cache
def linear_layers(arch: ModelArchitecture) -> tuple[Linear, ...]:
    """The decoder's linear layers: attention projections and MLPs (routed experts included)."""
    h = arch.hidden_size
    q = arch.num_attention_heads * arch.head_dim
    kv = arch.num_kv_heads * arch.head_dim
    layers = arch.num_layers
    out = [
        Linear("q", h, q, layers),
        Linear("k", h, kv, layers),
        Linear("v", h, kv, layers),
        Linear("o", q, h, layers),
    ]
    dense_layers = layers - arch.moe_layers if arch.is_moe else layers
    width = arch.intermediate_size or round(mlp_width(arch))
    if dense_layers and width:
        out += [
            Linear("gate", h, width, dense_layers),
            Linear("up", h, width, dense_layers),
            Linear("down", width, h, dense_layers),
        ]
    if arch.is_moe and arch.moe_intermediate_size:
        experts = arch.moe_layers * arch.num_experts
        w = arch.moe_intermediate_size
        out += [
            Linear("gate", h, w, experts),
            Linear("up", h, w, experts),
            Linear("down", w, h, experts),
        ]
    return tuple(out)


_TARGETS = {
    "all-linear": {"q", "k", "v", "o", "gate", "up", "down"},
    "attention": {"q", "k", "v", "o"},
    "qv": {"q", "v"},
}


@cache
def lora_parameters(arch: ModelArchitecture, rank: int, targets: str) -> int:
    """Trainable adapter parameters: ``r x (d_in + d_out)`` per adapted matrix (PEFT's LoRA)."""
    wanted = _TARGETS[targets]
    return sum(
        rank * (m.d_in + m.d_out) * m.count for m in linear_layers(arch) if m.name in wanted
    )


def attention_parameters_per_layer(arch: ModelArchitecture) -> int:
    h = arch.hidden_size
    q = arch.num_attention_heads * arch.head_dim
    kv = arch.num_kv_heads * arch.head_dim
    return h * (q + 2 * kv) + q * h


@cache
def mlp_width(arch: ModelArchitecture) -> float:
    """The gated MLP width one token passes through, averaged over layers (experts included).

    From the active parameters, so shared experts and dense-first layers count without a
    per-family rule: a gated MLP of width w holds 3 h w weights.
    """
    h = arch.hidden_size
    body = arch.active_parameters - arch.embedding_parameters - arch.lm_head_parameters
    per_layer = body / arch.num_layers - attention_parameters_per_layer(arch) - 2 * h
    return max(0.0, per_layer) / (3 * h)


def body_parameters(arch: ModelArchitecture) -> int:
    """Decoder-layer weights: what QLoRA quantizes (embeddings, LM head and vision stay 16-bit)."""
    return (
        arch.total_parameters
        - arch.embedding_parameters
        - arch.lm_head_parameters
        - arch.vision_parameters
    )


@cache
def layer_parameters(arch: ModelArchitecture) -> int:
    """The largest unit ZeRO-3 / FSDP gathers at once: a decoder layer, or an embedding matrix."""
    layer = body_parameters(arch) / arch.num_layers
    return int(max(layer, arch.embedding_parameters, arch.lm_head_parameters))


def trainable_parameters(arch: ModelArchitecture, training: Training) -> int:
    if training.is_lora:
        return lora_parameters(arch, training.lora_rank, training.lora_targets)
    return arch.total_parameters


def optimizer_bytes_per_parameter(
    arch: ModelArchitecture, training: Training, trainable: int
) -> float:
    """Optimizer-held bytes per trainable parameter: master copy plus states."""
    b = PRECISION_BYTES[training.precision]
    if training.optimizer == "adamw":
        return b.master + 2 * b.state
    if training.optimizer == "adamw-8bit":
        return b.master + ADAM_8BIT_BYTES
    if training.optimizer == "sgd":
        return b.master + b.state  # one momentum buffer
    # Adafactor: a row and a column factor of the second moment per matrix, no first moment.
    return b.master + b.state * _factored_values(arch, training) / max(1, trainable)


def _factored_values(arch: ModelArchitecture, training: Training) -> float:
    if training.is_lora:
        wanted = _TARGETS[training.lora_targets]
        r = training.lora_rank
        # lora_A is r x d_in, lora_B is d_out x r.
        return sum(
            (r + m.d_in + m.d_out + r) * m.count
            for m in linear_layers(arch)
            if m.name in wanted
        )
    matrices = sum((m.d_in + m.d_out) * m.count for m in linear_layers(arch))
    embeddings = (arch.vocab_size + arch.hidden_size) * (
        1 + (1 if arch.lm_head_parameters else 0)
    )
    norms = (2 * arch.num_layers + 1) * arch.hidden_size  # vectors keep a full second moment
    return matrices + embeddings + norms


def frozen_weight_bytes(arch: ModelArchitecture, training: Training) -> float:
    """The frozen base of LoRA / QLoRA (0 for full training)."""
    if not training.is_lora:
        return 0.0
    keep = 4.0 if training.precision == "fp32" else 2.0
    if training.method == "qlora":
        body = body_parameters(arch)
        return body * NF4_BYTES_PER_WEIGHT + (arch.total_parameters - body) * keep
    return arch.total_parameters * keep


@dataclass(frozen=True)
class ActivationBytes:
    """Activation memory of one micro-batch on one GPU."""

    layers: float  # what the decoder layers keep for the backward pass
    logits: float  # the loss over the vocabulary (and the final norm's input)

    @property
    def total(self) -> float:
        return self.layers + self.logits


@cache
def layer_activation_bytes_per_token(arch: ModelArchitecture, element_bytes: int) -> float:
    """What autograd keeps per token for one decoder layer, without checkpointing."""
    h = arch.hidden_size
    q = arch.num_attention_heads * arch.head_dim
    kv = arch.num_kv_heads * arch.head_dim
    width = mlp_width(arch)
    attention = 2 * h + 2 * q + 2 * kv  # norm input, projection input, Q, K, V, output
    mlp = 2 * h + 4 * width  # norm input, projection input, gate, up, activation, down input
    if arch.is_moe:
        mlp += arch.experts_per_token * h  # tokens copied to their experts
    # fp32 statistics: the softmax log-sum-exp per head, the two norms' reciprocal RMS.
    stats = 4 * arch.num_attention_heads + 2 * 4
    return (attention + mlp) * element_bytes + stats


def activation_bytes(
    arch: ModelArchitecture, training: Training, checkpointing: bool
) -> ActivationBytes:
    """Activations of one micro-batch (``micro_batch x seq_len`` tokens) on one GPU."""
    b = PRECISION_BYTES[training.precision].activation
    tokens = training.micro_batch * training.seq_len
    per_layer = tokens * layer_activation_bytes_per_token(arch, b)
    if training.attention == "eager":
        # The s x s attention matrices of every head (Korthikanti et al.: 5 a s^2 b bytes).
        per_layer += 5 * arch.num_attention_heads * training.seq_len**2 * training.micro_batch
    if checkpointing:
        # Each layer's input is kept; one layer at a time is recomputed in full.
        layers = arch.num_layers * tokens * arch.hidden_size * b + per_layer
    else:
        layers = arch.num_layers * per_layer
    logits = tokens * (arch.vocab_size * LOGIT_BYTES + 2 * arch.hidden_size * b)
    return ActivationBytes(layers=layers, logits=logits)


@dataclass(frozen=True)
class TrainingMemory:
    """The per-GPU memory of one training layout, and whether it fits."""

    model_id: str
    parameters: int
    trainable_parameters: int
    gpu: str
    gpus: int
    sharding: ShardingName
    activation_checkpointing: bool
    training: Training
    usable_bytes: int
    weights: float
    gradients: float
    optimizer: float
    activations: ActivationBytes
    gathered: float  # ZeRO-3 / FSDP working set of gathered layers
    buffers: float  # communication buckets and NCCL
    allocator: float  # the caching allocator's slack
    cuda_context: float
    cpu_offload: float  # host memory per GPU holding offloaded states
    reasons: tuple[str, ...] = field(default=())
    suggestions: tuple[str, ...] = field(default=())

    @property
    def torch_bytes(self) -> float:
        """What PyTorch's allocator reserves (its peak-reserved statistic)."""
        return self.allocated_bytes + self.allocator

    @property
    def allocated_bytes(self) -> float:
        """What PyTorch hands out at the peak (its peak-allocated / active statistic)."""
        return (
            self.weights
            + self.gradients
            + self.optimizer
            + self.activations.total
            + self.gathered
            + self.buffers_torch
        )

    @property
    def buffers_torch(self) -> float:
        # ZeRO buckets are allocated through PyTorch; NCCL's own buffers are not.
        return max(0.0, self.buffers - (NCCL_BYTES if self.gpus > 1 else 0))

    @property
    def overhead(self) -> float:
        """Framework overhead: CUDA context, NCCL, buckets, gathered layers, allocator slack."""
        return self.cuda_context + self.buffers + self.gathered + self.allocator

    @property
    def total(self) -> float:
        """Everything the GPU must hold (what ``nvidia-smi`` would show at the peak)."""
        return self.torch_bytes + self.cuda_context + (NCCL_BYTES if self.gpus > 1 else 0)

    @property
    def fits(self) -> bool:
        return not self.reasons

    def to_json(self) -> dict[str, Any]:
        t = self.training
        return {
            "task": t.task,
            "model": self.model_id,
            "parameters": self.parameters,
            "trainable_parameters": self.trainable_parameters,
            "method": t.method,
            "lora_rank": t.lora_rank if t.is_lora else None,
            "lora_targets": t.lora_targets if t.is_lora else None,
            "optimizer": t.optimizer,
            "training_precision": t.precision,
            "micro_batch": t.micro_batch,
            "seq_len": t.seq_len,
            "grad_accum": t.grad_accum,
            "attention": t.attention,
            "gpu": self.gpu,
            "gpu_count": self.gpus,
            "sharding": self.sharding,
            "activation_checkpointing": self.activation_checkpointing,
            "offload": t.offload,
            "usable_gib_per_gpu": gib(self.usable_bytes),
            "weights_gib_per_gpu": gib(self.weights),
            "gradients_gib_per_gpu": gib(self.gradients),
            "optimizer_gib_per_gpu": gib(self.optimizer),
            "activations_gib_per_gpu": gib(self.activations.total),
            "logits_gib_per_gpu": gib(self.activations.logits),
            "overhead_gib_per_gpu": gib(self.overhead),
            "total_gib_per_gpu": gib(self.total),
            "cpu_offload_gib_per_gpu": gib(self.cpu_offload),
            "fits": self.fits,
            "reasons": list(self.reasons),
            "suggestions": list(self.suggestions),
        }


def gib(n: float) -> float:
    return round(n / GIB, 2)


@dataclass(frozen=True)
class ModelStates:
    """Weights, gradients and optimizer states on one GPU, and what was offloaded to the host."""

    weights: float
    gradients: float
    optimizer: float
    cpu: float


def model_states(
    *,
    trainable: int,
    weight_bytes: float,
    optimizer_per_parameter: float,
    gradient_per_parameter: float,
    sharding: ShardingName,
    gpus: int,
    offload: bool,
) -> ModelStates:
    """Per-GPU model states of ``gpus`` data-parallel ranks (the ZeRO paper's accounting).

    ``weight_bytes`` is the whole model as the forward reads it (frozen base included).
    """
    n = max(1, gpus)
    shard_opt = n if sharding in SHARDS_OPTIMIZER else 1
    shard_grad = n if sharding in SHARDS_GRADIENTS else 1
    shard_weights = n if sharding in SHARDS_WEIGHTS else 1
    optimizer = trainable * optimizer_per_parameter / shard_opt
    gradients = trainable * gradient_per_parameter / shard_grad
    weights = weight_bytes / shard_weights
    if not offload:
        return ModelStates(weights, gradients, optimizer, 0.0)
    cpu = optimizer + gradients
    if shard_weights > 1:
        # Stage 3 / FSDP with offload keeps even the weight shards on the host.
        return ModelStates(0.0, 0.0, 0.0, cpu + weights)
    return ModelStates(weights, 0.0, 0.0, cpu)


def gathered_bytes(unit_weight_bytes: float, unit_gradient_bytes: float) -> float:
    """ZeRO-3 / FSDP working set: the unit being computed and the prefetched next one, plus the
    unit's unsharded gradients before they are reduce-scattered."""
    return 2 * unit_weight_bytes + unit_gradient_bytes


def training_memory(
    arch: ModelArchitecture,
    training: Training,
    gpu: GpuSpec,
    gpus: int,
    sharding: ShardingName,
    checkpointing: bool,
) -> TrainingMemory:
    """The per-GPU memory of ``gpus`` GPUs training as one data-parallel group."""
    b = PRECISION_BYTES[training.precision]
    trainable = trainable_parameters(arch, training)
    n = max(1, gpus)
    offload = training.offload == "cpu"
    weight_total = trainable * b.weight + frozen_weight_bytes(arch, training)
    states = model_states(
        trainable=trainable,
        weight_bytes=weight_total,
        optimizer_per_parameter=optimizer_bytes_per_parameter(arch, training, trainable),
        gradient_per_parameter=b.gradient,
        sharding=sharding,
        gpus=n,
        offload=offload,
    )
    gathered = 0.0
    if n > 1 and sharding in SHARDS_WEIGHTS:
        unit = layer_parameters(arch)
        gathered = gathered_bytes(
            weight_total / max(1, arch.total_parameters) * unit,
            trainable / max(1, arch.total_parameters) * unit * b.gradient,
        )
    buffers = 0.0
    if n > 1:
        buffers += NCCL_BYTES
        if sharding in ("zero1", "zero2"):
            buffers += min(ZERO_BUCKET_ELEMENTS, trainable) * b.weight
    if offload and sharding not in SHARDS_WEIGHTS:
        # Gradients stream to the host through a bucket of their own.
        buffers += min(ZERO_BUCKET_ELEMENTS, trainable) * b.gradient

    acts = activation_bytes(arch, training, checkpointing)
    nccl = NCCL_BYTES if n > 1 else 0
    allocated = states.weights + states.gradients + states.optimizer + acts.total + gathered
    allocated += buffers - nccl
    memory = TrainingMemory(
        model_id=arch.model_id,
        parameters=arch.total_parameters,
        trainable_parameters=trainable,
        gpu=gpu.name,
        gpus=n,
        sharding=sharding if n > 1 else "none",
        activation_checkpointing=checkpointing,
        training=training,
        usable_bytes=gpu.usable_bytes,
        weights=states.weights,
        gradients=states.gradients,
        optimizer=states.optimizer,
        activations=acts,
        gathered=gathered,
        buffers=buffers,
        allocator=ALLOCATOR_SLACK * allocated,
        cuda_context=CUDA_CONTEXT_BYTES,
        cpu_offload=states.cpu,
    )
    reasons = []
    if memory.total > memory.usable_bytes:
        reasons.append(
            f"{gib(memory.total)} GiB per GPU exceeds the {gib(memory.usable_bytes)} GiB of "
            f"each {gpu.name}"
        )
    if training.seq_len > arch.max_position_embeddings:
        reasons.append(
            f"sequence length {training.seq_len:,} exceeds the model's maximum of "
            f"{arch.max_position_embeddings:,} tokens"
        )
    return replace(memory, reasons=tuple(reasons)) if reasons else memory
