"""``llmplan check``: check Terraform for GPU serving problems (the pre-commit hook).

Prints ``file:line: LLM001 error: message`` lines (or JSON, or SARIF 2.1.0) on stdout and exits
0 when nothing reaches the ``--fail-on`` level, 1 when something does, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from llmplan.errors import UsageError
from llmplan.vocabulary import SEVERITIES

if TYPE_CHECKING:
    from llmplan.check.base import Finding
    from llmplan.check.runner import CheckResult

FORMATS = ("text", "json", "sarif")
LEVELS = SEVERITIES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                        help=".tf/.tfvars files or folders (default: .)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (file:line lines), json, or sarif (code scanning)")
    parser.add_argument("--fail-on", choices=LEVELS, default="error",
                        help="lowest severity that makes the exit code 1 (default: error)")
    parser.add_argument("--skip", action="append", default=[], metavar="RULE",
                        help="rule id(s) to skip, e.g. --skip LLM006 (repeat or comma-separate)")


def _skips(values: list[str]) -> set[str]:
    from llmplan.check.rules import RULES_BY_ID
    from llmplan.errors import did_you_mean

    out: set[str] = set()
    for value in values:
        for item in value.split(","):
            rule = item.strip().upper()
            if not rule:
                continue
            if rule not in RULES_BY_ID:
                raise UsageError(f"--skip: unknown rule '{item.strip()}'"
                                 f"{did_you_mean(rule, RULES_BY_ID)}; "
                                 f"rules: {', '.join(RULES_BY_ID)}")
            out.add(rule)
    return out


def run(args: argparse.Namespace) -> int:
    skip = _skips(args.skip)
    for path in args.paths:
        if not Path(path).exists():
            raise UsageError(f"{path}: no such file or directory")
    from llmplan.check.runner import run_check

    result = run_check(args.paths, skip)
    for message in result.notes:
        print(f"note: {message}", file=sys.stderr)
    findings = [_relative(f) for f in result.findings]
    if args.format == "json":
        _print_json(result, findings)
    elif args.format == "sarif":
        _print_sarif(findings)
    else:
        for f in findings:
            print(f"{f.file}:{f.line}: {f.rule} {f.severity}: {f.message}")
        _summary(result, findings)
    threshold = LEVELS.index(args.fail_on)
    failing = [f for f in findings if LEVELS.index(f.severity) <= threshold]
    return 1 if failing else 0


def _relative(finding: Finding) -> Finding:
    """Paths relative to the working directory when below it (stable SARIF URIs)."""
    from dataclasses import replace

    try:
        rel = os.path.relpath(finding.file)
    except ValueError:
        return finding
    return replace(finding, file=rel) if not rel.startswith("..") else finding


def _summary(result: CheckResult, findings: list[Finding]) -> None:
    if not findings:
        return
    sys.stdout.flush()  # the summary follows the findings when both go to one terminal
    counts = {level: sum(f.severity == level for f in findings) for level in LEVELS}
    parts = [f"{n} {level}{'s' if n != 1 else ''}" for level, n in counts.items() if n]
    print(f"llmplan check: {', '.join(parts)} in {result.files_checked} files checked",
          file=sys.stderr)


def _print_json(result: CheckResult, findings: list[Finding]) -> None:
    import json

    data = {"files_checked": result.files_checked, "findings": [f.to_json() for f in findings]}
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _print_sarif(findings: list[Finding]) -> None:
    import json

    from llmplan.check.sarif import sarif

    sys.stdout.write(json.dumps(sarif(findings), indent=2) + "\n")
