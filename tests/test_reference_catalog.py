"""Cross-check the embedded snapshot against a public SkyPilot-format catalog (read-only).

``../shared/reference/skypilot-catalog`` is a third party's price catalog kept beside the project
for checking against; nothing is copied from it. The test is skipped when it is absent. Specs must
agree; prices may differ (different dates and sources), so the test prints every disagreement
and only fails when the typical difference is large enough to mean a wrong row, not a stale one.
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from llmplan.catalog.plugins import get_provider

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "skypilot-catalog"
# Our GPU names -> the reference's accelerator names (GCP prices GPUs as separate rows).
GCP_GPU = {"A100-40GB": "A100", "A100-80GB": "A100-80GB", "H100-80GB": "H100", "L4": "L4",
           "H200": "H200", "B200": "B200"}
TIER_COLUMN = {"on-demand": "Price", "spot": "SpotPrice"}
# The middle of |ours / theirs - 1| above which the snapshot, not the date, is suspect.
MEDIAN_LIMIT = 0.25

pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference catalog not present")


def _rows(name: str) -> list[dict[str, str]]:
    with (REFERENCE / name).open(newline="") as f:
        return list(csv.DictReader(f))


def _ours(cloud: str) -> list[tuple[Any, str, float]]:
    out = []
    for o in get_provider(cloud).catalog().offerings:
        for tier in TIER_COLUMN:
            price = o.price(tier)
            if price is not None:
                out.append((o, tier, price.hourly_usd))
    return out


def _cheapest(values: list[float]) -> float | None:
    values = [v for v in values if v > 0]
    return min(values) if values else None


def _gcp_reference() -> dict[tuple[str, str, str], float]:
    """(machine type, region, tier) -> host price + GPU price, as the reference splits them."""
    host: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    gpus: dict[tuple[str, int, str, str], list[float]] = defaultdict(list)
    for row in _rows("gcp-gpu-vms.csv"):
        for tier, column in TIER_COLUMN.items():
            if not row[column]:
                continue
            if row["InstanceType"]:
                host[(row["InstanceType"], row["Region"], tier)].append(float(row[column]))
            else:
                key = (row["AcceleratorName"], int(float(row["AcceleratorCount"])),
                       row["Region"], tier)
                gpus[key].append(float(row[column]))
    out: dict[tuple[str, str, str], float] = {}
    doc = get_provider("gcp").snapshot_document()
    for (itype, region, tier), values in host.items():
        spec = doc["instance_types"].get(itype)
        if spec is None:
            continue
        accel = "H100-MEGA" if itype.startswith("a3-megagpu") else GCP_GPU.get(spec["gpu"])
        gpu = _cheapest(gpus.get((accel or "", int(spec["gpu_count"]), region, tier), []))
        base = _cheapest(values)
        if gpu is not None and base is not None:
            out[(itype, region, tier)] = base + gpu
    return out


def _azure_reference() -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = {}
    for row in _rows("azure-gpu-vms.csv"):
        for tier, column in TIER_COLUMN.items():
            if row[column] and float(row[column]) > 0:
                out[(row["InstanceType"], row["Region"], tier)] = float(row[column])
    return out


@pytest.mark.parametrize("cloud", ["gcp", "azure"])
def test_snapshot_prices_against_the_reference(cloud: str) -> None:
    reference = _gcp_reference() if cloud == "gcp" else _azure_reference()
    compared = []
    for offering, tier, ours in _ours(cloud):
        theirs = reference.get((offering.instance_type, offering.region, tier))
        if theirs is not None:
            compared.append((offering.instance_type, offering.region, tier, ours, theirs))
    assert len(compared) >= 10, f"only {len(compared)} {cloud} rows overlap the reference"
    diffs = [abs(ours / theirs - 1) for *_k, ours, theirs in compared]
    print(f"\n{cloud}: {len(compared)} rows compared, median |difference| "
          f"{statistics.median(diffs):.1%}")
    for itype, region, tier, ours, theirs in compared:
        if abs(ours / theirs - 1) > 0.05:
            print(f"  {itype:28s} {region:18s} {tier:9s} ours {ours:9.4f}  reference "
                  f"{theirs:9.4f}  ({ours / theirs - 1:+.0%})")
    # On-demand list prices move rarely: they must mostly agree. Spot moves daily: printed only.
    on_demand = [abs(o / t - 1) for _i, _r, tier, o, t in compared if tier == "on-demand"]
    if on_demand:
        assert statistics.median(on_demand) <= MEDIAN_LIMIT


def test_azure_specs_agree_with_the_reference() -> None:
    doc = get_provider("azure").snapshot_document()["instance_types"]
    seen = {}
    for row in _rows("azure-gpu-vms.csv"):
        seen[row["InstanceType"]] = row
    checked = 0
    for itype, spec in doc.items():
        row = seen.get(itype)
        if row is None:
            continue
        checked += 1
        assert int(float(row["vCPUs"])) == spec["vcpus"], itype
        if row["AcceleratorCount"]:
            assert int(float(row["AcceleratorCount"])) == spec["gpu_count"], itype
    assert checked >= 5


def test_gcp_specs_agree_with_the_reference() -> None:
    doc = get_provider("gcp").snapshot_document()["instance_types"]
    checked = 0
    for row in _rows("gcp-gpu-vms.csv"):
        spec = doc.get(row["InstanceType"])
        if spec is None:
            continue
        checked += 1
        assert int(float(row["vCPUs"])) == spec["vcpus"], row["InstanceType"]
        assert abs(float(row["MemoryGiB"]) - spec["memory_gib"]) <= 1, row["InstanceType"]
    assert checked >= 10
