"""What ``generate`` writes, ``check`` accepts: the two halves agree on the same workload.

The generated tags (llmplan-context, llmplan-concurrency, llmplan-nodes, workload) tell the checker
what the plan was made for, so multi-node replicas, batch spot plans and the chosen instance are
judged against the same workload instead of defaults.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmplan.check.runner import run_check

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RENDERED = sorted(p.parent for p in EXAMPLES.glob("*/*/main.tf"))


def test_there_are_rendered_examples() -> None:
    assert len(RENDERED) >= 12


@pytest.mark.parametrize("folder", RENDERED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_generated_terraform_has_no_error_or_warning_findings(folder: Path) -> None:
    result = run_check([folder])
    serious = [f for f in result.findings if f.severity in ("error", "warning")]
    assert serious == [], "\n".join(f"{f.file}:{f.line}: {f.rule} {f.message}" for f in serious)


@pytest.mark.parametrize("folder", RENDERED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_cost_of_generated_terraform_is_the_plan_price(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import re

    from llmplan.cli import main

    header = (folder / "main.tf").read_text()
    planned = float(re.search(r"# plan price: \$([\d,.]+)/hour", header).group(1)  # type: ignore[union-attr]
                    .replace(",", ""))
    assert main(["cost", "breakdown", str(folder), "--format", "json",
                 "--pricing", "snapshot"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hourly"] == pytest.approx(planned, abs=0.01)
