"""AWS live prices: the real boto3 clients against a local Pricing (JSON 1.1) + EC2 (XML) fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.aws import FakeAWS, price_list_item
from fakes.env import aws_credentials, isolate

from llmplan.errors import PricingError
from llmplan.providers import aws_live
from llmplan.providers.aws import provider
from llmplan.providers.document import catalog_from_document, validate_document
from llmplan.providers.live import MissingCredentials

TYPES = ["g5.xlarge", "p5.48xlarge"]
REGIONS = ["us-east-1", "eu-central-1"]
OD = {("g5.xlarge", "us-east-1"): 1.006, ("g5.xlarge", "eu-central-1"): 1.258,
      ("p5.48xlarge", "us-east-1"): 55.04, ("p5.48xlarge", "eu-central-1"): 64.96}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeAWS]:
    isolate(monkeypatch, tmp_path)
    aws_credentials(monkeypatch)
    with FakeAWS(TYPES, REGIONS, OD) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", server.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", server.url)
        yield server


def prices(doc: dict, tier: str) -> dict[tuple[str, str], float]:
    return {(r["instance_type"], r["region"]): r["hourly_usd"] for r in doc["prices"]
            if r["tier"] == tier}


def test_prices_every_tier_and_specs_from_describe_instance_types(fake: FakeAWS) -> None:
    doc = provider.fetch_live(REGIONS, TYPES)
    assert validate_document(doc, "aws") == []
    assert doc["source"] == "live"
    assert prices(doc, "on-demand") == OD
    # 1 year: Standard No Upfront wins over Partial Upfront and over the convertible term.
    assert prices(doc, "reserved-1y")[("p5.48xlarge", "us-east-1")] == pytest.approx(55.04 * 0.62)
    # 3 years: only All Upfront is sold; the fee is folded into an hourly rate.
    assert prices(doc, "reserved-3y")[("p5.48xlarge", "us-east-1")] == pytest.approx(55.04 * 0.40)
    # Spot: upper median of the latest price per AZ (0.30 / 0.35 / 0.45 x on-demand), not the
    # older, higher records that precede them.
    assert prices(doc, "spot")[("g5.xlarge", "us-east-1")] == pytest.approx(round(1.006 * 0.35, 4))
    p5 = doc["instance_types"]["p5.48xlarge"]
    assert (p5["gpu"], p5["gpu_count"], p5["vcpus"], p5["memory_gib"]) == ("H100-80GB", 8, 192, 2048)
    assert p5["fast_network"] == "efa" and p5["gpu_memory_mib_reported"] == 81920
    catalog = catalog_from_document(doc, "aws")
    assert {o.instance_type for o in catalog.offerings} == set(TYPES)
    assert catalog.source == "live"


def test_filter_set_sent_to_get_products(fake: FakeAWS) -> None:
    provider.fetch_live(["us-east-1"], ["g5.xlarge"])
    bodies = [b.decode() for _m, _p, h, b in fake.requests if h.get("X-Amz-Target")]
    assert bodies and all('"ServiceCode": "AmazonEC2"' in b for b in bodies)
    for field, value in (("operatingSystem", "Linux"), ("tenancy", "Shared"),
                         ("preInstalledSw", "NA"), ("capacitystatus", "Used"),
                         ("marketoption", "OnDemand"), ("regionCode", "us-east-1"),
                         ("licenseModel", "No License required"), ("operation", "RunInstances")):
        assert f'"Field": "{field}", "Value": "{value}"' in bodies[0]


def test_paging_of_all_three_apis(fake: FakeAWS) -> None:
    fake.empty_first_page = True  # GetProducts: page 1 empty with a NextToken
    fake.ec2_page_size = 1  # DescribeInstanceTypes and spot history one item per page
    doc = provider.fetch_live(REGIONS, TYPES)
    assert prices(doc, "on-demand") == OD
    assert len(prices(doc, "spot")) == 4
    assert fake.count("NextToken") >= 4


def test_throttling_then_success(fake: FakeAWS) -> None:
    fake.fault("pricing:GetProducts", "throttle", "throttle")
    fake.fault("ec2:DescribeSpotPriceHistory", "throttle")
    doc = provider.fetch_live(["us-east-1"], TYPES)
    assert prices(doc, "on-demand") == {k: v for k, v in OD.items() if k[1] == "us-east-1"}
    assert len(prices(doc, "spot")) == 2


def test_5xx_after_retries_is_one_clear_error(fake: FakeAWS) -> None:
    fake.fault("pricing:GetProducts", *["500"] * 20)
    with pytest.raises(PricingError) as err:
        # quick: the budget `plan --pricing auto` uses, so botocore's backoff stays short here
        provider.fetch_live(["us-east-1"], ["g5.xlarge"], quick=True)
    message = str(err.value)
    assert "\n" not in message
    assert "Pricing GetProducts g5.xlarge in us-east-1" in message and "500" in message
    assert fake.count("AmazonEC2") == 2  # botocore retried once, then gave up


def test_malformed_body_is_retried_then_reported(fake: FakeAWS) -> None:
    fake.fault("pricing:GetProducts", "malformed")
    fake.fault("ec2:DescribeInstanceTypes", "malformed")
    doc = provider.fetch_live(["us-east-1"], ["g5.xlarge"])
    assert prices(doc, "on-demand") == {("g5.xlarge", "us-east-1"): 1.006}
    fake.fault("ec2:DescribeSpotPriceHistory", *["malformed"] * 20)
    with pytest.raises(PricingError, match="malformed response"):
        provider.fetch_live(["us-east-1"], ["g5.xlarge"])


def test_zero_price_is_no_price(fake: FakeAWS) -> None:
    fake.zero.add(("p5.48xlarge", "eu-central-1"))
    doc = provider.fetch_live(REGIONS, TYPES)
    assert ("p5.48xlarge", "eu-central-1") not in prices(doc, "on-demand")
    assert any(r["instance_type"] == "p5.48xlarge" and r["region"] == "eu-central-1"
               and "$0.00" in r["reason"] for r in doc["unpriced"])
    assert all(r["hourly_usd"] > 0 for r in doc["prices"])


def test_type_with_no_on_demand_product_is_unpriced(fake: FakeAWS) -> None:
    fake.missing.add(("p5.48xlarge", "us-east-1"))  # like p5e: Capacity Blocks only
    doc = provider.fetch_live(["us-east-1"], TYPES)
    assert ("p5.48xlarge", "us-east-1") not in prices(doc, "on-demand")
    assert any("no on-demand Linux product" in r["reason"] for r in doc["unpriced"])


def test_type_not_offered_in_region_is_absent(fake: FakeAWS) -> None:
    fake.offered["eu-central-1"].discard("p5.48xlarge")
    doc = provider.fetch_live(REGIONS, TYPES)
    rows = [r for r in doc["prices"] + doc["unpriced"]
            if r["instance_type"] == "p5.48xlarge" and r["region"] == "eu-central-1"]
    assert rows == []


def test_two_products_choose_box_usage(fake: FakeAWS, capsys: pytest.CaptureFixture[str]) -> None:
    fake.duplicates.add(("g5.xlarge", "eu-central-1"))
    doc = provider.fetch_live(["eu-central-1"], ["g5.xlarge"])
    assert prices(doc, "on-demand") == {("g5.xlarge", "eu-central-1"): 1.258}
    assert "2 Price List products for g5.xlarge in eu-central-1" in capsys.readouterr().err


def test_missing_credentials_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    with pytest.raises(MissingCredentials, match="no AWS credentials found"):
        provider.fetch_live(["us-east-1"], ["g5.xlarge"])
    assert aws_live.auto_status() is not None


def test_auto_status_sees_configured_credentials(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)
    assert "no AWS credentials" in str(aws_live.auto_status())
    (tmp_path / "no-aws-credentials").write_text("[default]\naws_access_key_id = x\n")
    assert aws_live.auto_status() is None


# -- pure parsing of the Price List and spot records --------------------------------------

def test_reserved_rates_fold_upfront_and_prefer_no_upfront() -> None:
    item = price_list_item("g5.xlarge", "us-east-1", 1.0)
    rates = aws_live.reserved_rates(item)
    assert rates["reserved-1y"] == (pytest.approx(0.62), "No Upfront")
    assert rates["reserved-3y"] == (pytest.approx(0.40), "All Upfront")


def test_on_demand_zero_is_none() -> None:
    assert aws_live.on_demand_rate(price_list_item("g5.xlarge", "us-east-1", 0.0)) is None
    assert aws_live.on_demand_rate(price_list_item("g5.xlarge", "us-east-1", 1.5)) == 1.5


def test_box_usage_prefixes() -> None:
    east = price_list_item("p5.48xlarge", "us-east-1", 1.0)
    west = price_list_item("p5.48xlarge", "us-west-2", 1.0)
    host = price_list_item("p5.48xlarge", "us-west-2", 1.0, usage="USW2-HostUsage:p5.48xlarge")
    assert east["product"]["attributes"]["usagetype"] == "BoxUsage:p5.48xlarge"
    chosen, _ = aws_live.choose_product([host, west], "p5.48xlarge", "us-west-2")
    assert chosen is west


def test_spot_figure_is_upper_median_of_latest_per_az() -> None:
    records = [
        {"AvailabilityZone": "a", "InstanceType": "t", "ProductDescription": "Linux/UNIX",
         "SpotPrice": "9.0", "Timestamp": 1},
        {"AvailabilityZone": "a", "InstanceType": "t", "ProductDescription": "Linux/UNIX",
         "SpotPrice": "1.0", "Timestamp": 2},
        {"AvailabilityZone": "b", "InstanceType": "t", "ProductDescription": "Linux/UNIX",
         "SpotPrice": "2.0", "Timestamp": 2},
        {"AvailabilityZone": "c", "InstanceType": "t", "ProductDescription": "Windows",
         "SpotPrice": "0.1", "Timestamp": 2},
        {"AvailabilityZone": "d", "InstanceType": "t", "ProductDescription": "Linux/UNIX",
         "SpotPrice": "0", "Timestamp": 2},
    ]
    assert aws_live.spot_figures(records) == {"t": (2.0, 2, 1.0, 2.0)}


def test_pricing_endpoint_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert aws_live.pricing_region() == "eu-central-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    assert aws_live.pricing_region() == "ap-south-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert aws_live.pricing_region() in aws_live.PRICING_REGIONS
