"""Azure live prices: urllib against a local Retail Prices fake; azure-mgmt-compute against ARM."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.azure import FakeAzure, retail_items
from fakes.env import isolate

from llmplan.errors import PricingError
from llmplan.providers import azure_live
from llmplan.providers.azure import provider
from llmplan.providers.document import catalog_from_document, validate_document

SKUS = ["Standard_NC24ads_A100_v4", "Standard_ND96isr_H100_v5"]
REGIONS = ["eastus", "westeurope"]
OD = {(s, r): p for s, p in zip(SKUS, (3.673, 98.32), strict=True) for r in REGIONS}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeAzure]:
    isolate(monkeypatch, tmp_path)
    specs = provider.snapshot_document()["instance_types"]
    with FakeAzure(SKUS, REGIONS, OD, specs=specs) as server:
        monkeypatch.setenv("LLMPLAN_AZURE_PRICES_URL", server.prices_url)
        yield server


def prices(doc: dict[str, Any], tier: str) -> dict[tuple[str, str], float]:
    return {(r["instance_type"], r["region"]): r["hourly_usd"] for r in doc["prices"]
            if r["tier"] == tier}


def test_linux_spot_and_reservations_told_apart(fake: FakeAzure) -> None:
    doc = provider.fetch_live(REGIONS, SKUS)
    assert validate_document(doc, "azure") == []
    # Linux on-demand: not the Windows row, not the secondary meter region, not DevTest.
    assert prices(doc, "on-demand") == OD
    assert prices(doc, "spot") == {k: round(v * 0.2, 4) for k, v in OD.items()}
    # Reservation rows are totals for the term: / 8760 and / 26280.
    assert prices(doc, "reserved-1y")[(SKUS[1], "eastus")] == pytest.approx(98.32 * 0.6, 1e-6)
    assert prices(doc, "reserved-3y")[(SKUS[1], "eastus")] == pytest.approx(98.32 * 0.4, 1e-6)
    assert {r["tier"] for r in doc["prices"]} == {"on-demand", "spot", "reserved-1y",
                                                  "reserved-3y"}
    # The specs come from the curated snapshot: the price API knows nothing of GPUs.
    assert doc["instance_types"][SKUS[1]]["gpu"] == "H100-80GB"
    catalog = catalog_from_document(doc, "azure")
    assert len(catalog.offerings) == 4


def test_odata_filter_is_case_sensitive_and_complete(fake: FakeAzure) -> None:
    provider.fetch_live(["eastus"], SKUS)
    _m, path, _h, _b = fake.requests[0]
    assert "api-version=2023-01-01-preview" in path
    text = azure_live.build_filter("eastus", SKUS)
    assert text.startswith("serviceName eq 'Virtual Machines' and armRegionName eq 'eastus'")
    assert "(priceType eq 'Consumption' or priceType eq 'Reservation')" in text
    assert "armSkuName eq 'Standard_ND96isr_H100_v5'" in text


def test_next_page_link_paging(fake: FakeAzure) -> None:
    fake.page_size = 3
    doc = provider.fetch_live(REGIONS, SKUS)
    assert prices(doc, "on-demand") == OD
    assert fake.count("%24skip=") + fake.count("$skip=") >= 4


def test_full_page_without_next_link_is_continued_with_skip(fake: FakeAzure) -> None:
    fake.padding = 60  # 2 sizes x 68 rows: the first page is a full 100
    fake.fault("prices", "no-next-link")
    doc = provider.fetch_live(["eastus"], SKUS)
    assert prices(doc, "on-demand") == {k: v for k, v in OD.items() if k[1] == "eastus"}
    assert fake.count("skip=100") == 1


def test_throttling_then_success(fake: FakeAzure) -> None:
    fake.fault("prices", "throttle", "throttle")
    doc = provider.fetch_live(["eastus"], SKUS)
    assert len(prices(doc, "on-demand")) == 2


def test_dropped_connection_then_success(fake: FakeAzure) -> None:
    fake.fault("prices", "drop")
    assert len(prices(provider.fetch_live(["eastus"], SKUS), "on-demand")) == 2


def test_5xx_after_retries_is_one_clear_error(fake: FakeAzure) -> None:
    fake.fault("prices", *["503"] * 10)
    with pytest.raises(PricingError) as err:
        provider.fetch_live(["eastus"], SKUS)
    assert str(err.value) == ("azure: Retail Prices API for eastus: failed after 5 attempts: "
                              "HTTP 503 Service Unavailable")


def test_malformed_body_retried_then_reported(fake: FakeAzure) -> None:
    fake.fault("prices", "malformed")
    assert len(prices(provider.fetch_live(["eastus"], SKUS), "on-demand")) == 2
    fake.fault("prices", *["malformed"] * 10)
    with pytest.raises(PricingError, match="malformed JSON body"):
        provider.fetch_live(["eastus"], SKUS)


def test_zero_price_is_no_price(fake: FakeAzure) -> None:
    fake.zero_spot.add((SKUS[0], "eastus"))
    doc = provider.fetch_live(["eastus"], SKUS)
    assert (SKUS[0], "eastus") not in prices(doc, "spot")
    assert {(r["instance_type"], r["tier"]) for r in doc["unpriced"]} == {(SKUS[0], "spot")}


def test_size_without_specs_is_skipped(fake: FakeAzure, capsys: pytest.CaptureFixture[str]) -> None:
    doc = provider.fetch_live(["eastus"], [*SKUS, "Standard_NC4as_T4_v3"])
    assert "Standard_NC4as_T4_v3" not in doc["instance_types"]
    assert "skipping Standard_NC4as_T4_v3" in capsys.readouterr().err


def test_unreachable_endpoint_is_one_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("LLMPLAN_AZURE_PRICES_URL", "http://127.0.0.1:9/api/retail/prices")
    with pytest.raises(PricingError, match="cannot connect"):
        provider.fetch_live(["eastus"], SKUS, quick=True)


# -- resource SKUs through azure-mgmt-compute (only with a subscription) -------------------

class StaticToken:
    """An azure-core TokenCredential: what azure-identity would hand the SDK."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("fake-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo("fake-token", int(time.time()) + 3600)


