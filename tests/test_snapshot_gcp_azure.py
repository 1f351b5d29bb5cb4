"""Integrity checks for the embedded GCP and Azure price snapshots (providers/data/*.json).

The documents follow docs/catalog-format.md. These tests read the JSON directly, so they
pin the data itself, independent of any loader.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DATA_DIR = Path(__file__).resolve().parents[1] / "providers" / "data"
CLOUDS = ("gcp", "azure")
TIERS = {"on-demand", "spot", "reserved-1y", "reserved-3y"}
GPU_NAMES = {
    "T4",
    "L4",
    "A10G",
    "A10",
    "L40S",
    "A100-40GB",
    "A100-80GB",
    "H100-80GB",
    "H100-NVL",
    "H200",
    "B200",
    "RTX-4090",
    "MI300X",
}
INTERCONNECTS = {"nvlink", "pcie"}
FAST_NETWORKS = {None, "efa", "infiniband", "gpudirect-tcpx", "gpudirect-tcpxo", "gpudirect-rdma"}
COMPONENT_RESOURCES = {"vcpu", "ram_gib", "gpu"}

# GCP machine types that are in the catalog but have no price at all; each must be explained
# by 'unpriced' rows (A4 is sold through Spot and reservations, and no public figure was found).
GCP_KNOWN_UNPRICED = {"a4-highgpu-8g"}


def _load(cloud: str) -> dict[str, Any]:
    return json.loads((DATA_DIR / f"{cloud}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=CLOUDS)
def doc(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _load(request.param)


@pytest.fixture(scope="module")
def gcp() -> dict[str, Any]:
    return _load("gcp")


@pytest.fixture(scope="module")
def azure() -> dict[str, Any]:
    return _load("azure")


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _rows(d: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in ("prices", "unpriced", "components"):
        for row in d.get(key, []):
            yield key, row


def _component_machine_price(d: dict[str, Any], itype: str, region: str, tier: str) -> float | None:
    """vcpus x vCPU + memory_gib x RAM + gpu_count x GPU, or None when a part is missing."""
    spec = d["instance_types"][itype]
    parts: dict[str, float] = {}
    for c in d.get("components", []):
        if c["region"] != region or c["tier"] != tier:
            continue
        if c["resource"] in ("vcpu", "ram_gib") and c.get("family") == spec["family"]:
            parts[c["resource"]] = c["hourly_usd"]
        elif c["resource"] == "gpu" and c.get("gpu") == spec["gpu"]:
            parts["gpu"] = c["hourly_usd"]
    if set(parts) != COMPONENT_RESOURCES:
        return None
    return (
        spec["vcpus"] * parts["vcpu"]
        + spec["memory_gib"] * parts["ram_gib"]
        + spec["gpu_count"] * parts["gpu"]
    )


# ---------------------------------------------------------------------------------------------
# Both clouds
# ---------------------------------------------------------------------------------------------


def test_document_header(doc: dict[str, Any]) -> None:
    assert doc["format"] == 1
    assert doc["cloud"] in CLOUDS
    assert doc["source"] == "snapshot"
    _date(doc["as_of"])


def test_sources_have_url_and_date(doc: dict[str, Any]) -> None:
    assert doc["sources"]
    for key, src in doc["sources"].items():
        assert src["url"].startswith("https://"), key
        _date(src["date"])
        assert src.get("note"), f"source {key} should say what was read there"


def test_every_row_references_known_type_region_and_source(doc: dict[str, Any]) -> None:
    types, regions, sources = doc["instance_types"], doc["regions"], doc["sources"]
    for kind, row in _rows(doc):
        assert row["region"] in regions, (kind, row)
        assert row["tier"] in TIERS, (kind, row)
        if kind != "components":
            assert row["instance_type"] in types, (kind, row)
        if kind == "unpriced":
            assert row["reason"].strip(), row
        else:
            assert row["source"] in sources, (kind, row)
            as_of = _date(row["as_of"])
            assert as_of <= _date(doc["as_of"]), row
    for name, spec in types.items():
        assert spec["source"] in sources, name


def test_prices_are_positive_and_finite(doc: dict[str, Any]) -> None:
    for kind, row in _rows(doc):
        if kind == "unpriced":
            continue
        price = row["hourly_usd"]
        assert isinstance(price, (int, float)) and math.isfinite(price) and price > 0, row


def test_no_duplicate_type_region_tier(doc: dict[str, Any]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for kind in ("prices", "unpriced"):
        for row in doc.get(kind, []):
            key = (row["instance_type"], row["region"], row["tier"])
            assert key not in seen, f"{key} appears twice (prices/unpriced)"
            seen.add(key)
    comp_keys = [
        (c["region"], c["tier"], c["resource"], c.get("family"), c.get("gpu"))
        for c in doc.get("components", [])
    ]
    assert len(comp_keys) == len(set(comp_keys))


def test_at_least_four_priced_regions_across_three_geos(doc: dict[str, Any]) -> None:
    priced = {r["region"] for r in doc["prices"]} | {c["region"] for c in doc.get("components", [])}
    assert len(priced) >= 4, priced
    assert set(doc["regions"]) == priced, "declare only regions that carry a price"
    geos = {doc["regions"][r]["geo"] for r in priced}
    assert {"us", "eu", "asia"} <= geos


def test_instance_type_specs(doc: dict[str, Any]) -> None:
    for name, spec in doc["instance_types"].items():
        assert spec["gpu"] in GPU_NAMES, name
        assert isinstance(spec["gpu_count"], int) and spec["gpu_count"] >= 1, name
        assert spec["gpu_memory_gib"] > 0 and spec["vcpus"] > 0 and spec["memory_gib"] > 0, name
        assert spec["interconnect"] in INTERCONNECTS, name
        assert spec["fast_network"] in FAST_NETWORKS, name
        assert spec.get("family"), name


def test_tier_ordering_where_prices_exist(doc: dict[str, Any]) -> None:
    by_key: dict[tuple[str, str], dict[str, float]] = {}
    for row in doc["prices"]:
        by_key.setdefault((row["instance_type"], row["region"]), {})[row["tier"]] = row[
            "hourly_usd"
        ]
    for key, tiers in by_key.items():
        od = tiers.get("on-demand")
        if od is None:
            continue
        for cheaper in ("spot", "reserved-1y", "reserved-3y"):
            if cheaper in tiers:
                assert tiers[cheaper] < od, (key, tiers)
        if "reserved-1y" in tiers and "reserved-3y" in tiers:
            assert tiers["reserved-3y"] < tiers["reserved-1y"], (key, tiers)


# ---------------------------------------------------------------------------------------------
# GCP
# ---------------------------------------------------------------------------------------------

GCP_TYPES = (
    [f"g2-standard-{n}" for n in (4, 8, 12, 16, 24, 32, 48, 96)]
    + [f"a2-highgpu-{n}g" for n in (1, 2, 4, 8)]
    + ["a2-megagpu-16g"]
    + [f"a2-ultragpu-{n}g" for n in (1, 2, 4, 8)]
    + [f"a3-highgpu-{n}g" for n in (1, 2, 4, 8)]
    + ["a3-megagpu-8g", "a3-ultragpu-8g", "a4-highgpu-8g"]
)


def test_gcp_has_all_requested_machine_types(gcp: dict[str, Any]) -> None:
    assert set(gcp["instance_types"]) == set(GCP_TYPES)


def test_gcp_gpu_counts_and_models(gcp: dict[str, Any]) -> None:
    types = gcp["instance_types"]
    l4 = {4: 1, 8: 1, 12: 1, 16: 1, 24: 2, 32: 1, 48: 4, 96: 8}
    for n, count in l4.items():
        spec = types[f"g2-standard-{n}"]
        assert (spec["gpu"], spec["gpu_count"], spec["vcpus"]) == ("L4", count, n)
    assert types["a2-megagpu-16g"]["gpu_count"] == 16
    assert {types[f"a2-highgpu-{n}g"]["gpu"] for n in (1, 2, 4, 8)} == {"A100-40GB"}
    assert {types[f"a2-ultragpu-{n}g"]["gpu"] for n in (1, 2, 4, 8)} == {"A100-80GB"}
    assert types["a3-megagpu-8g"]["gpu"] == "H100-80GB"
    assert types["a3-ultragpu-8g"]["gpu"] == "H200"
    assert types["a4-highgpu-8g"]["gpu"] == "B200"


def test_gcp_interconnect_and_fast_network(gcp: dict[str, Any]) -> None:
    types = gcp["instance_types"]
    for name, spec in types.items():
        expected_ic = "pcie" if name.startswith("g2-") else "nvlink"
        assert spec["interconnect"] == expected_ic, name
    assert types["a3-highgpu-8g"]["fast_network"] == "gpudirect-tcpx"
    assert types["a3-megagpu-8g"]["fast_network"] == "gpudirect-tcpxo"
    assert types["a3-ultragpu-8g"]["fast_network"] == "gpudirect-rdma"
    assert types["a4-highgpu-8g"]["fast_network"] == "gpudirect-rdma"
    for name in types:
        if name.startswith(("g2-", "a2-")):
            assert types[name]["fast_network"] is None, name


def test_gcp_components_are_well_formed(gcp: dict[str, Any]) -> None:
    assert gcp["components"], "GCP snapshot should carry component prices where found"
    for c in gcp["components"]:
        assert c["resource"] in COMPONENT_RESOURCES, c
        if c["resource"] == "gpu":
            assert c["gpu"] in GPU_NAMES, c
        else:
            assert c.get("family"), c


def test_gcp_every_machine_is_priceable_somewhere(gcp: dict[str, Any]) -> None:
    priced_by_row = {r["instance_type"] for r in gcp["prices"]}
    for name in gcp["instance_types"]:
        by_components = any(
            _component_machine_price(gcp, name, region, "on-demand") is not None
            for region in gcp["regions"]
        )
        if name in GCP_KNOWN_UNPRICED:
            assert not by_components and name not in priced_by_row, name
            assert any(u["instance_type"] == name for u in gcp["unpriced"]), name
            continue
        assert by_components or name in priced_by_row, f"{name} has no price anywhere"


def test_gcp_components_and_machine_prices_never_overlap(gcp: dict[str, Any]) -> None:
    for row in gcp["prices"]:
        total = _component_machine_price(gcp, row["instance_type"], row["region"], row["tier"])
        assert total is None, f"{row['instance_type']} {row['region']} {row['tier']} priced twice"


def test_gcp_hand_worked_a2_highgpu_1g_us_central1(gcp: dict[str, Any]) -> None:
    # 12 vCPU x 0.031611 = 0.379332
    # 85 GiB   x 0.004237 = 0.360145
    #  1 A100  x 2.933908 = 2.933908
    #                 sum = 3.673385 $/h  (Cyclenerd's whole-machine total for 2025-03-06 agrees)
    spec = gcp["instance_types"]["a2-highgpu-1g"]
    assert (spec["vcpus"], spec["memory_gib"], spec["gpu_count"]) == (12, 85, 1)
    total = _component_machine_price(gcp, "a2-highgpu-1g", "us-central1", "on-demand")
    assert total == pytest.approx(12 * 0.031611 + 85 * 0.004237 + 1 * 2.933908)
    assert total == pytest.approx(3.673385, abs=1e-9)
    assert not any(
        r["instance_type"] == "a2-highgpu-1g"
        and r["region"] == "us-central1"
        and r["tier"] == "on-demand"
        for r in gcp["prices"]
    )


def test_gcp_components_agree_with_machine_scaling(gcp: dict[str, Any]) -> None:
    one = _component_machine_price(gcp, "a2-highgpu-1g", "us-central1", "on-demand")
    eight = _component_machine_price(gcp, "a2-highgpu-8g", "us-central1", "on-demand")
    assert one is not None and eight == pytest.approx(8 * one)


def test_gcp_shapes_without_on_demand_have_no_on_demand_price(gcp: dict[str, Any]) -> None:
    no_od = {"a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g", "a3-ultragpu-8g", "a4-highgpu-8g"}
    for row in gcp["prices"] + gcp["unpriced"]:
        if row["instance_type"] in no_od:
            assert row["tier"] != "on-demand", row


def test_gcp_bundled_local_ssd_is_recorded(gcp: dict[str, Any]) -> None:
    types = gcp["instance_types"]
    for name in (
        "a2-ultragpu-1g",
        "a3-highgpu-8g",
        "a3-megagpu-8g",
        "a3-ultragpu-8g",
        "a4-highgpu-8g",
    ):
        assert types[name].get("bundled_local_ssd_gb", 0) > 0, name
    for name in ("a2-highgpu-1g", "g2-standard-4"):
        assert "bundled_local_ssd_gb" not in types[name], name


# ---------------------------------------------------------------------------------------------
# Azure
# ---------------------------------------------------------------------------------------------

AZURE_TYPES = {
    "Standard_NV36ads_A10_v5",
    "Standard_NV36adms_A10_v5",
    "Standard_NV72ads_A10_v5",
    "Standard_NC24ads_A100_v4",
    "Standard_NC48ads_A100_v4",
    "Standard_NC96ads_A100_v4",
    "Standard_ND96asr_v4",
    "Standard_ND96amsr_A100_v4",
    "Standard_NC40ads_H100_v5",
    "Standard_NC80adis_H100_v5",
    "Standard_ND96isr_H100_v5",
    "Standard_ND96isr_H200_v5",
}


def test_azure_has_all_requested_sizes_and_no_fractional_ones(azure: dict[str, Any]) -> None:
    assert set(azure["instance_types"]) == AZURE_TYPES
    for fractional in (
        "Standard_NV6ads_A10_v5",
        "Standard_NV12ads_A10_v5",
        "Standard_NV18ads_A10_v5",
    ):
        assert fractional not in azure["instance_types"]


def test_azure_specs(azure: dict[str, Any]) -> None:
    t = azure["instance_types"]
    assert (t["Standard_ND96asr_v4"]["gpu"], t["Standard_ND96asr_v4"]["gpu_count"]) == (
        "A100-40GB",
        8,
    )
    assert t["Standard_ND96amsr_A100_v4"]["gpu"] == "A100-80GB"
    assert t["Standard_ND96isr_H100_v5"]["gpu_count"] == 8
    assert t["Standard_ND96isr_H200_v5"]["gpu"] == "H200"
    assert t["Standard_NC40ads_H100_v5"]["gpu"] == "H100-NVL"
    assert t["Standard_NC40ads_H100_v5"]["gpu_memory_gib"] == 94
    assert t["Standard_NV72ads_A10_v5"]["gpu_count"] == 2
    for name, spec in t.items():
        is_nd = name.startswith("Standard_ND")
        assert spec["fast_network"] == ("infiniband" if is_nd else None), name
        assert spec["interconnect"] == ("nvlink" if is_nd else "pcie"), name


def test_azure_reserved_tiers_are_explained(azure: dict[str, Any]) -> None:
    priced = {
        (r["instance_type"], r["region"]) for r in azure["prices"] if r["tier"] == "on-demand"
    }
    reserved = {
        (r["instance_type"], r["region"], r["tier"])
        for r in azure["prices"] + azure["unpriced"]
        if r["tier"].startswith("reserved")
    }
    for itype, region in priced:
        for tier in ("reserved-1y", "reserved-3y"):
            assert (itype, region, tier) in reserved, (itype, region, tier)
