"""The embedded AWS price snapshot (providers/data/aws.json): catalog format, every fact cited."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
AWS_JSON = ROOT / "providers" / "data" / "aws.json"
GPUS_JSON = ROOT / "generator" / "data" / "gpus.json"

TIERS = {"on-demand", "spot", "reserved-1y", "reserved-3y"}
FAMILIES = {"g5", "g6", "g6e", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(AWS_JSON.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def gpu_names() -> set[str]:
    gpus = json.loads(GPUS_JSON.read_text(encoding="utf-8"))["gpus"]
    names = {name.lower() for name in gpus}
    for spec in gpus.values():
        names.update(alias.lower() for alias in spec.get("aliases", []))
    return names


def test_header(doc: dict[str, Any]) -> None:
    assert doc["format"] == 1
    assert doc["cloud"] == "aws"
    assert doc["source"] == "snapshot"
    assert len(doc["as_of"]) == 10
    assert isinstance(doc.get("notes"), str) and doc["notes"]


def test_sources_have_url_and_date(doc: dict[str, Any]) -> None:
    for key, src in doc["sources"].items():
        assert src.get("url", "").startswith("https://"), key
        assert len(src.get("date", "")) == 10, key


def test_instance_types(doc: dict[str, Any], gpu_names: set[str]) -> None:
    types = doc["instance_types"]
    assert {spec["family"] for spec in types.values()} == FAMILIES
    for name, spec in types.items():
        assert spec["gpu"].lower() in gpu_names, f"{name}: GPU {spec['gpu']} not in gpus.json"
        assert spec["gpu_count"] >= 1, name
        assert spec["vcpus"] >= 1 and spec["memory_gib"] > 0, name
        assert spec["gpu_memory_gib"] > 0, name
        assert spec["interconnect"] in {"nvlink", "pcie"}, name
        assert spec["fast_network"] in {"efa", None}, name
        assert spec["source"] in doc["sources"], name
        expected = "pcie" if spec["family"].startswith("g") else "nvlink"
        assert spec["interconnect"] == expected, name
    sizes = ("xlarge", "2xlarge", "4xlarge", "8xlarge",
             "12xlarge", "16xlarge", "24xlarge", "48xlarge")
    for size in sizes:
        for family in ("g5", "g6", "g6e"):
            assert f"{family}.{size}" in types
    for name in ("p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge", "p5.4xlarge", "p5e.48xlarge",
                 "p5en.48xlarge", "p6-b200.48xlarge"):
        assert name in types
    assert types["p5.48xlarge"]["gpu_count"] == 8
    assert types["p5.48xlarge"]["gpu"] == "H100-80GB"
    assert types["p4de.24xlarge"]["gpu"] == "A100-80GB"
    assert types["p4d.24xlarge"]["gpu"] == "A100-40GB"
    assert types["g5.xlarge"]["fast_network"] is None
    assert types["g5.48xlarge"]["fast_network"] == "efa"


def test_price_rows(doc: dict[str, Any]) -> None:
    types, regions, sources = doc["instance_types"], doc["regions"], doc["sources"]
    assert doc["prices"]
    for row in doc["prices"]:
        where = f"{row['instance_type']} {row['region']} {row['tier']}"
        assert row["instance_type"] in types, where
        assert row["region"] in regions, where
        assert row["tier"] in TIERS, where
        assert isinstance(row["hourly_usd"], (int, float)) and row["hourly_usd"] > 0, where
        assert row["source"] in sources, where
        assert len(row["as_of"]) == 10, where


def test_unpriced_rows_and_no_overlap(doc: dict[str, Any]) -> None:
    priced = {(r["instance_type"], r["region"], r["tier"]) for r in doc["prices"]}
    assert len(priced) == len(doc["prices"]), "duplicate price rows"
    for row in doc.get("unpriced", []):
        key = (row["instance_type"], row["region"], row["tier"])
        assert row["instance_type"] in doc["instance_types"], key
        assert row["region"] in doc["regions"], key
        assert row["tier"] in TIERS, key
        assert row["reason"].strip(), key
        assert key not in priced, f"{key} is both priced and unpriced"


def test_every_offered_type_has_on_demand_and_all_tiers_accounted(doc: dict[str, Any]) -> None:
    priced = {(r["instance_type"], r["region"], r["tier"]) for r in doc["prices"]}
    unpriced = {(r["instance_type"], r["region"], r["tier"]) for r in doc.get("unpriced", [])}
    offered = {(t, r) for t, r, _ in priced | unpriced}
    for t, r in offered:
        assert (t, r, "on-demand") in priced, f"{t} {r} has no on-demand price"
        for tier in TIERS:
            assert (t, r, tier) in priced | unpriced, f"{t} {r} {tier} neither priced nor unpriced"


def test_region_coverage(doc: dict[str, Any]) -> None:
    regions_with_prices = {r["region"] for r in doc["prices"]}
    assert len(regions_with_prices) >= 4
    geos = {doc["regions"][r]["geo"] for r in regions_with_prices}
    assert {"us", "eu", "asia"} <= geos
    per_region = Counter(r["region"] for r in doc["prices"] if r["tier"] == "on-demand")
    assert per_region["us-east-1"] >= 30


def test_p_family_prices_are_after_the_june_2025_cut(doc: dict[str, Any]) -> None:
    od = {(r["instance_type"], r["region"]): r["hourly_usd"]
          for r in doc["prices"] if r["tier"] == "on-demand"}
    # Before June 2025 these were 98.32 and 32.77 $/h in us-east-1.
    assert od[("p5.48xlarge", "us-east-1")] < 60
    assert od[("p4d.24xlarge", "us-east-1")] < 25


def test_prices_are_ordered_sensibly(doc: dict[str, Any]) -> None:
    by_key: dict[tuple[str, str], dict[str, float]] = {}
    for r in doc["prices"]:
        by_key.setdefault((r["instance_type"], r["region"]), {})[r["tier"]] = r["hourly_usd"]
    for key, tiers in by_key.items():
        od = tiers["on-demand"]
        if "reserved-1y" in tiers:
            assert tiers["reserved-1y"] < od, key
        if "reserved-3y" in tiers:
            assert tiers["reserved-3y"] < tiers.get("reserved-1y", od), key
        if "spot" in tiers:
            assert tiers["spot"] <= od, key
