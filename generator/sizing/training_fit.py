"""The fewest GPUs that train a model, what would fit instead, and the ~6x rule of thumb.

Searches over :func:`llmplan.sizing.training.training_memory`; pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from llmplan.gpus import GIB, GpuSpec
from llmplan.model.architecture import ModelArchitecture
from llmplan.sizing.training import (
    PRECISION_BYTES,
    TrainingMemory,
    activation_bytes,
    frozen_weight_bytes,
    optimizer_bytes_per_parameter,
    trainable_parameters,
    training_memory,
)
from llmplan.vocabulary import ShardingName
from llmplan.workload import Training

GPU_COUNTS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
# Least communication first: each stage shards more, and costs more traffic per step.
SHARDING_ORDER: tuple[ShardingName, ...] = ("none", "zero1", "zero2", "zero3")
# "Training needs about 6x the 16-bit weights" (the guides' rule for optimizer states,
# gradients, activations and buffers).
RULE_OF_THUMB = 6


def layouts(training: Training, gpus: int) -> Iterable[tuple[ShardingName, bool]]:
    """(sharding, activation checkpointing) to try on ``gpus`` GPUs, cheapest to run first."""
    checkpointing = (
        (False, True)
        if training.activation_checkpointing is None
        else (training.activation_checkpointing,)
    )
    if training.sharding is not None:
        stages: tuple[ShardingName, ...] = (training.sharding,)
    elif gpus == 1:
        stages = ("none",)
    else:
        stages = SHARDING_ORDER
    for ac in checkpointing:
        for stage in stages:
            yield stage, ac


def fewest_training_gpus(
    arch: ModelArchitecture,
    training: Training,
    gpu: GpuSpec,
    max_gpus: int = GPU_COUNTS[-1],
) -> TrainingMemory:
    """The smallest data-parallel group of ``gpu`` that trains; if none, the largest, with why."""
    last: TrainingMemory | None = None
    for count in GPU_COUNTS:
        if count > max_gpus:
            break
        closest: TrainingMemory | None = None
        for stage, ac in layouts(training, count):
            memory = training_memory(arch, training, gpu, count, stage, ac)
            if memory.fits:
                return memory
            closest = memory if closest is None else _smaller(closest, memory)
        last = closest
    if last is None:
        last = training_memory(arch, training, gpu, 1, "none", True)
    return replace(last, suggestions=tuple(suggest(arch, training, gpu, last)))


def _smaller(a: TrainingMemory, b: TrainingMemory) -> TrainingMemory:
    return a if a.total <= b.total else b


def on_gpus(
    arch: ModelArchitecture,
    training: Training,
    gpu: GpuSpec,
    gpus: int,
    *,
    suggestions: bool = True,
) -> TrainingMemory:
    """``gpus`` GPUs as asked: the least sharding / checkpointing that fits there, else why not.

    ``suggestions=False`` skips the search for what would fit instead (the planner's case).
    """
    best: TrainingMemory | None = None
    for stage, ac in layouts(training, gpus):
        memory = training_memory(arch, training, gpu, gpus, stage, ac)
        if memory.fits:
            return memory
        best = memory if best is None else _smaller(best, memory)
    assert best is not None
    if not suggestions:
        return best
    return replace(best, suggestions=tuple(suggest(arch, training, gpu, best)))


def suggest(
    arch: ModelArchitecture, training: Training, gpu: GpuSpec, failed: TrainingMemory
) -> list[str]:
    """What would fit instead of ``failed``: each a concrete alternative that was checked."""
    tips: list[str] = []
    n = failed.gpus
    trials: list[tuple[str, Training]] = []
    if training.activation_checkpointing is False:
        trials.append(
            ("turn on activation checkpointing (--activation-checkpointing)",
             replace(training, activation_checkpointing=None))
        )
    if training.micro_batch > 1:
        accum = training.micro_batch * training.grad_accum
        trials.append(
            (f"use --micro-batch 1 --grad-accum {accum}",
             replace(training, micro_batch=1, grad_accum=accum))
        )
    if training.offload == "none":
        trials.append(
            ("offload optimizer states to CPU (--offload cpu)", replace(training, offload="cpu"))
        )
    if training.optimizer == "adamw":
        trials.append(("use 8-bit AdamW (--optimizer adamw-8bit)",
                       replace(training, optimizer="adamw-8bit")))
    if training.method == "full" and training.task == "finetune":
        trials.append(("fine-tune with LoRA (--method lora)", replace(training, method="lora")))
    if training.method != "qlora" and training.task == "finetune":
        trials.append(("fine-tune with QLoRA (--method qlora)", replace(training, method="qlora")))
    for label, trial in trials:
        if _fits_somehow(arch, trial, gpu, n):
            tips.append(f"{label} on the same {n} x {gpu.name}")
    if not tips:
        # No single change is enough: the first combination, in the order listed, that is.
        labels: list[str] = []
        combined = training
        for label, trial in trials:
            combined = _combine(combined, training, trial)
            labels.append(label)
            if _fits_somehow(arch, combined, gpu, n):
                tips.append(f"{'; '.join(labels)}: together on the same {n} x {gpu.name}")
                break
    for count in GPU_COUNTS:
        if count <= n:
            continue
        for stage, ac in layouts(training, count):
            if training_memory(arch, training, gpu, count, stage, ac).fits:
                tips.append(f"use {count} x {gpu.name} ({_layout_label(stage, ac)})")
                break
        else:
            continue
        break
    if not tips:
        tips.append(f"use GPUs with more memory than {gpu.name} ({gpu.memory_gb:g} GB)")
    return tips


def _combine(current: Training, original: Training, trial: Training) -> Training:
    """``current`` with every field ``trial`` changed from ``original``."""
    changed = {
        f: getattr(trial, f)
        for f in ("activation_checkpointing", "micro_batch", "grad_accum", "offload", "optimizer",
                  "method")
        if getattr(trial, f) != getattr(original, f)
    }
    return replace(current, **changed)


def _fits_somehow(arch: ModelArchitecture, training: Training, gpu: GpuSpec, n: int) -> bool:
    return any(
        training_memory(arch, training, gpu, n, stage, ac).fits
        for stage, ac in layouts(training, n)
    )


def _layout_label(stage: ShardingName, ac: bool) -> str:
    parts = [f"--sharding {stage}"]
    if ac:
        parts.append("activation checkpointing")
    return ", ".join(parts)


def single_replica_bytes(
    arch: ModelArchitecture, training: Training, checkpointing: bool
) -> dict[str, float]:
    """The whole job's memory for one replica, unsharded and on the GPU (what the rule sizes)."""
    b = PRECISION_BYTES[training.precision]
    trainable = trainable_parameters(arch, training)
    acts = activation_bytes(arch, training, checkpointing)
    return {
        "weights": trainable * b.weight + frozen_weight_bytes(arch, training),
        "gradients": trainable * b.gradient,
        "optimizer": trainable * optimizer_bytes_per_parameter(arch, training, trainable),
        "activations": acts.total,
    }


def rule_of_thumb(arch: ModelArchitecture, training: Training, memory: TrainingMemory) -> dict[
    str, object
]:
    """The ~6x-the-16-bit-weights rule next to this estimate, and why they differ."""
    rule = RULE_OF_THUMB * 2 * arch.total_parameters
    parts = single_replica_bytes(arch, training, memory.activation_checkpointing)
    ours = sum(parts.values())
    weights16 = 2 * arch.total_parameters
    why: list[str] = []
    t = training
    trainable = memory.trainable_parameters
    if t.is_lora:
        share = trainable / arch.total_parameters
        states = parts["gradients"] + parts["optimizer"]
        why.append(
            f"{'QLoRA' if t.method == 'qlora' else 'LoRA'} trains "
            f"{trainable / 1e6:,.0f} M adapter parameters ({share:.2%} of the model), so "
            f"gradients and optimizer states take {states / GIB:,.1f} GiB instead of scaling "
            "with the whole model"
        )
        if t.method == "qlora":
            why.append(
                "the frozen base is stored in 4-bit NF4 (~0.52 bytes per weight, 0.26x the "
                "16-bit weights)"
            )
    else:
        per_param = (parts["weights"] + parts["gradients"] + parts["optimizer"]) / trainable
        why.append(
            f"{_precision_label(t)} {t.optimizer} keeps {per_param:.1f} bytes per parameter of "
            f"weights, gradients and optimizer states ({per_param / 2:.1f}x the 16-bit weights) "
            "before any activation"
        )
    act = parts["activations"]
    checkpoint = "with" if memory.activation_checkpointing else "without"
    why.append(
        f"activations for {t.micro_batch} x {t.seq_len:,} tokens {checkpoint} checkpointing "
        f"take {act / GIB:,.1f} GiB ({act / weights16:.2f}x the 16-bit weights); the rule has no "
        "batch or sequence length in it"
    )
    if memory.gpus > 1 and memory.sharding != "none":
        why.append(
            f"{memory.sharding} spreads the states over {memory.gpus} GPUs: "
            f"{memory.total / GIB:,.1f} GiB per GPU"
        )
    if memory.cpu_offload:
        why.append(f"CPU offload keeps {memory.cpu_offload / GIB:,.1f} GiB per GPU in host memory")
    return {
        "rule_gib": round(rule / GIB, 2),
        "estimate_gib": round(ours / GIB, 2),
        "ratio_to_16bit_weights": round(ours / weights16, 2),
        "why": why,
    }


def _precision_label(training: Training) -> str:
    return {
        "mixed": "mixed-precision",
        "bf16": "pure-bf16",
        "fp32": "fp32",
    }[training.precision]
