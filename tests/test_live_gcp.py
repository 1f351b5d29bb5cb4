"""GCP live prices: google-cloud-billing / -compute (REST) against a local Google fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.env import isolate
from fakes.gcp import FakeGoogle

from llmplan.errors import PricingError
from llmplan.providers import gcp_live
from llmplan.providers.document import catalog_from_document, validate_document
from llmplan.providers.gcp import provider
from llmplan.providers.live import MissingCredentials

TYPES = ["a2-highgpu-1g", "a2-ultragpu-1g", "a3-highgpu-1g", "a3-megagpu-8g", "g2-standard-4"]
REGIONS = ["us-central1", "europe-west4"]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeGoogle]:
    isolate(monkeypatch, tmp_path)
    specs = provider.snapshot_document()["instance_types"]
    with FakeGoogle(REGIONS, {t: specs[t] for t in TYPES}) as server:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(server.service_account(tmp_path)))
        monkeypatch.setenv("LLMPLAN_GCP_BILLING_ENDPOINT", server.url)
        monkeypatch.setenv("LLMPLAN_GCP_COMPUTE_ENDPOINT", server.url)
        yield server


def prices(doc: dict[str, Any], tier: str) -> dict[tuple[str, str], float]:
    return {(r["instance_type"], r["region"]): r["hourly_usd"] for r in doc["prices"]
            if r["tier"] == tier}


def test_machine_price_is_the_sum_of_its_skus(fake: FakeGoogle) -> None:
    doc = provider.fetch_live(REGIONS, TYPES)
    assert validate_document(doc, "gcp") == []
    od = prices(doc, "on-demand")
    # 12 vCPU x A2 core + 85 GiB x A2 RAM + 1 x A100: the real SKU prices of 2023-03-24.
    assert od[("a2-highgpu-1g", "us-central1")] == pytest.approx(3.673385, abs=1e-6)
    # a2-ultragpu: the A100 80GB SKU plus its bundled 375 GB of Local SSD (monthly -> hourly).
    ultra = 12 * 0.031611 + 170 * 0.004237 + 3.93 + 375 * 0.08 / 730
    assert od[("a2-ultragpu-1g", "us-central1")] == pytest.approx(ultra, abs=1e-6)
    # A3 Mega has its own GPU SKU.
    mega = 208 * 0.031 + 1872 * 0.0028 + 8 * 10.5 + 6000 * 0.08 / 730
    assert od[("a3-megagpu-8g", "us-central1")] == pytest.approx(mega, abs=1e-5)
    spot = prices(doc, "spot")[("g2-standard-4", "us-central1")]
    assert spot == pytest.approx((4 * 0.02 + 16 * 0.0025 + 0.56) * 0.4, abs=1e-6)
    assert prices(doc, "reserved-3y")[("g2-standard-4", "europe-west4")] == pytest.approx(
        (4 * 0.02 + 16 * 0.0025 + 0.56) * 0.45, abs=1e-6)
    row = next(r for r in doc["prices"] if r["instance_type"] == "a2-highgpu-1g")
    assert row["derived"] and set(row["parts"]) == {"vcpu", "ram_gib", "gpu"}
    catalog = catalog_from_document(doc, "gcp")
    assert {o.instance_type for o in catalog.offerings} == set(TYPES)


def test_tiers_gcp_does_not_sell_stay_unsold(fake: FakeGoogle) -> None:
    doc = provider.fetch_live(REGIONS, TYPES)
    # The curated snapshot says a3-highgpu-1g is Spot / commitments only: no on-demand row,
    # although the catalog prices its parts.
    assert ("a3-highgpu-1g", "us-central1") not in prices(doc, "on-demand")
    assert ("a3-highgpu-1g", "us-central1") in prices(doc, "spot")


def test_compute_availability_and_specs(fake: FakeGoogle) -> None:
    fake.unavailable.add(("a3-megagpu-8g", "europe-west4"))
    doc = provider.fetch_live(REGIONS, TYPES)
    assert ("a3-megagpu-8g", "europe-west4") not in prices(doc, "on-demand")
    assert ("a3-megagpu-8g", "us-central1") in prices(doc, "on-demand")
    assert fake.count("/aggregated/machineTypes") == 1
    spec = doc["instance_types"]["a3-megagpu-8g"]
    assert (spec["gpu"], spec["gpu_count"], spec["vcpus"]) == ("H100-80GB", 8, 208)
    assert spec["fast_network"] == "gpudirect-tcpxo"  # curated, kept


def test_compute_failure_is_a_warning(fake: FakeGoogle, capsys: pytest.CaptureFixture[str]) -> None:
    fake.fault("machineTypes", "403")
    doc = provider.fetch_live(REGIONS, TYPES)
    assert ("a2-highgpu-1g", "europe-west4") in prices(doc, "on-demand")
    assert "availability per zone not checked" in capsys.readouterr().err


def test_paging(fake: FakeGoogle) -> None:
    fake.page_size = 25
    doc = provider.fetch_live(REGIONS, TYPES)
    assert len(prices(doc, "on-demand")) == 8
    assert fake.count("pageToken=") >= len(fake.skus) // 25


def test_throttling_5xx_and_malformed_pages_are_retried(fake: FakeGoogle) -> None:
    fake.page_size = 100
    fake.fault("skus", "throttle", "500", "malformed")
    doc = provider.fetch_live(["us-central1"], TYPES)
    assert len(prices(doc, "on-demand")) == 4


def test_5xx_after_retries_is_one_clear_error(fake: FakeGoogle) -> None:
    fake.fault("skus", *["503"] * 10)
    with pytest.raises(PricingError) as err:
        provider.fetch_live(["us-central1"], TYPES)
    message = str(err.value)
    assert message.startswith("gcp: Cloud Billing Catalog list_skus page 1: failed after 5 attempts")
    assert "\n" not in message


def test_zero_price_sku_prices_nothing(fake: FakeGoogle) -> None:
    for sku in fake.skus:
        if sku["description"] == "Nvidia L4 GPU running in Americas":
            sku["pricingInfo"][0]["pricingExpression"]["tieredRates"][0]["unitPrice"] = {
                "currencyCode": "USD", "units": "0", "nanos": 0}
    doc = provider.fetch_live(["us-central1"], TYPES)
    assert ("g2-standard-4", "us-central1") not in prices(doc, "on-demand")
    assert ("g2-standard-4", "us-central1") in prices(doc, "spot")
    assert all(r["hourly_usd"] > 0 for r in doc["prices"])


def test_missing_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    with pytest.raises(MissingCredentials, match="no Google credentials found"):
        provider.fetch_live(["us-central1"], TYPES)
    assert "no Google Application Default Credentials" in str(gcp_live.auto_status())


def test_parse_sku_descriptions() -> None:
    from google.cloud import billing_v1

    def sku(description: str, usage: str = "OnDemand", price: float = 1.5,
            unit: str = "h") -> Any:
        units = int(price)
        return billing_v1.Sku(
            sku_id="X", description=description, service_regions=["us-central1", "us-east4"],
            category=billing_v1.Category(usage_type=usage, resource_family="Compute"),
            pricing_info=[billing_v1.PricingInfo(pricing_expression=billing_v1.PricingExpression(
                usage_unit=unit, tiered_rates=[billing_v1.PricingExpression.TierRate(
                    start_usage_amount=0, unit_price={"currency_code": "USD", "units": units,
                                                      "nanos": round((price - units) * 1e9)})]))])

    def one(*args: Any) -> tuple[str, str, str, float] | None:
        parts = gcp_live.parse_sku(sku(*args))
        return (parts[0].tier, parts[0].kind, parts[0].key, parts[0].hourly) if parts else None

    assert one("A2 Instance Core running in Americas") == ("on-demand", "vcpu", "a2", 1.5)
    assert one("Spot Preemptible A3 Mega Instance Ram running in Americas", "Preemptible") == (
        "spot", "ram_gib", "a3-mega", 1.5)
    assert one("Commitment v1: G2 Cpu in Americas for 1 Year", "Commit1Yr") == (
        "reserved-1y", "vcpu", "g2", 1.5)
    assert one("Nvidia Tesla A100 GPU running in Americas") == ("on-demand", "gpu", "A100-40GB", 1.5)
    assert one("Nvidia Tesla A100 80GB GPU attached to Spot Preemptible VMs running in EMEA",
               "Preemptible")[2] == "A100-80GB"  # type: ignore[index]
    assert one("Commitment v1: Nvidia L4 GPU in Frankfurt for 3 Years", "Commit3Yr") == (
        "reserved-3y", "gpu", "L4", 1.5)
    assert one("Nvidia H100 80GB Mega GPU running in Americas")[2] == "H100-80GB:mega"  # type: ignore[index]
    assert one("SSD backed Local Storage", "OnDemand", 73.0, "GiBy.mo") == (
        "on-demand", "local_ssd_gb", "", pytest.approx(0.1))
    assert one("Nvidia H100 80GB GPU running in Americas (DWS Defined Duration)") is None
    assert one("N1 Predefined Instance Core running in Americas") is None
    assert one("A2 Instance Core running in Americas", "Commit1Mo") is None
    assert one("A2 Instance Core running in Americas", "OnDemand", 0.0) is None
    assert len(gcp_live.parse_sku(sku("A2 Instance Core running in Americas"))) == 2
