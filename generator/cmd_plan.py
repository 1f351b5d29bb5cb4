"""``llmplan plan``: a ranked table of the cheapest fitting instance per cloud and tier."""

from __future__ import annotations

import argparse
from typing import Any

from llmplan.output import FORMATS, emit_json, note
from llmplan.spec import add_workload_arguments, workload_from_args

ALTERNATIVES = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_workload_arguments(parser)
    add_pricing_argument(parser)
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also list why the other instance types were rejected",
    )
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument(
        "--top",
        type=int,
        default=ALTERNATIVES,
        help=f"alternatives to list after the best per cloud (default {ALTERNATIVES})",
    )


def add_pricing_argument(parser: argparse.ArgumentParser) -> None:
    from llmplan.pricing import PRICING_MODES

    parser.add_argument(
        "--pricing",
        choices=PRICING_MODES,
        default="auto",
        help="where prices come from (default auto: fresh cache, else live, "
        "else the embedded snapshot)",
    )


def run(args: argparse.Namespace) -> int:
    from llmplan.planning import plan

    workload = workload_from_args(args)
    result = plan(workload, pricing=args.pricing)
    for line in result.prices.notes:
        note(line)
    sel = result.selection
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
            "workload": result.workload.workload,
            "tiers": list(sel.considered_tiers),
        },
        "prices": result.prices.summary(),
        "candidates": [c.to_json() for c in sel.candidates],
        "best": {cloud: c.to_json() for cloud, c in sel.best_per_cloud().items()},
        "rejected": dict(sorted(sel.rejected.items())),
    }


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
    "tier",
    "$/hour",
    "$/month",
    "price",
)


def render(result: Any, *, markdown: bool = False, top: int = ALTERNATIVES) -> str:
    from llmplan.output import markdown_table, table

    sel = result.selection
    best = sel.best_per_cloud_and_tier()
    rows = [_row(c, "best") for c in sorted(best.values(), key=lambda c: c.sort_key())]
    shown = {id(c) for c in best.values()}
    alternatives = [c for c in sel.candidates if id(c) not in shown][:top]
    rows += [_row(c, "alt") for c in alternatives]
    w = result.workload
    title = (
        f"{result.arch.model_id} ({result.arch.total_parameters / 1e9:.1f} B), "
        f"{w.context:,} tokens x {w.concurrency} concurrent, {result.engine.display}, "
        f"tiers {', '.join(sel.considered_tiers)}"
    )
    right = {6, 7, 8, 10, 11}
    body = markdown_table(HEADERS, rows, right) if markdown else table(HEADERS, rows, right)
    return f"{title}\n\n{body}" if not markdown else f"**{title}**\n\n{body}"


def render_rejections(rejected: dict[str, str], *, markdown: bool = False) -> str:
    from llmplan.output import markdown_table, table

    rows = [list(k.split(":", 1)) + [v] for k, v in sorted(rejected.items())]
    headers = ("cloud", "instance", "rejected because")
    return markdown_table(headers, rows) if markdown else table(headers, rows)
