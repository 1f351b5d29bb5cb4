"""LLM003: parallelism the engine rejects at start-up (heads vs TP, KV heads vs TP, PP vs
layers)."""

from __future__ import annotations

from collections.abc import Iterable

from llmplan.check.base import Deployment, Finding, Rule, model, parallelism


def _check(dep: Deployment) -> Iterable[Finding]:
    if dep.served is None or dep.served.engine is None:
        return
    arch, label = model(dep)
    par = parallelism(dep)
    if arch is None or par is None:
        return
    from llmplan.sizing.memory import parallelism_problems

    tp, pp, _ = par
    problems = parallelism_problems(arch, tp, pp)
    if problems:
        yield RULE.finding(dep, dep.at_served(), (
            f"{dep.served.server} rejects TP={tp}, PP={pp} for {label}: "
            + "; ".join(problems)))


RULE = Rule(
    id="LLM003",
    title="parallelism the engine rejects",
    severity="error",
    reads=("boot scripts", "kubernetes manifests", "ECS container definitions"),
    check=_check,
)
