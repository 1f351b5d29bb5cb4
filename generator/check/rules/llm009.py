"""LLM009: a key written twice in one object or block of a GPU module.

HCL (and Terraform) keep the last value silently, so a node group that says ``min_size`` twice
gets whichever came last: the scaling the author reads is not the scaling that is applied.
Only modules with GPU compute are judged, so unrelated Terraform gets no findings.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmplan.check.base import Deployment, Finding, Rule
from llmplan.terraform.syntax import DuplicateKey


def _check(dep: Deployment) -> Iterable[Finding]:
    return ()  # works on parsed files, not deployments: see findings_for()


RULE = Rule(
    id="LLM009",
    title="key written twice; the last value wins silently",
    # Often harmless (an empty list written again), sometimes not (scaling sizes that the API
    # then rejects): a warning, which --fail-on warning turns into a failure.
    severity="warning",
    reads=("*.tf", "*.tfvars"),
    check=_check,
)


def findings_for(duplicates: Iterable[DuplicateKey]) -> list[Finding]:
    return [
        Finding(RULE.id, RULE.severity, d.file, d.line, "",
                f"'{d.key}' is set again here (first at line {d.first_line}); Terraform keeps "
                "only this last value")
        for d in duplicates
    ]
