"""``llmplan size --task finetune|pretrain``: training memory per GPU, fewest GPUs, rule of thumb.

With ``--tokens`` (or ``--dataset-tokens``) it also prints the compute the job needs on that GPU
type: GPU-hours at the default (or ``--mfu``) utilisation, before communication and restarts,
which ``plan`` adds per instance.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmplan.commands.output import emit_json, note
from llmplan.errors import UsageError
from llmplan.gpus import GpuSpec
from llmplan.model.architecture import ModelArchitecture
from llmplan.workload import Training, Workload


def run_training(args: argparse.Namespace, workload: Workload, training: Training) -> int:
    from llmplan.gpus import get_gpu
    from llmplan.model.registry import load_model
    from llmplan.sizing.training_fit import fewest_training_gpus, on_gpus, rule_of_thumb

    if args.tp is not None or args.pp is not None:
        raise UsageError("--tp/--pp: training layouts here are data parallel (use --gpus N)")
    arch = load_model(workload.model)
    gpu = get_gpu(args.gpu_type)
    if args.gpu_count is not None:
        memory = on_gpus(arch, training, gpu, args.gpu_count)
    else:
        memory = fewest_training_gpus(arch, training, gpu)
    data = memory.to_json()
    data["rule_of_thumb"] = rule_of_thumb(arch, training, memory)
    data["compute"] = compute_json(arch, training, gpu, memory)
    if args.format == "json":
        emit_json(data)
        if not memory.fits:
            note(f"does not fit: {'; '.join(memory.reasons)}")
            for tip in memory.suggestions:
                note(f"  would fit: {tip}")
        return 0
    print(render(arch, data, markdown=args.format == "markdown"))
    return 0


def compute_json(
    arch: ModelArchitecture, training: Training, gpu: GpuSpec, memory: Any
) -> dict[str, Any]:
    """FLOPs per token and, with a token count, GPU-hours on this GPU type (compute only)."""
    from llmplan.sizing.training_facts import Utilisation, default_utilisation
    from llmplan.sizing.training_time import flops_per_token

    flops = flops_per_token(arch, training, memory.activation_checkpointing)
    if training.mfu is not None:
        util = Utilisation(training.mfu * flops.hardware / flops.model, "--mfu")
    else:
        util = default_utilisation(gpu, training)
    peak = gpu.bf16_dense_tflops * 1e12 / (2 if training.precision == "fp32" else 1)
    out: dict[str, Any] = {
        "model_flops_per_token": round(flops.model),
        "hardware_flops_per_token": round(flops.hardware),
        "six_n_flops_per_token": 6 * arch.active_parameters,
        "mfu": round(util.hardware * flops.model / flops.hardware, 4),
        "utilisation_basis": util.basis,
        "tokens": training.total_tokens,
        "gpu_hours": None,
        "wall_hours": None,
    }
    tokens = training.total_tokens
    if tokens is not None and peak > 0:
        gpu_seconds = tokens * flops.hardware / (peak * util.hardware)
        out["gpu_hours"] = round(gpu_seconds / 3600, 2)
        out["wall_hours"] = round(gpu_seconds / 3600 / memory.gpus, 2)
    return out


def _gib(value: float) -> str:
    return f"{value:,.2f} GiB"


def render(arch: ModelArchitecture, d: dict[str, Any], *, markdown: bool = False) -> str:
    from llmplan.tables import markdown_table, table

    method = {"full": "full", "lora": "LoRA", "qlora": "QLoRA"}[d["method"]]
    if d["lora_rank"]:
        method += f" r={d['lora_rank']} on {d['lora_targets']}"
    trainable = d["trainable_parameters"]
    share = trainable / d["parameters"]
    precision = {"mixed": "mixed precision (fp32 master weights and states)",
                 "bf16": "pure bf16", "fp32": "fp32"}[d["training_precision"]]
    checkpointing = "on" if d["activation_checkpointing"] else "off"
    rows: list[tuple[str, str]] = [
        ("model", f"{d['model']} ({d['parameters'] / 1e9:.2f} B parameters)"),
        ("task", f"{d['task']}, {method}: {trainable / 1e6:,.0f} M trainable ({share:.2%})"),
        ("training", f"{precision}, {d['optimizer']}, {d['attention']} attention"),
        ("batch", f"{d['micro_batch']} x {d['seq_len']:,} tokens per GPU, "
                  f"gradient accumulation {d['grad_accum']}"),
        ("GPUs", f"{d['gpu_count']} x {d['gpu']} (sharding {d['sharding']}, activation "
                 f"checkpointing {checkpointing}, offload {d['offload']})"),
        ("usable memory / GPU", _gib(d["usable_gib_per_gpu"])),
        ("weights / GPU", _gib(d["weights_gib_per_gpu"])),
        ("gradients / GPU", _gib(d["gradients_gib_per_gpu"])),
        ("optimizer states / GPU", _gib(d["optimizer_gib_per_gpu"])),
        ("activations / GPU", f"{_gib(d['activations_gib_per_gpu'])} "
                              f"(loss over the vocabulary: {_gib(d['logits_gib_per_gpu'])})"),
        ("framework overhead / GPU", f"{_gib(d['overhead_gib_per_gpu'])} (CUDA context, "
                                     "NCCL, gathered layers, allocator)"),
        ("total / GPU", _gib(d["total_gib_per_gpu"])),
    ]
    if d["cpu_offload_gib_per_gpu"]:
        rows.append(("host memory / GPU", f"{_gib(d['cpu_offload_gib_per_gpu'])} offloaded"))
    rows.append(("fits", "yes" if d["fits"] else "no: " + "; ".join(d["reasons"])))
    rows += [("would fit", tip) for tip in d["suggestions"]]
    rule = d["rule_of_thumb"]
    rows.append((
        "rule of thumb",
        f"6 x 16-bit weights = {rule['rule_gib']:,.1f} GiB; this estimate, unsharded: "
        f"{rule['estimate_gib']:,.1f} GiB ({rule['ratio_to_16bit_weights']:.2f}x the weights)",
    ))
    rows += [("  why they differ", why) for why in rule["why"]]
    c = d["compute"]
    flops = (
        f"{c['model_flops_per_token'] / 1e9:,.1f} GFLOP/token "
        f"(6N: {c['six_n_flops_per_token'] / 1e9:,.1f})"
    )
    rows.append(("compute", f"{flops}, MFU {c['mfu']:.2f} ({c['utilisation_basis']})"))
    if c["gpu_hours"] is not None:
        rows.append((
            "time",
            f"{c['gpu_hours']:,.1f} GPU-hours for {c['tokens']:,.0f} tokens = "
            f"{c['wall_hours']:,.1f} h on {d['gpu_count']} x {d['gpu']} (compute only; "
            "`llmplan plan --task ...` adds networks, prices and restarts)",
        ))
    if markdown:
        return markdown_table(("", "value"), rows)
    return table(("", "value"), rows)
