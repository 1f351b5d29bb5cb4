"""LLM000: a file that does not parse is a finding (file and line), never a traceback."""

from __future__ import annotations

from collections.abc import Iterable

from llmplan.check.base import Deployment, Finding, Rule
from llmplan.terraform.syntax import ParseFailure


def _check(dep: Deployment) -> Iterable[Finding]:
    return ()  # works on files, not deployments: see finding_for()


RULE = Rule(
    id="LLM000",
    title="file does not parse as HCL",
    severity="error",
    reads=("*.tf", "*.tfvars"),
    check=_check,
)


def finding_for(failure: ParseFailure) -> Finding:
    return Finding(RULE.id, RULE.severity, failure.file, failure.line, "", failure.message)
