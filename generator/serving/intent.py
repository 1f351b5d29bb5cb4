"""What a deployment declares about itself: ``llmplan-*`` tags/labels and ``.llmplan.yaml``.

Tags and labels say which model, context, concurrency, engine and workload kind a machine was
planned for, and which rules to skip; the config file gives repository-wide defaults for what
Terraform does not say.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from llmplan.serving.served import ENGINE_NAMES
from llmplan.terraform.values import as_int
from llmplan.vocabulary import TIERS, WORKLOAD_KINDS, Tier, WorkloadKind


@dataclass
class Intent:
    """What tags, labels or the config file declare about a deployment."""

    model: str | None = None
    context: int | None = None
    concurrency: int | None = None
    engine: str | None = None
    kind: WorkloadKind | None = None  # the ``workload`` tag: realtime | batch
    skip: set[str] = field(default_factory=set)
    nodes: int | None = None  # machines one replica spans (llmplan-nodes)
    tier: Tier | None = None  # the price tier it was planned at (llmplan-tier), e.g. reserved-1y

    def over(self, base: Intent) -> Intent:
        """This intent with ``base`` filling what it does not say."""
        return Intent(
            model=self.model or base.model,
            context=self.context or base.context,
            concurrency=self.concurrency or base.concurrency,
            engine=self.engine or base.engine,
            kind=self.kind or base.kind,
            skip=self.skip | base.skip,
            nodes=self.nodes or base.nodes,
            tier=self.tier or base.tier,
        )


RULE_ID = re.compile(r"llm\d{3}", re.I)


def rule_ids(text: Any) -> set[str]:
    """Rule ids in a skip list: "LLM006,LLM005", "llm006-llm005" (GCP label values), a list."""
    if isinstance(text, list | tuple | set):
        return {i for item in text for i in rule_ids(item)}
    return {m.upper() for m in RULE_ID.findall(str(text or ""))}


def intent_from_labels(labels: Mapping[str, str]) -> Intent:
    """``llmplan-model``, ``llmplan-context``, ``llmplan-concurrency``, ``workload``,
    ``llmplan-skip`` (``_`` for ``-`` and any case accepted, as GCP labels need)."""
    norm = {str(k).strip().lower().replace("_", "-").replace(":", "-"): v
            for k, v in labels.items()}
    workload = norm.get("llmplan-workload") or norm.get("workload")
    engine = norm.get("llmplan-engine")
    return Intent(
        model=norm.get("llmplan-model") or None,
        context=as_int(norm.get("llmplan-context")),
        concurrency=as_int(norm.get("llmplan-concurrency")),
        engine=engine.lower() if engine and engine.lower() in ENGINE_NAMES else None,
        kind=_kind(workload),
        skip=rule_ids(norm.get("llmplan-skip")),
        nodes=as_int(norm.get("llmplan-nodes")),
        tier=_tier(norm.get("llmplan-tier")),
    )


def _tier(value: object) -> Tier | None:
    text = str(value or "").strip().lower()
    return next((t for t in TIERS if t == text), None)


def _kind(value: object) -> WorkloadKind | None:
    text = str(value or "").strip().lower()
    return next((k for k in WORKLOAD_KINDS if k == text), None)


@dataclass
class CheckConfig:
    """``.llmplan.yaml``: defaults for what Terraform does not say, and rules to skip."""

    path: Path | None = None
    defaults: Intent = field(default_factory=Intent)
    problem: str | None = None


CONFIG_NAME = ".llmplan.yaml"


def find_config(start: Path) -> Path | None:
    """The nearest ``.llmplan.yaml`` from ``start`` up to the repository root (``.git``)."""
    probe = start.resolve()
    while True:
        candidate = probe / CONFIG_NAME
        if candidate.is_file():
            return candidate
        if (probe / ".git").exists() or probe.parent == probe:
            return None
        probe = probe.parent


def load_config(path: Path | None) -> CheckConfig:
    """Read a config file; a malformed one is reported (``problem``), never fatal."""
    if path is None:
        return CheckConfig()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return CheckConfig(path, problem=f"{path}: cannot read")
    return _load_config(path, stamp)


@cache
def _load_config(path: Path, stamp: int) -> CheckConfig:
    """One read per file version: modules of one run share the repository's config."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return CheckConfig(path, problem=f"{path}: cannot read ({type(exc).__name__})")
    if not isinstance(data, dict):
        return CheckConfig(path, problem=f"{path}: must be a mapping")
    section = data.get("defaults")
    defaults: dict[str, Any] = section if isinstance(section, dict) else data
    labels = {f"llmplan-{k}" if k in ("model", "context", "concurrency", "engine") else k: v
              for k, v in defaults.items() if isinstance(v, str | int)}
    intent = intent_from_labels({k: str(v) for k, v in labels.items()})
    intent.skip |= rule_ids(data.get("skip"))
    return CheckConfig(path, intent)
