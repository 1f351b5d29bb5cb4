"""The "rejected because" table that ``plan --explain`` prints after the ranking."""

from __future__ import annotations


def render_rejections(rejected: dict[str, str], *, markdown: bool = False) -> str:
    from llmplan.tables import markdown_table, table

    rows = [list(k.split(":", 1)) + [v] for k, v in sorted(rejected.items())]
    headers = ("cloud", "instance", "rejected because")
    return markdown_table(headers, rows) if markdown else table(headers, rows)
