"""``llmplan plan --task finetune|pretrain``: instances ranked by the whole job's cost or time."""

from __future__ import annotations

import argparse
import math
from typing import Any

from llmplan.commands.output import emit_json, note
from llmplan.workload import Training, Workload


def run_training(args: argparse.Namespace, workload: Workload, training: Training) -> int:
    from llmplan.commands.rejections import render_rejections
    from llmplan.plan.training import plan_training

    result = plan_training(workload, training, pricing=args.pricing)
    for line in result.prices.notes:
        note(line)
    if args.format == "json":
        emit_json(to_json(result))
        return 0
    markdown = args.format == "markdown"
    print(render(result, markdown=markdown, top=args.top))
    if args.explain:
        print()
        print(render_rejections(result.selection.rejected, markdown=markdown))
    return 0


def to_json(result: Any) -> dict[str, Any]:
    sel, t = result.selection, result.training
    from llmplan.sizing.training_facts import spot_defaults

    spot = spot_defaults()
    return {
        "model": result.arch.model_id,
        "task": t.task,
        "training": {
            "method": t.method,
            "lora_rank": t.lora_rank if t.is_lora else None,
            "optimizer": t.optimizer,
            "training_precision": t.precision,
            "micro_batch": t.micro_batch,
            "seq_len": t.seq_len,
            "grad_accum": t.grad_accum,
            "sharding": t.sharding,
            "activation_checkpointing": t.activation_checkpointing,
            "offload": t.offload,
            "tokens": sel.tokens,
            "mfu": t.mfu,
            "checkpoint_interval_minutes": t.checkpoint_interval_minutes,
            "spot_interruptions_per_day": (
                spot.interruptions_per_node_day
                if t.spot_interruptions_per_day is None
                else t.spot_interruptions_per_day
            ),
            "restart_minutes": (
                spot.restart_minutes if t.restart_minutes is None else t.restart_minutes
            ),
            "tiers": list(sel.considered_tiers),
            "objective": sel.objective,
        },
        "prices": result.prices.summary(),
        "candidates": [c.to_json() for c in sel.candidates],
        "best": {cloud: c.to_json() for cloud, c in sel.best_per_cloud().items()},
        "rejected": dict(sorted(sel.rejected.items())),
    }


HEADERS = (
    "",
    "cloud",
    "region",
    "instance",
    "GPUs",
    "nodes",
    "network",
    "sharding",
    "GiB/GPU",
    "tok/s",
    "MFU",
    "tier",
    "$/hour",
    "restarts",
    "wall time",
    "GPU-hours",
    "job cost",
    "price",
)


def _hours(value: float) -> str:
    if not math.isfinite(value):
        return "never"
    if value >= 48:
        return f"{value / 24:,.1f} d"
    return f"{value:,.1f} h"


def _row(c: Any, label: str) -> list[object]:
    o, m = c.offering, c.memory
    network = f"{c.network_gbps:,.0f} Gb/s" if c.network_gbps else "-"
    if o.fast_network and c.network_gbps:
        network += f" {o.fast_network}"
    restarts = "-"
    if c.restarts is not None:
        over = c.restarts.overhead
        restarts = "unbounded" if not math.isfinite(over) else f"+{over:.1%}"
    sharding = m.sharding + (" +AC" if m.activation_checkpointing else "")
    if m.cpu_offload:
        sharding += " +offload"
    finite = math.isfinite(c.wall_hours)
    return [
        label,
        o.cloud,
        o.region,
        o.instance_type,
        f"{o.gpu_count}x {o.gpu}",
        c.nodes,
        network,
        sharding,
        f"{m.total / 2**30:,.1f}",
        f"{c.step.tokens_per_s:,.0f}",
        f"{c.step.mfu:.2f}" + (" (net)" if c.step.communication_bound else ""),
        c.tier,
        f"${c.hourly_usd:,.2f}",
        restarts,
        _hours(c.wall_hours),
        f"{c.gpu_hours:,.0f}" if finite else "-",
        f"${c.job_usd:,.0f}" if finite else "-",
        f"{c.price.source} {c.price.as_of}",
    ]


def render(result: Any, *, markdown: bool = False, top: int = 10) -> str:
    from llmplan.tables import markdown_table, table

    sel, t = result.selection, result.training
    best = sel.best_per_cloud_and_tier()
    order = sel.candidates.index
    rows = [_row(c, "best") for c in sorted(best.values(), key=order)]
    shown = {id(c) for c in best.values()}
    rows += [_row(c, "alt") for c in sel.candidates if id(c) not in shown][:top]
    method = {"full": "full", "lora": "LoRA", "qlora": "QLoRA"}[t.method]
    title = (
        f"{result.arch.model_id} ({result.arch.total_parameters / 1e9:.1f} B), {t.task} "
        f"({method}), {sel.tokens:,.0f} tokens, {t.micro_batch} x {t.seq_len:,} tokens per GPU, "
        f"tiers {', '.join(sel.considered_tiers)}, objective {sel.objective}"
    )
    right = {5, 8, 9, 10, 12, 13, 14, 15, 16}
    body = markdown_table(HEADERS, rows, right) if markdown else table(HEADERS, rows, right)
    return f"**{title}**\n\n{body}" if markdown else f"{title}\n\n{body}"
