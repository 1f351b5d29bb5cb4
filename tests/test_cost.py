"""``llmplan cost``: pricing per resource type, plan JSON, diff, policy and the PR comment."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from llmplan.catalog.pricing import load_catalogs
from llmplan.cli import main
from llmplan.cost.pricing import PriceBook, price_resources
from llmplan.providers.base import HOURS_PER_MONTH
from llmplan.terraform.plan_json import ResourceValues

FIXTURES = Path(__file__).parent / "fixtures" / "cost"
GOLDEN = Path(__file__).parent / "golden" / "cost"


def hourly(cloud: str, region: str, itype: str, tier: str = "on-demand") -> float:
    for catalog in load_catalogs([cloud]).catalogs:
        for o in catalog.offerings:
            if o.region == region and o.instance_type == itype:
                price = o.price(tier)
                assert price is not None, f"fixture needs a {tier} price for {itype}"
                return price.hourly_usd
    raise AssertionError(f"{itype} not in the {cloud} catalog")


def monthly(*args: str, n: float = 1) -> float:
    return round(hourly(*args) * n * HOURS_PER_MONTH, 2)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(["cost", *argv, "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def by_address(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["address"]: r for r in rows}


# --- breakdown of a folder


def test_breakdown_folder_prices_tiers_counts_groups_and_modules(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "breakdown", str(FIXTURES / "head"))
    assert code == 0
    rows = by_address(data["resources"])
    # count = var.batch_workers (3), each a spot instance via instance_market_options
    batch = [rows[f"aws_instance.batch[{i}]"] for i in range(3)]
    assert all(r["tier"] == "spot" for r in batch)
    assert batch[0]["monthly"] == pytest.approx(monthly("aws", "us-east-1", "g5.12xlarge",
                                                        "spot"), abs=0.01)
    # capacity reservation: on-demand rate x instance_count, whether used or not
    reserved = rows["aws_ec2_capacity_reservation.reserved"]
    assert reserved["tier"] == "capacity-reservation" and reserved["count"] == 2
    assert reserved["monthly"] == pytest.approx(monthly("aws", "us-east-1", "g6e.xlarge", n=2),
                                                abs=0.01)
    assert any("whether instances use it" in n for n in reserved["notes"])
    # mixed instances: desired 4, base 1, 25% above base on-demand -> 2 on-demand + 2 spot
    asg = rows["aws_autoscaling_group.workers"]
    assert asg["instance_type"] == "g6.xlarge" and asg["tier"] == "on-demand+spot"
    assert asg["monthly"] == pytest.approx(
        monthly("aws", "us-east-1", "g6.xlarge", n=2)
        + monthly("aws", "us-east-1", "g6.xlarge", "spot", n=2), abs=0.02)
    # EKS node group: scaling_config desired x instance type, capacity_type SPOT
    eks = rows["aws_eks_node_group.gpu"]
    assert (eks["count"], eks["tier"]) == (2, "spot")
    # GKE pool from a local module, node_count passed in, spot
    pool = rows["module.l4_pool.google_container_node_pool.l4"]
    assert (pool["count"], pool["tier"], pool["region"]) == (2, "spot", "us-central1")
    # Azure priority = "Spot", location "East US" -> eastus
    vm = rows["azurerm_linux_virtual_machine.eval"]
    assert (vm["tier"], vm["region"]) == ("spot", "eastus")
    # an instance type the catalog does not list: unpriced with a reason, never $0
    bastion = rows["aws_instance.bastion"]
    assert bastion["monthly"] is None and "not in the aws catalog" in bastion["unpriced"]
    assert data["unpriced_count"] == 1
    assert data["monthly"] == pytest.approx(
        sum(r["monthly"] for r in data["resources"] if r["monthly"] is not None), abs=0.05)
    assert any(s.startswith("aws: snapshot prices as of") for s in data["price_sources"])
    # templates cost nothing by themselves and are not listed
    assert "aws_launch_template.workers" not in rows


def test_unpriceable_resources_have_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "breakdown", str(FIXTURES / "unknown"))
    assert code == 0
    rows = by_address(data["resources"])
    assert rows["aws_instance.pool"]["unpriced"] == "count is not known statically (var.workers)"
    assert "data.aws_ssm_parameter.type.value" in rows["aws_instance.dynamic"]["unpriced"]
    assert "no price for sa-east-1" in rows["aws_instance.elsewhere"]["unpriced"]
    assert "Windows" in rows["azurerm_windows_virtual_machine.win"]["unpriced"]
    for row in rows.values():
        assert (row["monthly"] is None) == (row["unpriced"] is not None)
    # running inside a capacity reservation: billed there, not twice
    inside = rows["aws_instance.in_reservation"]
    assert inside["monthly"] == 0 and inside["tier"] == "in-capacity-reservation"
    assert any("aws_ec2_capacity_reservation.r" in n for n in inside["notes"])
    # count beyond the reader's expansion cap is still priced in full
    many = rows["aws_instance.many[*]"]
    assert many["count"] == 100
    assert many["monthly"] == pytest.approx(monthly("aws", "us-east-1", "g6.xlarge", n=100),
                                            abs=0.1)


# --- per-resource mappings not covered by the fixture trees


def _price(*resources: ResourceValues, regions: dict[str, str] | None = None
           ) -> dict[str, Any]:
    book = PriceBook(load_catalogs(["aws", "gcp", "azure"]).catalogs)
    return {line.address: line for line in price_resources(resources, book, regions)}


def test_gcp_group_manager_uses_template_and_preemptible() -> None:
    template = ResourceValues("google_compute_instance_template.t",
                              "google_compute_instance_template", "t",
                              {"name": "t", "machine_type": "g2-standard-8",
                               "scheduling": [{"preemptible": True}]})
    group = ResourceValues("google_compute_instance_group_manager.g",
                           "google_compute_instance_group_manager", "g",
                           {"zone": "us-central1-a", "target_size": 3,
                            "version": [{"instance_template": "${google_compute_instance_"
                                                             "template.t.self_link}"}]},
                           references=frozenset({"google_compute_instance_template.t"}))
    lines = _price(template, group)
    assert list(lines) == ["google_compute_instance_group_manager.g"]
    line = lines["google_compute_instance_group_manager.g"]
    assert (line.count, line.tier, line.region) == (3, "spot", "us-central1")
    assert line.monthly_usd == pytest.approx(
        monthly("gcp", "us-central1", "g2-standard-8", "spot", n=3), abs=0.02)


def test_gcp_spot_provisioning_model_and_regional_node_pool() -> None:
    vm = ResourceValues("google_compute_instance.a", "google_compute_instance", "a",
                        {"machine_type": "zones/us-central1-a/machineTypes/a2-highgpu-1g",
                         "zone": "us-central1-a",
                         "scheduling": [{"provisioning_model": "SPOT"}]})
    pool = ResourceValues("google_container_node_pool.p", "google_container_node_pool", "p",
                          {"location": "us-central1", "node_count": 1,
                           "node_config": [{"machine_type": "g2-standard-4"}]})
    lines = _price(vm, pool)
    assert lines["google_compute_instance.a"].tier == "spot"
    assert lines["google_compute_instance.a"].instance_type == "a2-highgpu-1g"
    assert lines["google_container_node_pool.p"].count == 3  # per zone x 3 zones


def test_azure_scale_set_and_aws_template_spot_and_mixed_split() -> None:
    scale_set = ResourceValues("azurerm_linux_virtual_machine_scale_set.s",
                               "azurerm_linux_virtual_machine_scale_set", "s",
                               {"sku": "Standard_NC24ads_A100_v4", "instances": 3,
                                "location": "eastus"})
    template = ResourceValues("aws_launch_template.lt", "aws_launch_template", "lt",
                              {"name": "lt", "instance_type": "g5.xlarge",
                               "instance_market_options": [{"market_type": "spot"}]})
    asg = ResourceValues("aws_autoscaling_group.a", "aws_autoscaling_group", "a",
                         {"min_size": 2, "launch_template": [{"name": "lt"}]},
                         provider_region="us-east-1")
    mixed = ResourceValues("aws_autoscaling_group.m", "aws_autoscaling_group", "m",
                           {"desired_capacity": 10, "mixed_instances_policy": [{
                               "instances_distribution": [{
                                   "on_demand_base_capacity": 2,
                                   "on_demand_percentage_above_base_capacity": 50}],
                               "launch_template": [{
                                   "launch_template_specification": [{"launch_template_name":
                                                                      "lt"}],
                                   "override": [{"instance_type": "g5.2xlarge"}]}]}]},
                           provider_region="us-east-1")
    lines = _price(scale_set, template, asg, mixed)
    assert lines["azurerm_linux_virtual_machine_scale_set.s"].count == 3
    assert lines["azurerm_linux_virtual_machine_scale_set.s"].tier == "on-demand"
    a = lines["aws_autoscaling_group.a"]
    assert (a.instance_type, a.count, a.tier) == ("g5.xlarge", 2, "spot")  # min_size
    m = lines["aws_autoscaling_group.m"]
    assert m.instance_type == "g5.2xlarge" and m.notes[0] == "6 on-demand, 4 spot"


def test_default_region_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_instance" "x" {\n  instance_type = "g5.xlarge"\n}\n')
    _, data = run_json(capsys, "breakdown", str(tmp_path))
    assert "region not known" in data["resources"][0]["unpriced"]
    _, data = run_json(capsys, "breakdown", str(tmp_path), "--region", "us-west-2")
    assert data["resources"][0]["region"] == "us-west-2"
    _, data = run_json(capsys, "breakdown", str(tmp_path), "--region", "aws=us-east-1")
    assert data["resources"][0]["monthly"] == pytest.approx(
        monthly("aws", "us-east-1", "g5.xlarge"), abs=0.01)


# --- diff


def test_diff_folders(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "diff", str(FIXTURES / "base"), str(FIXTURES / "head"))
    assert code == 0
    assert set(data) >= {"currency", "before_monthly", "after_monthly", "delta_monthly",
                         "resources"}
    assert data["currency"] == "USD"
    rows = by_address(data["resources"])
    assert rows["aws_instance.batch[2]"]["status"] == "added"
    assert rows["google_compute_instance.old"]["status"] == "removed"
    assert rows["google_compute_instance.old"]["after_monthly"] is None
    api = rows["aws_instance.api"]
    assert api["status"] == "changed" and api["instance_type"] == "g6e.xlarge"
    assert api["before"]["instance_type"] == "g5.xlarge"
    assert api["delta_monthly"] == pytest.approx(
        monthly("aws", "us-east-1", "g6e.xlarge") - monthly("aws", "us-east-1", "g5.xlarge"),
        abs=0.02)
    # the boot script serves Llama-3.1-8B at 8k context: A10G 24 GB -> L40S 48 GB
    capacity = api["capacity"]
    assert (capacity["model"], capacity["context"]) == ("meta-llama/Llama-3.1-8B", 8192)
    assert 0 < capacity["max_concurrency_before"] < capacity["max_concurrency_after"]
    for row in data["resources"]:
        assert set(row) >= {"address", "before_monthly", "after_monthly", "delta_monthly",
                            "instance_type", "tier"}
    # unchanged resources (and the unchanged unpriced bastion) are left out
    assert "aws_instance.batch[0]" not in rows and "aws_instance.bastion" not in rows
    assert data["delta_monthly"] == pytest.approx(
        sum(r["delta_monthly"] for r in data["resources"]), abs=0.05)
    assert data["delta_monthly"] == pytest.approx(
        data["after_monthly"] - data["before_monthly"], abs=0.02)
    assert data["percent_change"] == pytest.approx(
        data["delta_monthly"] / data["before_monthly"] * 100, abs=0.01)


def test_diff_one_plan_before_and_after(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "diff", str(FIXTURES / "plan.json"))
    assert code == 0
    rows = by_address(data["resources"])
    assert rows["aws_instance.api"]["status"] == "changed"
    assert rows["aws_instance.old"]["status"] == "removed"
    assert rows["aws_instance.batch[1]"]["status"] == "added"
    assert rows["aws_instance.batch[1]"]["tier"] == "spot"
    # launch template id unknown until apply: linked through the plan's configuration
    asg = rows["aws_autoscaling_group.workers"]
    assert (asg["instance_type"], asg["tier"], asg["count"]) == ("g6.xlarge", "spot", 2)
    # node group scaled 2 -> 3
    eks = rows["aws_eks_node_group.gpu"]
    assert eks["before"]["count"] == 2 and eks["count"] == 3
    assert rows["google_compute_instance.preempt"]["tier"] == "spot"
    assert rows["google_compute_instance.preempt"]["region"] == "us-central1"
    assert rows["aws_ec2_capacity_reservation.reserved"]["tier"] == "capacity-reservation"
    assert "aws_security_group.web" not in rows  # not compute


def test_plan_breakdown_is_the_after_side(capsys: pytest.CaptureFixture[str]) -> None:
    _, data = run_json(capsys, "breakdown", str(FIXTURES / "plan.json"))
    addresses = {r["address"] for r in data["resources"]}
    assert "aws_instance.old" not in addresses and "aws_instance.batch[1]" in addresses
    # region from `region = var.region` in the provider block, through the plan's variables
    assert by_address(data["resources"])["aws_instance.bastion"]["region"] == "us-east-1"


# --- policy


def test_policy_thresholds(capsys: pytest.CaptureFixture[str]) -> None:
    base, head = str(FIXTURES / "base"), str(FIXTURES / "head")
    assert main(["cost", "diff", base, head, "--fail-above-usd", "100"]) == 1
    assert "more than --fail-above-usd" in capsys.readouterr().err
    assert main(["cost", "diff", base, head, "--fail-above-usd", "1000000"]) == 0
    assert main(["cost", "diff", base, head, "--fail-above-percent", "10"]) == 1
    assert main(["cost", "diff", base, head, "--fail-above-percent", "50"]) == 0
    capsys.readouterr()
    # going down: no failure, and --only-increases prints nothing
    assert main(["cost", "diff", head, base, "--fail-above-usd", "0"]) == 0
    capsys.readouterr()
    assert main(["cost", "diff", head, base, "--only-increases", "--format", "markdown"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["cost", "diff", base, head, "--only-increases", "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("<!-- llmplan-cost -->")


@pytest.mark.parametrize("argv", [
    ["cost", "diff", "no/such/dir", "also/missing"],
    ["cost", "diff", str(FIXTURES / "base")],
    ["cost", "breakdown", str(FIXTURES / "head"), "--region", "mars-1"],
    ["cost", "diff", str(FIXTURES / "base"), str(FIXTURES / "head"), "--fail-above-usd", "-1"],
    ["cost"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_not_a_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "state.json"
    bad.write_text(json.dumps({"format_version": "1.0", "values": {}}))
    assert main(["cost", "breakdown", str(bad)]) == 2
    assert "no resource_changes" in capsys.readouterr().err
    bad.write_text(json.dumps({"format_version": "2.0", "resource_changes": []}))
    assert main(["cost", "breakdown", str(bad)]) == 2


# --- the pull-request comment

# Frozen prices for the golden file, so a snapshot refresh does not change it.
FROZEN = {
    "aws": ("us-east-1", {
        "g5.xlarge": ("A10G", 1, {"on-demand": 1.006, "spot": 0.3837}),
        "g5.12xlarge": ("A10G", 4, {"on-demand": 5.672, "spot": 2.0121}),
        "g6.xlarge": ("L4", 1, {"on-demand": 0.8048, "spot": 0.3337}),
        "g6e.xlarge": ("L40S", 1, {"on-demand": 1.861, "spot": 0.7113}),
    }),
    "gcp": ("us-central1", {
        "a2-highgpu-1g": ("A100-40GB", 1, {"on-demand": 3.673385, "spot": 1.293355}),
        "g2-standard-8": ("L4", 1, {"on-demand": 0.853624, "spot": 0.336764}),
    }),
    "azure": ("eastus", {
        "Standard_NC24ads_A100_v4": ("A100-80GB", 1, {"on-demand": 3.673, "spot": 0.67877}),
    }),
}


@pytest.fixture()
def frozen_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    import llmplan.catalog.pricing as pricing
    from llmplan.providers.base import Catalog, Offering, Price

    def load(clouds: list[str], mode: str = "snapshot", regions: Any = ()) -> Any:
        catalogs = []
        for cloud in clouds:
            region, types = FROZEN[cloud]
            offerings = tuple(
                Offering(cloud, region, name, gpu, count, 24.0, 8, 32.0, "pcie", None,
                         {tier: Price(usd, "snapshot", "2026-01-01") for tier, usd in
                          tiers.items()})
                for name, (gpu, count, tiers) in types.items())
            catalogs.append(Catalog(cloud, "snapshot", "2026-01-01", offerings))
        return pricing.PricedCatalogs(tuple(catalogs), ())

    monkeypatch.setattr(pricing, "load_catalogs", load)


@pytest.mark.usefixtures("frozen_prices")
def test_markdown_comment_golden(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cost", "diff", str(FIXTURES / "base"), str(FIXTURES / "head"),
                 "--format", "markdown"])
    assert code == 0
    text = capsys.readouterr().out
    golden = GOLDEN / "diff.md"
    if os.environ.get("LLMPLAN_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), "regenerate with LLMPLAN_UPDATE_GOLDEN=1"
    assert text.startswith("<!-- llmplan-cost -->\n")
    assert "<details>" in text and "</details>" in text
    headline = text.splitlines()[3]
    assert headline.startswith("**+$") and "/month (+" in headline
    # every table row has as many cells as its header
    for block in text.split("\n\n"):
        rows = [r for r in block.splitlines() if r.startswith("|")]
        if rows:
            widths = {r.count(" | ") for r in rows if not r.startswith("|--")}
            assert len(widths) == 1, block


def test_breakdown_markdown_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", "breakdown", str(FIXTURES / "head"), "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert "`aws_instance.bastion`: t3.micro is not in the aws catalog" in text
    assert main(["cost", "breakdown", str(FIXTURES / "head")]) == 0
    table = capsys.readouterr().out
    assert "not priced" in table and "Total: $" in table


def test_changed_unpriceable_resource_is_flagged_not_zero(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for side, itype in (("a", "t3.micro"), ("b", "t3.large")):
        (tmp_path / side).mkdir()
        (tmp_path / side / "main.tf").write_text(
            'provider "aws" {\n  region = "us-east-1"\n}\n'
            f'resource "aws_instance" "x" {{\n  instance_type = "{itype}"\n}}\n')
    _, data = run_json(capsys, "diff", str(tmp_path / "a"), str(tmp_path / "b"))
    (row,) = data["resources"]
    assert row["status"] == "changed" and row["delta_monthly"] is None
    assert "t3.large is not in the aws catalog" in row["unpriced"]
    assert data["unpriced"][0]["address"] == "aws_instance.x"
    assert main(["cost", "diff", str(tmp_path / "a"), str(tmp_path / "b"),
                 "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert "| not priced | not priced | not priced |" in text
    assert "could not be priced" in text and "No change in monthly cost" in text


def test_instance_in_a_reservation_named_by_its_launch_template_is_not_billed_twice(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "main.tf").write_text('''
provider "aws" { region = "us-east-1" }
resource "aws_ec2_capacity_reservation" "r" {
  instance_type     = "g6e.xlarge"
  instance_platform = "Linux/UNIX"
  availability_zone = "us-east-1a"
  instance_count    = 1
}
resource "aws_launch_template" "lt" {
  instance_type = "g6e.xlarge"
  capacity_reservation_specification {
    capacity_reservation_target { capacity_reservation_id = aws_ec2_capacity_reservation.r.id }
  }
}
resource "aws_instance" "llm" {
  launch_template { id = aws_launch_template.lt.id }
}
''')
    code, data = run_json(capsys, "breakdown", str(tmp_path))
    assert code == 0
    rows = by_address(data["resources"])
    # The reservation is billed at the on-demand rate; the instance running in it adds nothing.
    assert rows["aws_ec2_capacity_reservation.r"]["monthly"] == monthly(
        "aws", "us-east-1", "g6e.xlarge", "on-demand")
    assert rows["aws_instance.llm"]["monthly"] == 0
    assert data["monthly"] == rows["aws_ec2_capacity_reservation.r"]["monthly"]
