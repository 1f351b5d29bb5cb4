"""LLM006: a cheaper instance fits the same workload (which one, the monthly saving, and where
the prices come from).

The workload is what the deployment serves: its model and precision, its context (the flag, tag,
config or engine default) and its concurrency (``llmplan-concurrency`` or config, else 1). The
same cloud, region and tier are compared, with the same selection ``llmplan plan`` uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from llmplan.check.base import Deployment, Finding, Rule, size
from llmplan.terraform.compute.reader import COMPUTE_TYPES
from llmplan.vocabulary import RESERVED_TIERS, Severity

if TYPE_CHECKING:
    from llmplan.providers.base import Offering

MIN_SAVING = 0.10  # below this, a suggestion is noise
WARN_SAVING = 0.40  # from this (with a declared concurrency), a warning

_PREFERRED_REGIONS = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}


def _check(dep: Deployment) -> Iterable[Finding]:
    compute = dep.compute
    if compute is None or compute.kind in ("sagemaker", "karpenter"):
        return
    if not isinstance(compute.instance_type, str) or compute.nodes == 0:
        return
    sized = size(dep)
    if sized is None or not sized.result.fits:
        return
    from llmplan.catalog.pricing import load_catalogs
    from llmplan.plan.select import select

    catalog = load_catalogs([compute.cloud], "snapshot").catalogs[0]
    # Spot is read from the resource; a commitment bought outside Terraform only from the
    # llmplan-tier tag, so that a reserved plan is compared with reserved prices.
    reserved = dep.intent.tier if dep.intent.tier in RESERVED_TIERS else None
    tier = "spot" if compute.spot else (reserved or "on-demand")
    current = _offering(catalog.offerings, compute.instance_type, dep.region)
    if current is None or current.price(tier) is None:
        return
    price = current.price(tier)
    assert price is not None
    nodes = compute.nodes or 1
    served = dep.served
    if served is not None and served.group_size:
        # One replica spread over pods (LeaderWorkerSet) takes as many machines as it spans.
        per_pod = served.gpus if isinstance(served.gpus, int) else 1
        nodes = max(nodes, math.ceil(served.group_size * per_pod / max(1, current.gpu_count)))
    now = price.monthly_usd * nodes
    spec = replace(sized.workload, regions=(current.region,), tiers=(tier,),
                   clouds=(compute.cloud,), allow_spot=tier == "spot")
    best = next(iter(select(sized.arch, spec, sized.engine, [catalog], (tier,)).candidates), None)
    if best is None or best.offering.instance_type.lower() == current.instance_type.lower():
        return
    saving = now - best.monthly_usd
    if saving < MIN_SAVING * now:
        return
    shape = best.shape
    layout = (f"{best.nodes} x " if best.nodes > 1 else "") + best.offering.instance_type
    conc = dep.intent.concurrency
    assumed = "" if conc else ", concurrency 1 assumed (tag llmplan-concurrency to set it)"
    running = size(dep, engine_view=True)
    if running is not None and running.workload.context > sized.workload.context:
        assumed += f", with {sized.engine.display}'s context limited to it"
    message = (
        f"a cheaper instance fits {sized.label} at context "
        f"{sized.workload.context:,}{assumed}: {layout} ({best.offering.gpu_count} x "
        f"{best.offering.gpu}, TP={shape.tensor_parallel}, PP={shape.pipeline_parallel}) at "
        f"${best.monthly_usd:,.0f}/month vs ${now:,.0f}/month for {nodes} x "
        f"{current.instance_type} in {current.region} ({tier}); saves ${saving:,.0f}/month "
        f"({saving / now:.0%}); prices: {compute.cloud} {price.source} as of {price.as_of}"
        + (f" ({price.origin})" if price.origin else ""))
    # A warning needs a large saving for a workload the user described; with the concurrency
    # assumed, the same suggestion is information.
    severity: Severity = "warning" if saving >= WARN_SAVING * now and conc else "info"
    yield RULE.finding(dep, dep.at_compute(), message, severity)


def _offering(offerings: Sequence[Offering], instance_type: str, region: str | None
              ) -> Offering | None:
    """The catalog row for this type: in the deployment's region, else a reference region."""
    rows = [o for o in offerings if o.instance_type.lower() == instance_type.lower()]
    if not rows:
        return None
    for wanted in (region, _PREFERRED_REGIONS.get(rows[0].cloud)):
        match = next((o for o in rows if o.region == wanted), None)
        if match is not None:
            return match
    return rows[0]


RULE = Rule(
    id="LLM006",
    title="a cheaper instance fits the same workload",
    severity="info",
    reads=COMPUTE_TYPES,
    check=_check,
)
