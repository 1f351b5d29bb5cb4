"""Findings as a SARIF 2.1.0 log, for GitHub code scanning and other SARIF viewers."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from llmplan import __version__
from llmplan.check.base import Finding
from llmplan.check.rules import RULES


def sarif(findings: list[Finding]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: every rule described, one result per finding."""
    level = {"error": "error", "warning": "warning", "info": "note"}
    rules = [{
        "id": rule.id,
        "name": "".join(w.capitalize() for w in re.findall(r"[A-Za-z0-9]+", rule.title)),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.title} (reads: {', '.join(rule.reads[:8])})"},
        "defaultConfiguration": {"level": level[rule.severity]},
        "properties": {"tags": ["terraform", "gpu", "llm"]},
    } for rule in RULES]
    index = {rule.id: i for i, rule in enumerate(RULES)}
    results = []
    for f in findings:
        digest = hashlib.sha256(f"{f.rule}|{f.file}|{f.resource}|{f.message}".encode())
        results.append({
            "ruleId": f.rule,
            "ruleIndex": index.get(f.rule, 0),
            "level": level.get(f.severity, "note"),
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": Path(f.file).as_posix(), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(1, f.line)},
            }}],
            "partialFingerprints": {"llmplanFinding/v1": digest.hexdigest()[:32]},
            **({"properties": {"resource": f.resource}} if f.resource else {}),
        })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "llmplan", "version": __version__, "rules": rules}},
            "results": results,
        }],
    }
