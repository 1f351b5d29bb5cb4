"""A verify run as a text table, Markdown (a PR comment or runbook) or JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmplan.tables import markdown_table, table
from llmplan.verify.capacity import worst
from llmplan.verify.checks import CheckResult
from llmplan.verify.expected import Prediction

HEADERS = ("figure", "plan", "measured", "deviation", "status", "note")


@dataclass
class Report:
    endpoint: str
    model: str | None
    prediction: Prediction | None
    checks: list[CheckResult]

    @property
    def status(self) -> str:
        return worst([c.status for c in self.checks])

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.status == "fail"]

    def to_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "model": self.model, "status": self.status,
                "prediction": self.prediction.to_json() if self.prediction else None,
                "checks": [c.to_json() for c in self.checks]}


def _rows(check: CheckResult) -> list[list[object]]:
    out: list[list[object]] = []
    for r in check.rows:
        dev = "" if r.deviation is None else f"{r.deviation * 100:+.1f}%"
        out.append([r.figure, r.plan or "-", r.measured or "-", dev, r.status, r.note])
    return out


def render_text(report: Report) -> str:
    lines = [f"llmplan verify: {report.endpoint}" + (f" ({report.model})" if report.model
                                                       else "")]
    if report.prediction is not None:
        lines.append(f"plan: {report.prediction.source}")
    for check in report.checks:
        lines += ["", f"{check.name}: {check.status.upper()} - {check.summary}"]
        if check.rows:
            lines += ["  " + line for line in table(HEADERS, _rows(check)).splitlines()]
        lines += [f"  evidence: {e}" for e in check.evidence]
    advice = [a for c in report.checks for a in c.advice]
    lines += ["", f"result: {report.status.upper()}"
              + (f" ({', '.join(report.failed)} failed)" if report.failed else "")]
    if advice:
        lines.append("what to change:")
        lines += [f"  - {a}" for a in advice]
    return "\n".join(lines)


def render_markdown(report: Report) -> str:
    icon = {"pass": "pass", "warn": "warning", "fail": "**FAIL**", "skip": "skipped"}
    lines = [f"### llmplan verify: {icon[report.status]}", "",
             f"Endpoint `{report.endpoint}`" + (f", model `{report.model}`" if report.model
                                                else "")]
    if report.prediction is not None:
        lines[-1] += f"; plan: {report.prediction.source}"
    for check in report.checks:
        lines += ["", f"#### {check.name}: {icon[check.status]}", "", check.summary]
        if check.rows:
            lines += ["", markdown_table(HEADERS, _rows(check), {3})]
        if check.evidence:
            lines += [""] + [f"- evidence: {e}" for e in check.evidence]
        if check.advice:
            lines += [""] + [f"- **change:** {a}" for a in check.advice]
    return "\n".join(lines)
