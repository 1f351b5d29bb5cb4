"""How long a training job takes and what slows it: FLOPs, utilisation, communication, restarts.

Pure functions. The compute model is the one public MFU tables use (llm-foundry's benchmark
README; Korthikanti et al.): ``6 N`` FLOPs per token for a full forward and backward pass over
the ``N`` weights a token multiplies (embedding look-ups excluded, the LM head included), plus
``12 L d s`` for attention scores over a sequence of ``s``. LoRA skips the weight gradients of the
frozen base: ``4 N``. Activation checkpointing runs the forward a second time (``2 N`` more),
which hardware does but model FLOPs do not count.

Time is the larger of compute and the communication that cannot hide behind it:
``compute = FLOPs / (peak x utilisation)``; data-parallel traffic per step is a ring all-reduce
of the gradients (ZeRO-3 / FSDP add two all-gathers of the weights per micro-batch) over the
slowest link a step crosses (NVLink or PCIe inside a node, the node's network across nodes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llmplan.gpus import GpuSpec
from llmplan.model.architecture import ModelArchitecture
from llmplan.sizing.training import (
    PRECISION_BYTES,
    SHARDS_WEIGHTS,
    TrainingMemory,
    frozen_weight_bytes,
)
from llmplan.sizing.training_facts import Utilisation, default_utilisation
from llmplan.workload import Training


def flop_parameters(arch: ModelArchitecture) -> int:
    """Weights one token multiplies: the active decoder plus the LM head, not the look-up table."""
    head = arch.vocab_size * arch.hidden_size
    return arch.active_parameters - arch.embedding_parameters - arch.lm_head_parameters + head


def attention_flops_per_token(arch: ModelArchitecture, seq_len: int) -> float:
    """Forward and backward attention-score FLOPs per token (llm-foundry's ``12 L d s``)."""
    q = arch.num_attention_heads * arch.head_dim
    window = arch.sliding_window or seq_len
    full = arch.full_attention_layers * seq_len
    windowed = arch.sliding_window_layers * min(seq_len, window)
    return 12.0 * q * (full + windowed)


@dataclass(frozen=True)
class Flops:
    """FLOPs per token: what the model needs, and what the hardware runs (with recompute)."""

    model: float
    recompute: float

    @property
    def hardware(self) -> float:
        return self.model + self.recompute


def flops_per_token(arch: ModelArchitecture, training: Training, checkpointing: bool) -> Flops:
    n = flop_parameters(arch)
    attention = attention_flops_per_token(arch, training.seq_len)
    passes = 4 if training.is_lora else 6  # forward 2, input gradients 2, weight gradients 2
    model = passes * n + attention
    # Recomputing the forward: 2 N plus the forward third of attention.
    recompute = (2 * n + attention / 3) if checkpointing else 0.0
    return Flops(model=model, recompute=recompute)


@dataclass(frozen=True)
class Network:
    """The links one data-parallel step crosses."""

    gpus_per_node: int
    nodes: int
    intra_node_gbs: float  # GB/s per GPU, one direction
    inter_node_gbps: float | None  # the node's network, Gbit/s (None: unknown)


def intra_node_gbs(gpu: GpuSpec) -> float:
    """One-direction bandwidth a GPU has to its peers in the same node, GB/s."""
    if gpu.nvlink_gbs:
        return gpu.nvlink_gbs / 2  # data sheets quote both directions
    return (gpu.pcie_gbs or 16.0) / 2


@dataclass(frozen=True)
class StepTime:
    """One optimizer step of the whole group, and the job it adds up to."""

    tokens_per_step: float
    compute_s: float
    communication_s: float
    utilisation: Utilisation
    mfu: float  # model FLOPs utilisation actually reached, communication included

    @property
    def step_s(self) -> float:
        # Frameworks overlap gradient traffic with the backward pass; the slower one sets the pace.
        return max(self.compute_s, self.communication_s)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_step / self.step_s

    @property
    def communication_bound(self) -> bool:
        return self.communication_s > self.compute_s


def communication_bytes_per_step(
    arch: ModelArchitecture, training: Training, memory: TrainingMemory
) -> float:
    """Bytes each rank exchanges per optimizer step (ring collectives move ~2x the buffer)."""
    b = PRECISION_BYTES[training.precision]
    n = memory.gpus
    if n <= 1:
        return 0.0
    ring = (n - 1) / n
    gradients = memory.trainable_parameters * b.gradient
    traffic = 2 * ring * gradients  # all-reduce (or reduce-scatter + all-gather of the update)
    if memory.sharding in SHARDS_WEIGHTS:
        weights = memory.trainable_parameters * b.weight + frozen_weight_bytes(arch, training)
        # Weights are gathered for the forward and again for the backward of every micro-batch.
        traffic = ring * gradients + 2 * ring * weights * training.grad_accum
    return traffic


def step_time(
    arch: ModelArchitecture,
    training: Training,
    gpu: GpuSpec,
    memory: TrainingMemory,
    network: Network,
) -> StepTime:
    """Time of one optimizer step on ``memory.gpus`` GPUs."""
    flops = flops_per_token(arch, training, memory.activation_checkpointing)
    util = default_utilisation(gpu, training) if training.mfu is None else Utilisation(
        training.mfu * flops.hardware / flops.model, "--mfu"
    )
    tokens_per_gpu = training.micro_batch * training.seq_len * training.grad_accum
    peak = gpu.bf16_dense_tflops * 1e12
    if training.precision == "fp32":
        # fp32 matmuls run on TF32 tensor cores at half the 16-bit rate on Ampere and later.
        peak /= 2
    compute = tokens_per_gpu * flops.hardware / (peak * util.hardware)
    traffic = communication_bytes_per_step(arch, training, memory)
    communication = traffic / (network.intra_node_gbs * 1e9) if traffic else 0.0
    if network.nodes > 1 and traffic:
        # Each ring crosses a node boundary once, so a node's NICs together carry what one rank
        # sends (NCCL runs one ring per NIC): the node's bandwidth, not a GPU's, is the limit.
        inter = (
            traffic / (network.inter_node_gbps / 8 * 1e9)
            if network.inter_node_gbps
            else math.inf
        )
        communication = max(communication, inter)
    tokens = tokens_per_gpu * memory.gpus
    step = max(compute, communication)
    reached = tokens * flops.model / (step * peak * memory.gpus) if step else 0.0
    return StepTime(
        tokens_per_step=tokens,
        compute_s=compute,
        communication_s=communication,
        utilisation=util,
        mfu=reached,
    )


@dataclass(frozen=True)
class SpotRestarts:
    """What spot interruptions add: lost work since the last checkpoint, and the restart."""

    interruptions_per_node_day: float
    checkpoint_interval_h: float
    restart_h: float
    expected_interruptions: float
    overhead: float  # extra wall time as a share of the uninterrupted time


def spot_restarts(
    wall_h: float,
    nodes: int,
    interruptions_per_node_day: float,
    checkpoint_interval_h: float,
    restart_h: float,
) -> SpotRestarts:
    """Expected restart overhead of a job that checkpoints every ``checkpoint_interval_h``.

    An interruption loses on average half an interval of work plus the restart; the job is
    interrupted at ``nodes x rate`` per hour of its (longer) wall time, so the overhead is
    ``1 / (1 - rate x (interval / 2 + restart)) - 1``; a rate at or above one loss per
    interval never finishes (infinite overhead).
    """
    rate_h = interruptions_per_node_day * nodes / 24
    lost_h = checkpoint_interval_h / 2 + restart_h
    lost_share = rate_h * lost_h
    if lost_share >= 1:
        overhead = math.inf
        expected = math.inf
    else:
        overhead = 1 / (1 - lost_share) - 1
        expected = rate_h * wall_h * (1 + overhead)
    return SpotRestarts(
        interruptions_per_node_day=interruptions_per_node_day,
        checkpoint_interval_h=checkpoint_interval_h,
        restart_h=restart_h,
        expected_interruptions=expected,
        overhead=overhead,
    )
