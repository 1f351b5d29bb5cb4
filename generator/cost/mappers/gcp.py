"""Google Cloud resource types -> usage: instances, managed instance groups, GKE node pools,
reservations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmplan.cost.usage import GCP_ZONE, Context, Mapper, Unpriced, Usage, require, require_count
from llmplan.cost.values import dig, is_true, is_unresolved, lower_text
from llmplan.terraform.plan_json import ResourceValues


def _gcp_spot(scheduling: Any) -> bool:
    return lower_text(dig(scheduling, "provisioning_model")) == "spot" or is_true(
        dig(scheduling, "preemptible"))


def _machine_type(value: Any) -> Any:
    if isinstance(value, str) and "/" in value and not is_unresolved(value):
        return value.rsplit("/", 1)[-1]
    return value


def _gcp_instance(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    tier = "spot" if _gcp_spot(dig(values, "scheduling", 0)) else "on-demand"
    region = ctx.region("gcp", values.get("zone"), r.provider_region)
    return [Usage("gcp", require(_machine_type(values.get("machine_type")), "machine_type"), 1,
                  tier, region)]


def _gcp_group(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    count = require_count(values.get("target_size"), "target_size")
    links = [dig(v, "instance_template") for v in values.get("version") or []
             if isinstance(v, Mapping)]
    template = ctx.referenced(r, ("google_compute_instance_template",
                                  "google_compute_region_instance_template"), links)
    if template is None:
        raise Unpriced("its instance template is not in this configuration")
    tv = template.values
    itype = require(_machine_type(tv.get("machine_type")), f"{template.address}.machine_type")
    tier = "spot" if _gcp_spot(dig(tv, "scheduling", 0)) else "on-demand"
    region = ctx.region("gcp", values.get("zone"), values.get("region"), tv.get("region"),
                        r.provider_region)
    return [Usage("gcp", itype, count, tier, region)]


def _gcp_node_pool(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    config = dig(values, "node_config", 0) or {}
    itype = config.get("machine_type") or "e2-medium"  # the GKE default
    per_zone: Any = values.get("node_count")
    if per_zone is None:
        per_zone = dig(values, "autoscaling", 0, "min_node_count")
    if per_zone is None:
        per_zone = values.get("initial_node_count")
    count = require_count(per_zone, "node_count")
    location = values.get("location")
    zones = values.get("node_locations")
    if isinstance(zones, list) and zones and all(isinstance(z, str) for z in zones):
        count *= len(zones)
    elif isinstance(location, str) and not is_unresolved(location) and \
            not GCP_ZONE.match(location):
        count *= 3  # a regional pool: node_count is per zone, three zones by default
    tier = "spot" if is_true(config.get("spot")) or is_true(config.get("preemptible")) \
        else "on-demand"
    region = ctx.region("gcp", location, r.provider_region)
    return [Usage("gcp", require(itype, "node_config.machine_type"), count, tier, region)]


def _gcp_reservation(r: ResourceValues, ctx: Context) -> list[Usage]:
    specific = dig(r.values, "specific_reservation", 0) or {}
    count = require_count(specific.get("count"), "specific_reservation.count")
    itype = _machine_type(dig(specific, "instance_properties", 0, "machine_type"))
    region = ctx.region("gcp", r.values.get("zone"), r.provider_region)
    return [Usage("gcp", require(itype, "instance_properties.machine_type"), count,
                  "on-demand", region, label="capacity-reservation")]


MAPPERS: dict[str, Mapper] = {
    "google_compute_instance": _gcp_instance,
    "google_compute_instance_group_manager": _gcp_group,
    "google_compute_region_instance_group_manager": _gcp_group,
    "google_container_node_pool": _gcp_node_pool,
    "google_compute_reservation": _gcp_reservation,
}
