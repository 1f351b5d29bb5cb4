"""``llmplan cost``: monthly compute cost of Terraform, and its change in a pull request.

``llmplan cost breakdown PATH`` prices every compute resource of a Terraform folder or a
``terraform show -json`` plan; ``llmplan cost diff BASE HEAD`` compares two of them (or, given one
plan, its before and after) and with ``--format markdown`` prints the pull-request comment.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmplan.errors import UsageError
from llmplan.commands.output import FORMATS

if TYPE_CHECKING:
    from llmplan.cost.model import Breakdown, CostDiff, CostLine, DiffRow, Loaded

MARKER = "<!-- llmplan-cost -->"
PRICING_CHOICES = ("auto", "live", "cache", "snapshot")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="cost_command", metavar="ACTION",
                                 parser_class=type(parser))
    breakdown = subs.add_parser("breakdown", help="monthly cost of every compute resource",
                                description="monthly cost of every compute resource")
    breakdown.add_argument("path", metavar="PATH",
                           help="Terraform folder (or .tf file) or `terraform show -json` plan")
    _common(breakdown)
    diff = subs.add_parser("diff", help="cost change between two Terraform trees or plans",
                           description="cost change between two Terraform trees or plans")
    diff.add_argument("base", metavar="BASE", help="folder or plan JSON before the change")
    diff.add_argument("head", metavar="HEAD", nargs="?",
                      help="folder or plan JSON after the change (omit to diff one plan's "
                           "before and after)")
    _common(diff)
    policy = diff.add_argument_group("policy (exit 1 when the increase passes a limit)")
    policy.add_argument("--fail-above-usd", type=_non_negative, metavar="N",
                        help="fail when the monthly cost goes up by more than N dollars")
    policy.add_argument("--fail-above-percent", type=_non_negative, metavar="P",
                        help="fail when the monthly cost goes up by more than P percent")
    diff.add_argument("--only-increases", action="store_true",
                      help="print nothing when the cost does not go up")
    diff.add_argument("--show-unchanged", action="store_true",
                      help="list unchanged resources too (table and JSON)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--pricing", choices=PRICING_CHOICES, default="snapshot",
                        help="price source (default: the embedded snapshot)")
    parser.add_argument("--region", action="append", default=[], metavar="[CLOUD=]REGION",
                        help="region for resources that name none (repeatable)")
    parser.add_argument("--var-file", action="append", default=[], metavar="FILE",
                        help="extra .tfvars file for folders (repeatable)")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="variable value for folders (repeatable)")


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (got {text!r})") from None
    if value < 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be zero or more (got {text!r})")
    return value


# --- running


def run(args: argparse.Namespace) -> int:
    command = getattr(args, "cost_command", None)
    if command is None:
        raise UsageError("llmplan cost: choose an action: breakdown PATH or diff BASE [HEAD]")
    from llmplan.commands.output import emit_json, note

    if command == "breakdown":
        (loaded,) = _load(args, [(args.path, "after")])
        (breakdown,) = _price(args, [loaded])
        for warning in breakdown.warnings:
            note(f"warning: {warning}")
        if args.format == "json":
            emit_json(breakdown_json(breakdown))
        elif args.format == "markdown":
            print(breakdown_markdown(breakdown))
        else:
            print(breakdown_table(breakdown))
        return 0
    if args.head is None:
        from llmplan.terraform.plan_json import looks_like_plan

        if not looks_like_plan(args.base):
            raise UsageError("llmplan cost diff: give BASE and HEAD, or one plan JSON file")
        sides = [(args.base, "before"), (args.base, "after")]
    else:
        sides = [(args.base, "after"), (args.head, "after")]
    before_loaded, after_loaded = _load(args, sides)
    before, after = _price(args, [before_loaded, after_loaded])
    from llmplan.cost.model import diff as make_diff

    result = make_diff(before, after)
    for warning in dict.fromkeys(before.warnings + after.warnings):
        note(f"warning: {warning}")
    if args.only_increases and result.delta_monthly <= 0.005:
        return 0
    if args.format == "json":
        emit_json(diff_json(result, args.show_unchanged))
    elif args.format == "markdown":
        print(diff_markdown(result))
    else:
        print(diff_table(result, args.show_unchanged))
    failures = policy_failures(result, args.fail_above_usd, args.fail_above_percent)
    for failure in failures:
        note(f"policy: {failure}")
    return 1 if failures else 0


def policy_failures(result: CostDiff, above_usd: float | None,
                    above_percent: float | None) -> list[str]:
    delta = result.delta_monthly
    out: list[str] = []
    if above_usd is not None and delta > above_usd:
        out.append(f"monthly cost goes up by {_usd(delta)}, more than --fail-above-usd "
                   f"{_usd(above_usd)}")
    if above_percent is not None and delta > 0:
        percent = result.percent
        if percent is None or percent > above_percent:
            shown = "from $0" if percent is None else f"{percent:.1f}%"
            out.append(f"monthly cost goes up by {shown}, more than --fail-above-percent "
                       f"{above_percent:g}%")
    return out


def _load(args: argparse.Namespace, sides: Sequence[tuple[str, str]]) -> list[Loaded]:
    from llmplan.cost.model import Loaded, read_folder
    from llmplan.terraform.plan_json import load_plan, looks_like_plan

    overrides = _variables(args.var)
    var_files = [Path(v) for v in args.var_file]
    for var_file in var_files:
        if not var_file.is_file():
            raise UsageError(f"--var-file {var_file}: no such file")
    plans: dict[str, Any] = {}
    out: list[Loaded] = []
    for name, which in sides:
        p = Path(name)
        if not p.exists():
            raise UsageError(f"{name}: no such file or folder")
        if looks_like_plan(p):
            if name not in plans:
                plans[name] = load_plan(p)
            out.append(Loaded(plans[name].side("before" if which == "before" else "after"),
                              label=f"{name} ({which})"))
        elif p.is_dir() or p.suffix == ".tf":
            out.append(read_folder(p, var_files, overrides))
        else:
            raise UsageError(f"{name}: give a Terraform folder, a .tf file or a plan .json")
    return out


def _variables(pairs: Sequence[str]) -> dict[str, Any]:
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--var {pair!r}: expected NAME=VALUE")
        try:
            out[name.strip()] = json.loads(value)
        except ValueError:
            out[name.strip()] = value
    return out


def _price(args: argparse.Namespace, loaded: Sequence[Loaded]) -> list[Breakdown]:
    from llmplan.cost.model import Breakdown, PriceBook, _cloud_of, price_resources
    from llmplan.commands.output import note
    from llmplan.catalog.pricing import load_catalogs

    clouds = sorted({_cloud_of(r.type) for side in loaded for r in side.resources} - {""})
    priced = load_catalogs(clouds, args.pricing) if clouds else None
    book = PriceBook(priced.catalogs if priced else ())
    regions = _default_regions(args.region, book)
    for message in priced.notes if priced else ():
        note(message)
    return [Breakdown(price_resources(side.resources, book, regions), side.warnings, side.label)
            for side in loaded]


def _default_regions(values: Sequence[str], book: Any) -> dict[str, str]:
    from llmplan.cost.model import normalize_region

    out: dict[str, str] = {}
    for value in values:
        cloud, sep, region = value.partition("=")
        if sep:
            cloud = cloud.strip().lower()
            if cloud not in ("aws", "gcp", "azure"):
                raise UsageError(f"--region {value}: cloud must be aws, gcp or azure")
            out[cloud] = normalize_region(cloud, region)
            continue
        owners = [c for c in ("aws", "gcp", "azure")
                  if normalize_region(c, value) in book.regions(c)]
        if not owners:
            raise UsageError(f"--region {value}: not a region of any loaded catalog; "
                             "write it as CLOUD=REGION")
        out[owners[0]] = normalize_region(owners[0], value)
    return out


# --- formatting helpers


def _usd(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    sign = ("+" if value > 0.005 else "-" if value < -0.005 else "") if signed else (
        "-" if value < -0.005 else "")
    amount = abs(value)
    text = f"${amount:,.0f}" if amount >= 100 else f"${amount:,.2f}"
    return sign + text


def _percent(value: float | None) -> str:
    if value is None:
        return ""
    rounded = round(value) if abs(value) >= 10 else round(value, 1)
    return f"{'+' if value > 0 else ''}{rounded:g}%"


def _describe(line: CostLine | None) -> str:
    if line is None:
        return ""
    count = f"{line.count:g} x " if line.count != 1 else ""
    return f"{count}{line.instance_type or '?'} {line.tier}".strip()


def _what(row: DiffRow) -> str:
    before, after = _describe(row.before), _describe(row.after)
    if row.status == "added":
        return after
    if row.status == "removed":
        return before
    return before if before == after else f"{before} → {after}"


def price_sources(*breakdowns: Breakdown) -> list[str]:
    """One phrase per cloud: ``aws: snapshot prices as of 2026-08-26``."""
    seen: dict[str, dict[str, set[str]]] = {}
    for breakdown in breakdowns:
        for line in breakdown.priced:
            if line.price_source:
                seen.setdefault(line.cloud, {}).setdefault(line.price_source, set()).add(
                    line.as_of)
    out = []
    for cloud in sorted(seen):
        for source, dates in sorted(seen[cloud].items()):
            ordered = sorted(d for d in dates if d)
            when = "" if not ordered else (f" as of {ordered[0]}" if len(ordered) == 1
                                           else f" as of {ordered[0]} to {ordered[-1]}")
            out.append(f"{cloud}: {source} prices{when}")
    return out


def _headline(result: CostDiff) -> str:
    delta = result.delta_monthly
    if abs(delta) < 0.005:
        return "No change in monthly cost"
    percent = _percent(result.percent)
    return f"{_usd(delta, signed=True)}/month" + (f" ({percent})" if percent else "")


# --- JSON


def breakdown_json(breakdown: Breakdown) -> dict[str, Any]:
    return {
        "currency": "USD",
        "hourly": round(breakdown.hourly_usd, 4),
        "monthly": round(breakdown.monthly_usd, 2),
        "resources": [line.to_json() for line in breakdown.lines],
        "unpriced_count": len(breakdown.unpriced),
        "price_sources": price_sources(breakdown),
        "warnings": breakdown.warnings,
    }


def diff_json(result: CostDiff, show_unchanged: bool = False) -> dict[str, Any]:
    rows = result.rows if show_unchanged else result.changed
    return {
        "currency": "USD",
        "before_monthly": round(result.before.monthly_usd, 2),
        "after_monthly": round(result.after.monthly_usd, 2),
        "delta_monthly": round(result.delta_monthly, 2),
        "percent_change": None if result.percent is None else round(result.percent, 2),
        "resources": [_row_json(row) for row in rows],
        "unpriced": [
            {"address": row.address, "status": row.status, "reason": row.unpriced}
            for row in result.rows if row.unpriced and row.status != "unchanged"
        ],
        "price_sources": price_sources(result.before, result.after),
    }


def _row_json(row: DiffRow) -> dict[str, Any]:
    line = row.current

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    out: dict[str, Any] = {
        "address": row.address,
        "before_monthly": rounded(row.before_monthly),
        "after_monthly": rounded(row.after_monthly),
        "delta_monthly": rounded(row.delta_monthly),
        "instance_type": line.instance_type,
        "tier": line.tier or None,
        "status": row.status,
        "count": line.count,
        "region": line.region,
    }
    if row.before is not None and row.after is not None and (
            row.before.instance_type, row.before.tier, row.before.count) != (
            row.after.instance_type, row.after.tier, row.after.count):
        out["before"] = {"instance_type": row.before.instance_type, "tier": row.before.tier,
                         "count": row.before.count}
    if row.unpriced:
        out["unpriced"] = row.unpriced
    capacity = [line.capacity for line in (row.before, row.after)
                if line is not None and line.capacity is not None]
    if capacity:
        out["capacity"] = {
            "model": capacity[-1].model,
            "context": capacity[-1].context,
            "max_concurrency_before": _concurrency(row.before),
            "max_concurrency_after": _concurrency(row.after),
        }
    return out


def _concurrency(line: CostLine | None) -> float | None:
    if line is None:
        return 0.0
    return None if line.capacity is None else round(line.capacity.max_concurrency, 1)


# --- tables


def breakdown_table(breakdown: Breakdown) -> str:
    from llmplan.commands.output import table

    rows = [[line.address, line.instance_type or "-", f"{line.count:g}", line.tier or "-",
             line.region or "-", _hourly(line.hourly_usd),
             _usd(line.monthly_usd) if not line.unpriced else "not priced"]
            for line in breakdown.lines]
    parts = [table(["Resource", "Instance", "Count", "Tier", "Region", "$/hour", "$/month"],
                   rows, right={2, 5, 6}) if rows else "No compute resources found."]
    parts.append(f"\nTotal: {_usd(breakdown.monthly_usd)}/month "
                 f"({_hourly(breakdown.hourly_usd)}/hour) for {len(breakdown.priced)} priced "
                 "resource(s)")
    parts += _unpriced_text([(line.address, line.unpriced) for line in breakdown.unpriced])
    sources = price_sources(breakdown)
    if sources:
        parts.append("Prices: " + "; ".join(sources) + "; monthly = 730 hours.")
    return "\n".join(parts)


def _hourly(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _unpriced_text(items: Sequence[tuple[str, str]]) -> list[str]:
    if not items:
        return []
    return [f"Not priced ({len(items)}), left out of the totals:",
            *(f"  {address}: {reason}" for address, reason in items)]


def diff_table(result: CostDiff, show_unchanged: bool = False) -> str:
    from llmplan.commands.output import table

    rows = result.rows if show_unchanged else result.changed
    body = [[row.address, row.status, _what(row), _usd(row.before_monthly),
             _usd(row.after_monthly),
             "not priced" if row.unpriced else _usd(row.delta_monthly, signed=True)]
            for row in rows]
    parts = [table(["Resource", "Status", "What", "Before", "After", "Change"], body,
                   right={3, 4, 5}) if body else "No compute resource changed."]
    parts.append(f"\n{_headline(result)}: {_usd(result.before.monthly_usd)} -> "
                 f"{_usd(result.after.monthly_usd)} per month")
    parts += _unpriced_text([(r.address, r.unpriced) for r in result.rows
                             if r.unpriced and r.status != "unchanged"])
    sources = price_sources(result.before, result.after)
    if sources:
        parts.append("Prices: " + "; ".join(sources) + "; monthly = 730 hours.")
    return "\n".join(parts)


# --- Markdown (the pull-request comment)


def _code(address: str) -> str:
    return f"`{address}`"


def _footer(sources: list[str]) -> str:
    where = "; ".join(sources) if sources else "no prices used"
    return (f"<sub>Prices: {where}. Monthly = hourly × 730 h; compute only (disks, network "
            "and licences are not included). Generated by llmplan; this comment is updated "
            "on every push.</sub>")


def diff_markdown(result: CostDiff) -> str:
    from llmplan.commands.output import markdown_table

    changed = result.changed
    lines = [MARKER, "### llmplan cost estimate", ""]
    lines.append(f"**{_headline(result)}** · {_usd(result.before.monthly_usd)} → "
                 f"{_usd(result.after.monthly_usd)} per month")
    lines.append("")
    if changed:
        rows = []
        for row in changed:
            label = _code(row.address) + ("" if row.status == "changed" else f" ({row.status})")
            change = "not priced" if row.unpriced else _usd(row.delta_monthly, signed=True)
            rows.append([f"{label}<br>{_what(row)}", _side(row.before), _side(row.after),
                         change])
        lines.append(markdown_table(["Resource", "Before", "After", "Change"], rows,
                                    right={1, 2, 3}))
    else:
        lines.append("No compute resource changed.")
    gpu_rows = [row for row in changed if (row.current.gpu_count or 0) > 0]
    gpus = _gpu_change(gpu_rows)
    if gpus:
        lines += ["", gpus]
    capacity = _capacity_table(changed)
    if capacity:
        lines += ["", capacity]
    unpriced = [row for row in changed if row.unpriced]
    if unpriced:
        lines += ["", f"⚠️ {len(unpriced)} changed resource(s) could not be priced and are "
                      "left out of the totals (see details)."]
    not_priced = [row for row in result.rows if row.unpriced]
    summary = f"Details: {len(result.rows)} compute resource(s)" + (
        f", {len(not_priced)} not priced" if not_priced else "")
    lines += ["", f"<details><summary>{summary}</summary>", ""]
    all_rows = [[_code(row.address), row.status, _what(row), row.current.region or "-",
                 _side(row.before), _side(row.after)] for row in result.rows]
    if all_rows:
        lines.append(markdown_table(["Resource", "Status", "What", "Region", "Before", "After"],
                                    all_rows, right={4, 5}))
    if not_priced:
        lines += ["", "**Not priced** (left out of the totals):", ""]
        lines += [f"- {_code(row.address)}: {row.unpriced}" for row in not_priced]
    notes = [(row.address, note) for row in result.rows for note in row.current.notes]
    if notes:
        lines += ["", "**Notes**", ""]
        lines += [f"- {_code(address)}: {note}" for address, note in notes]
    lines += ["", "</details>", "", _footer(price_sources(result.before, result.after))]
    return "\n".join(lines)


def _side(line: CostLine | None) -> str:
    if line is None:
        return "-"
    return "not priced" if line.unpriced else _usd(line.monthly_usd)


def _gpu_change(rows: Sequence[DiffRow]) -> str:
    def gpus(line: CostLine | None) -> float:
        return 0.0 if line is None else line.count * line.gpu_count

    before = sum(gpus(r.before) for r in rows)
    after = sum(gpus(r.after) for r in rows)
    if before == after:
        return ""
    kinds = sorted({r.current.gpu for r in rows if r.current.gpu})
    return (f"**GPUs in the changed resources:** {before:g} → {after:g} "
            f"({', '.join(kinds)})")


def _capacity_table(rows: Sequence[DiffRow]) -> str:
    from llmplan.commands.output import markdown_table

    body = []
    for row in rows:
        known = [line.capacity for line in (row.before, row.after)
                 if line is not None and line.capacity is not None]
        if not known:
            continue
        before, after = _concurrency(row.before), _concurrency(row.after)
        body.append([_code(row.address), f"{known[-1].model} at {known[-1].context:,} tokens",
                     "?" if before is None else f"{before:g}",
                     "?" if after is None else f"{after:g}"])
    if not body:
        return ""
    return ("**Serving capacity** (max concurrent requests the KV cache holds, for the model "
            "the boot script serves):\n\n" + markdown_table(
                ["Resource", "Model", "Before", "After"], body, right={2, 3}))


def breakdown_markdown(breakdown: Breakdown) -> str:
    from llmplan.commands.output import markdown_table

    lines = [MARKER, "### llmplan cost breakdown", "",
             f"**{_usd(breakdown.monthly_usd)}/month** for {len(breakdown.priced)} priced "
             "resource(s)", ""]
    rows = [[_code(line.address), line.instance_type or "-", f"{line.count:g}",
             line.tier or "-", line.region or "-",
             "not priced" if line.unpriced else _usd(line.monthly_usd)]
            for line in breakdown.lines]
    if rows:
        lines.append(markdown_table(["Resource", "Instance", "Count", "Tier", "Region",
                                     "$/month"], rows, right={2, 5}))
    if breakdown.unpriced:
        lines += ["", "**Not priced** (left out of the total):", ""]
        lines += [f"- {_code(line.address)}: {line.unpriced}" for line in breakdown.unpriced]
    lines += ["", _footer(price_sources(breakdown))]
    return "\n".join(lines)
