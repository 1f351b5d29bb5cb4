"""``llmplan plan``: a ranked table of the cheapest fitting instance per cloud and tier."""

from __future__ import annotations

import argparse
from typing import Any

from llmplan.commands.output import FORMATS, emit_json, note
from llmplan.commands.rejections import render_rejections
from llmplan.commands.spec import add_workload_arguments
from llmplan.commands.training_spec import add_training_arguments, spec_from_args

ALTERNATIVES = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_workload_arguments(parser)
    add_pricing_argument(parser)
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also list why the other instance types were rejected",
    )
    add_training_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument(
        "--top",
        type=int,
        default=ALTERNATIVES,
        help=f"alternatives to list after the best per cloud (default {ALTERNATIVES})",
    )


def add_pricing_argument(parser: argparse.ArgumentParser) -> None:
    from llmplan.vocabulary import PRICING_MODES

    parser.add_argument(
        "--pricing",
        choices=PRICING_MODES,
        default="auto",
        help="where prices come from (default auto: fresh cache, else live, "
        "else the embedded snapshot)",
    )


def run(args: argparse.Namespace) -> int:
    from llmplan.plan.planner import plan

    workload, training = spec_from_args(args)
    if training is not None:
        from llmplan.commands.plan_training import run_training

        return run_training(args, workload, training)
    result = plan(workload, pricing=args.pricing)
    for line in result.prices.notes:
        note(line)
    sel = result.selection
    why = load_explanation(result)
    if why and args.format != "json":
        note(why)
    if args.format == "json":
        emit_json(to_json(result))
        return 0
    markdown = args.format == "markdown"
    print(render(result, markdown=markdown, top=args.top))
    if args.explain:
        print()
        print(render_rejections(sel.rejected, markdown=markdown))
    return 0


def to_json(result: Any) -> dict[str, Any]:
    sel = result.selection
    return {
        "model": result.arch.model_id,
        "workload": {
            "context": result.workload.context,
            "concurrency": result.workload.concurrency,
            "engine": result.engine.name,
            "workload": result.workload.kind,
            "tiers": list(sel.considered_tiers),
            "objective": sel.objective,
            "prompt_tokens": sel.prompt_tokens,
            "output_tokens": sel.output_tokens,
            "required_output_tokens_per_s": sel.required_tokens_per_s,
            "load": _load_json(result.workload),
        },
        "explanation": load_explanation(result),
        "prices": result.prices.summary(),
        "candidates": [c.to_json() for c in sel.candidates],
        "best": {cloud: c.to_json() for cloud, c in sel.best_per_cloud().items()},
        "rejected": dict(sorted(sel.rejected.items())),
    }


def _load_json(workload: Any) -> dict[str, Any] | None:
    from dataclasses import asdict

    load = workload.load
    return asdict(load) if load.is_set else None


def load_explanation(result: Any) -> str | None:
    """Why the best plan has its replica count, in one line (None without a load)."""
    sel = result.selection
    if sel.required_tokens_per_s is None or not sel.candidates:
        return None
    best = sel.candidates[0]
    s = best.speed
    if s is None:
        return None
    target = result.workload.load.tpot_ms
    within = f" within {target:g} ms TPOT" if target is not None else ""
    why = (
        f"needs {sel.required_tokens_per_s:,.0f} output tok/s; each replica of "
        f"{best.offering.instance_type} gives {s.output_tokens_per_s:,.0f} at batch {s.batch}"
        f"{within} (TPOT {s.tpot_ms:.1f} ms, TTFT {s.ttft_ms:.0f} ms) -> "
        f"{best.replicas_for_load} replicas"
    )
    if best.replicas != best.replicas_for_load:
        why += f", {best.replicas} with whole nodes and the concurrency"
    return why + f" on {best.nodes} node{'s' if best.nodes != 1 else ''}"


def _money(value: float) -> str:
    return f"${value:,.3f}" if value != float("inf") else "-"


def _row(c: Any, label: str) -> list[object]:
    o = c.offering
    return [
        label,
        o.cloud,
        o.region,
        o.instance_type,
        f"{o.gpu_count}x {o.gpu}",
        f"{c.shape.tensor_parallel}x{c.shape.pipeline_parallel}x{c.shape.nodes_per_replica}",
        c.replicas,
        f"{c.max_concurrency:.1f}",
        f"{c.headroom:.2f}x",
        f"{c.tokens_per_second:,.0f}",
        f"{c.speed.tpot_ms:.1f} ms" if c.speed else "-",
        _money(c.usd_per_million_tokens),
        c.tier,
        f"${c.hourly_usd:,.2f}",
        f"${c.monthly_usd:,.0f}",
        f"{c.price.source} {c.price.as_of}",
    ]


HEADERS = (
    "",
    "cloud",
    "region",
    "instance",
    "GPUs",
    "TPxPPxnodes",
    "replicas",
    "max conc",
    "headroom",
    "tok/s/replica",
    "TPOT",
    "$/Mtok",
    "tier",
    "$/hour",
    "$/month",
    "price",
)


def render(result: Any, *, markdown: bool = False, top: int = ALTERNATIVES) -> str:
    from llmplan.tables import markdown_table, table

    sel = result.selection
    best = sel.best_per_cloud_and_tier()
    order = sel.candidates.index
    rows = [_row(c, "best") for c in sorted(best.values(), key=order)]
    shown = {id(c) for c in best.values()}
    alternatives = [c for c in sel.candidates if id(c) not in shown][:top]
    rows += [_row(c, "alt") for c in alternatives]
    w = result.workload
    title = (
        f"{result.arch.model_id} ({result.arch.total_parameters / 1e9:.1f} B), "
        f"{w.context:,} tokens x {_demand(w)}, {result.engine.display}, "
        f"tiers {', '.join(sel.considered_tiers)}, {_lengths(sel)}, objective {sel.objective}"
    )
    right = {6, 7, 8, 9, 10, 11, 13, 14}
    body = markdown_table(HEADERS, rows, right) if markdown else table(HEADERS, rows, right)
    return f"{title}\n\n{body}" if not markdown else f"**{title}**\n\n{body}"


def _demand(w: Any) -> str:
    load = w.load
    if load.requests_per_second is not None:
        return f"{load.requests_per_second:g} requests/s"
    if load.tokens_per_second is not None:
        return f"{load.tokens_per_second:,.0f} output tokens/s"
    return f"{w.concurrency} concurrent"


def _lengths(sel: Any) -> str:
    # Speeds assume these lengths: the load's, else 3/4 and 1/4 of the context.
    return f"{sel.prompt_tokens:,} prompt + {sel.output_tokens:,} output tokens"
