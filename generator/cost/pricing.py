"""What Terraform compute costs per month: resources -> (instance type, count, tier, region) -> $.

One small function per Terraform resource type (as Infracost does) turns a resource's values into
:class:`Usage` parts; the catalogs price them. Unlike Infracost it prices the tiers the source
asks for: AWS ``instance_market_options`` spot on plain instances, GCP ``provisioning_model =
"SPOT"``, Azure ``priority = "Spot"``, and capacity reservations (billed at the on-demand rate
whether instances use them or not). What cannot be priced is a line with a reason, never $0.

Resources come from a Terraform folder (through the shared reader
:mod:`llmplan.terraform.module`, with ``count``/``for_each`` expanded where static and local
modules followed) or from a plan JSON (:mod:`llmplan.terraform.plan_json`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmplan.cost.capacity import capacity_of
from llmplan.cost.lines import CostLine
from llmplan.cost.mappers import MAPPERS
from llmplan.cost.usage import FREE_TYPES, NOT_PRICED, Context, Unpriced, Usage
from llmplan.providers.base import HOURS_PER_MONTH, Catalog, Offering
from llmplan.terraform.plan_json import ResourceValues
from llmplan.vocabulary import RESERVED_TIERS

if TYPE_CHECKING:
    pass


# --- value helpers: plan-JSON shaped values, unknowns from either reader


# --- what a resource uses


# --- AWS


# --- Google Cloud


# --- Azure


# --- pricing


class PriceBook:
    """Catalog offerings by (cloud, region, instance type), types case-insensitive."""

    def __init__(self, catalogs: Iterable[Catalog]) -> None:
        self.catalogs = {c.cloud: c for c in catalogs}
        self._by_key: dict[tuple[str, str, str], Offering] = {}
        self._types: dict[tuple[str, str], set[str]] = {}
        for catalog in self.catalogs.values():
            for o in catalog.offerings:
                self._by_key[(o.cloud, o.region, o.instance_type.lower())] = o
                self._types.setdefault((o.cloud, o.instance_type.lower()), set()).add(o.region)

    def regions(self, cloud: str) -> set[str]:
        return {k[1] for k in self._by_key if k[0] == cloud}

    def find(self, usage: Usage) -> Offering:
        itype = usage.instance_type.lower()
        if usage.cloud not in self.catalogs:
            raise Unpriced(f"no {usage.cloud} catalog loaded")
        regions = self._types.get((usage.cloud, itype))
        if not regions:
            raise Unpriced(f"{usage.instance_type} is not in the {usage.cloud} catalog "
                           "(llmplan's catalogs list GPU instance types)")
        if usage.region is None:
            raise Unpriced(f"region not known (set it in the provider block or pass "
                           f"--region {usage.cloud}=REGION)")
        offering = self._by_key.get((usage.cloud, usage.region, itype))
        if offering is None:
            raise Unpriced(f"{usage.instance_type} has no price for {usage.region} in the "
                           f"{usage.cloud} catalog (priced in {', '.join(sorted(regions))})")
        return offering


def price_resources(resources: Sequence[ResourceValues], book: PriceBook,
                    default_regions: Mapping[str, str] | None = None) -> list[CostLine]:
    ctx = Context({r.address: r for r in resources}, dict(default_regions or {}))
    lines: list[CostLine] = []
    for r in resources:
        if r.type in FREE_TYPES:
            continue
        line = CostLine(r.address, r.type, cloud=cloud_of(r.type), file=r.file, line=r.line)
        if r.type in NOT_PRICED:
            line.unpriced = NOT_PRICED[r.type]
        elif r.type not in MAPPERS:
            continue
        elif r.unknown_count:
            line.unpriced = r.unknown_count
        else:
            try:
                usages = _declared_commitment(r, MAPPERS[r.type](r, ctx), line)
                _price(line, usages, book, r.multiplicity)
            except Unpriced as why:
                line.unpriced = str(why)
        if line.unpriced:
            line.hourly_usd = line.monthly_usd = None
        else:
            line.capacity = capacity_of(r, ctx, line)
        lines.append(line)
    return lines


def _declared_commitment(r: ResourceValues, usages: list[Usage], line: CostLine) -> list[Usage]:
    """Price on-demand usage at the committed rate its ``llmplan-tier`` tag declares.

    Reserved instances, savings plans and committed-use discounts are bought outside Terraform,
    so nothing in a resource says it is covered; llmplan's generated Terraform tags the tier it
    was planned at, and a user can tag their own resources the same way.
    """
    tags: dict[str, Any] = {}
    for key in ("tags", "labels"):
        value = r.values.get(key)
        if isinstance(value, Mapping):
            tags.update({str(k).lower().replace("_", "-").replace(":", "-"): v
                         for k, v in value.items()})
    tier = str(tags.get("llmplan-tier", "")).strip().lower()
    if tier not in RESERVED_TIERS:
        return usages
    out = []
    for usage in usages:
        if usage.tier == "on-demand":
            usage = Usage(usage.cloud, usage.instance_type, usage.count, tier, usage.region,
                          usage.label, usage.covered_by)
            line.notes.append(f"priced at {tier}: the commitment its llmplan-tier tag declares "
                              "(bought outside Terraform)")
        out.append(usage)
    return out


def cloud_of(type_: str) -> str:
    return {"aws": "aws", "google": "gcp", "azurerm": "azure"}.get(type_.split("_", 1)[0], "")


def _price(line: CostLine, usages: list[Usage], book: PriceBook, multiplicity: int) -> None:
    first = usages[0]
    line.instance_type = first.instance_type
    line.region = first.region
    line.count = sum(u.count for u in usages) * multiplicity
    labels = [u.label or u.tier for u in usages]
    line.tier = "+".join(dict.fromkeys(labels))
    if len(usages) > 1:
        line.notes.append(", ".join(f"{u.count * multiplicity:g} {u.tier}" for u in usages))
    hourly = 0.0
    for usage in usages:
        if usage.region is None:
            usage = Usage(usage.cloud, usage.instance_type, usage.count, usage.tier,
                          None, usage.label, usage.covered_by)
        offering = book.find(usage)
        line.region = offering.region
        line.gpu, line.gpu_count = offering.gpu, offering.gpu_count
        if usage.label == "capacity-reservation":
            rate = "the on-demand rate" if usage.tier == "on-demand" else f"the {usage.tier} rate"
            line.notes.append(f"billed at {rate} whether instances use it or not")
        if usage.covered_by:
            line.tier = "in-capacity-reservation"
            line.notes.append(f"runs in {usage.covered_by}, billed there")
            continue
        price = offering.price(usage.tier)
        if price is None:
            reason = offering.unpriced.get(usage.tier, "")
            raise Unpriced(f"no {usage.tier} price for {usage.instance_type} in "
                           f"{offering.region}" + (f": {reason}" if reason else ""))
        hourly += price.hourly_usd * usage.count * multiplicity
        line.price_source, line.as_of = price.source, price.as_of
    line.hourly_usd = hourly
    line.monthly_usd = hourly * HOURS_PER_MONTH


# --- reading Terraform folders through the shared reader


# --- one side's breakdown, and the difference between two sides


