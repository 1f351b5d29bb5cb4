"""Turn a catalog document (docs/catalog-format.md) into offerings; shared by every provider."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from importlib import resources
from typing import Any, cast

from llmplan.errors import UsageError
from llmplan.providers.base import CATALOG_FORMAT, TIERS, Catalog, Offering, Price, PriceSource


def load_snapshot(cloud: str) -> dict[str, Any]:
    """The embedded snapshot document of ``cloud``, shipped as package data."""
    path = resources.files("llmplan.providers").joinpath(f"data/{cloud}.json")
    return cast(dict[str, Any], json.loads(path.read_text(encoding="utf-8")))


def validate_document(doc: Mapping[str, Any], cloud: str) -> list[str]:
    """Structural problems of a catalog document (empty when it is usable)."""
    problems: list[str] = []
    if doc.get("format") != CATALOG_FORMAT:
        problems.append(f"format {doc.get('format')!r} is not {CATALOG_FORMAT}")
    if doc.get("cloud") != cloud:
        problems.append(f"cloud {doc.get('cloud')!r} is not {cloud!r}")
    types = doc.get("instance_types")
    if not isinstance(types, Mapping) or not types:
        problems.append("no instance_types")
        return problems
    for row in doc.get("prices", []):
        if row.get("instance_type") not in types:
            problems.append(f"price row for unknown instance type {row.get('instance_type')!r}")
        price = row.get("hourly_usd")
        if not isinstance(price, int | float) or price <= 0:
            problems.append(
                f"price row {row.get('instance_type')}/{row.get('region')}: "
                f"hourly_usd {price!r} is not a positive number"
            )
        if row.get("tier") not in TIERS:
            problems.append(f"price row with unknown tier {row.get('tier')!r}")
    return problems


def _source_label(doc: Mapping[str, Any], key: str) -> str:
    source = doc.get("sources", {}).get(key)
    if isinstance(source, Mapping):
        return str(source.get("url") or key)
    return key


def machine_prices(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Whole-machine price rows, plus rows summed from parts (vCPU + RAM + GPUs) where given."""
    rows = [dict(r) for r in doc.get("prices", [])]
    components = doc.get("components") or []
    if not components:
        return rows
    parts: dict[tuple[str, str, str], dict[str, Any]] = {}
    for c in components:
        name = c["gpu"] if c["resource"] == "gpu" else f"{c.get('family')}:{c['resource']}"
        parts[(c["region"], c["tier"], name)] = c
    have = {(r["instance_type"], r["region"], r["tier"]) for r in rows}
    regions = {c["region"] for c in components}
    for itype, spec in doc["instance_types"].items():
        family = spec.get("family")
        for region in regions:
            for tier in TIERS:
                if (itype, region, tier) in have:
                    continue
                cpu = parts.get((region, tier, f"{family}:vcpu"))
                ram = parts.get((region, tier, f"{family}:ram_gib"))
                gpu = parts.get((region, tier, spec["gpu"]))
                if not (cpu and ram and gpu):
                    continue
                total = (
                    spec["vcpus"] * cpu["hourly_usd"]
                    + spec["memory_gib"] * ram["hourly_usd"]
                    + spec["gpu_count"] * gpu["hourly_usd"]
                )
                rows.append(
                    {
                        "instance_type": itype,
                        "region": region,
                        "tier": tier,
                        "hourly_usd": round(total, 6),
                        "source": gpu["source"],
                        "as_of": min(cpu["as_of"], ram["as_of"], gpu["as_of"]),
                        "derived": "vCPU + RAM + GPU parts",
                    }
                )
    return rows


def catalog_from_document(
    doc: Mapping[str, Any], cloud: str, source: PriceSource | None = None
) -> Catalog:
    """Offerings of ``cloud`` from one document; raises UsageError if it is not a catalog."""
    problems = validate_document(doc, cloud)
    if problems:
        raise UsageError(f"{cloud} catalog: {problems[0]}")
    src = cast(PriceSource, source or doc.get("source", "snapshot"))
    prices: dict[tuple[str, str], dict[str, Price]] = defaultdict(dict)
    for row in machine_prices(doc):
        origin = _source_label(doc, row.get("source", ""))
        if row.get("derived"):
            origin = f"{origin} ({row['derived']})"
        prices[(row["instance_type"], row["region"])][row["tier"]] = Price(
            hourly_usd=float(row["hourly_usd"]),
            source=src,
            as_of=str(row.get("as_of") or doc.get("as_of", "")),
            origin=origin,
        )
    unpriced: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for row in doc.get("unpriced", []):
        unpriced[(row["instance_type"], row["region"])][row["tier"]] = row.get("reason", "")
    offerings = []
    for itype, region in sorted(set(prices) | set(unpriced)):
        spec = doc["instance_types"][itype]
        offerings.append(
            Offering(
                cloud=cloud,
                region=region,
                instance_type=itype,
                gpu=spec["gpu"],
                gpu_count=int(spec["gpu_count"]),
                gpu_memory_gib=float(spec["gpu_memory_gib"]),
                vcpus=int(spec["vcpus"]),
                memory_gib=float(spec["memory_gib"]),
                interconnect=spec.get("interconnect", "pcie"),
                fast_network=spec.get("fast_network"),
                prices=dict(prices.get((itype, region), {})),
                unpriced=dict(unpriced.get((itype, region), {})),
            )
        )
    return Catalog(
        cloud=cloud, source=src, as_of=str(doc.get("as_of", "")), offerings=tuple(offerings)
    )


class DocumentProvider:
    """A provider whose offerings come entirely from catalog documents.

    Clouds subclass it only to add a live fetch; everything else is shared.
    """

    name = ""

    def snapshot_document(self) -> Mapping[str, Any]:
        return load_snapshot(self.name)

    def catalog(self, document: Mapping[str, Any] | None = None) -> Catalog:
        doc = document if document is not None else self.snapshot_document()
        return catalog_from_document(doc, self.name)

    def instance_types(self) -> Mapping[str, Any]:
        """Specs of every instance type the snapshot knows (for `check`'s lookups)."""
        return cast(Mapping[str, Any], self.snapshot_document()["instance_types"])
