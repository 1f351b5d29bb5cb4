"""A cost breakdown or diff as a table, Markdown (the PR comment) or JSON.

Pure formatting of :class:`~llmplan.cost.diff.Breakdown` and :class:`~llmplan.cost.diff.CostDiff`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmplan.cost.diff import Breakdown, CostDiff, DiffRow
from llmplan.cost.lines import CostLine

MARKER = "<!-- llmplan-cost -->"


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


def breakdown_table(breakdown: Breakdown) -> str:
    from llmplan.tables import table

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
    from llmplan.tables import table

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


def _code(address: str) -> str:
    return f"`{address}`"


def _footer(sources: list[str]) -> str:
    where = "; ".join(sources) if sources else "no prices used"
    return (f"<sub>Prices: {where}. Monthly = hourly × 730 h; compute only (disks, network "
            "and licences are not included). Generated by llmplan; this comment is updated "
            "on every push.</sub>")


def diff_markdown(result: CostDiff) -> str:
    from llmplan.tables import markdown_table

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
    from llmplan.tables import markdown_table

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
    from llmplan.tables import markdown_table

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