@pytest.fixture
def arm(fake: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> FakeAzure:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000000")
    monkeypatch.setenv("LLMPLAN_AZURE_ARM_ENDPOINT", fake.url)
    return fake


def fetch_with_arm(regions: list[str]) -> dict[str, Any]:
    base = provider.snapshot_document()
    return azure_live.fetch(regions, SKUS, None, base=base, credential=StaticToken())


def test_resource_skus_drop_unoffered_and_restricted_sizes(arm: FakeAzure) -> None:
    del arm.arm_offered["westeurope"][SKUS[1]]  # not offered there at all
    arm.arm_offered["eastus"][SKUS[1]] = "NotAvailableForSubscription"
    doc = fetch_with_arm(REGIONS)
    assert set(prices(doc, "on-demand")) == {(SKUS[0], "eastus"), (SKUS[0], "westeurope")}
    restricted = [r for r in doc["unpriced"] if r["instance_type"] == SKUS[1]]
    assert {r["region"] for r in restricted} == {"eastus"}
    assert all("NotAvailableForSubscription" in r["reason"] for r in restricted)
    assert arm.count("/providers/Microsoft.Compute/skus") == 2
    _m, _p, headers, _b = next(r for r in arm.requests if "Compute/skus" in r[1])
    assert headers.get("Authorization") == "Bearer fake-token"


def test_resource_skus_failure_is_a_warning(arm: FakeAzure,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    arm.fault("arm", "403")
    doc = fetch_with_arm(["eastus"])
    assert len(prices(doc, "on-demand")) == 2
    assert "region availability not checked" in capsys.readouterr().err


def test_auto_needs_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMPLAN_AZURE_LIVE", raising=False)
    assert azure_live.auto_status() is not None
    monkeypatch.setenv("LLMPLAN_AZURE_LIVE", "1")
    assert azure_live.auto_status() is None


def test_classify_rows() -> None:
    rows = {(r["type"], r["skuName"], r["productName"], r["isPrimaryMeterRegion"],
             r.get("reservationTerm")): azure_live.classify(r)
            for r in retail_items("Standard_ND96isr_H100_v5", "eastus", 10.0)}
    assert sorted(t for t in rows.values() if t) == ["on-demand", "on-demand", "reserved-1y",
                                                    "reserved-3y", "spot"]
    best = azure_live.best_rows(retail_items("Standard_ND96isr_H100_v5", "eastus", 10.0))
    assert best[("Standard_ND96isr_H100_v5", "on-demand")]["retailPrice"] == 10.0
