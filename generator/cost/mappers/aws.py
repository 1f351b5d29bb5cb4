"""AWS resource types -> usage: instances, auto-scaling groups, EKS node groups, reservations."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from llmplan.cost.usage import Context, Mapper, Unpriced, Usage, require, require_count
from llmplan.cost.values import dig, is_unresolved, known_int, lower_text
from llmplan.terraform.plan_json import ResourceValues


def _aws_template(r: ResourceValues, ctx: Context, spec: Any) -> ResourceValues | None:
    spec = spec if isinstance(spec, Mapping) else {}
    return ctx.referenced(r, ("aws_launch_template", "aws_launch_configuration"),
                          [spec.get("id"), spec.get("name"), spec.get("launch_template_id"),
                           spec.get("launch_template_name")])


def _aws_market(values: Mapping[str, Any]) -> str:
    if lower_text(dig(values, "instance_market_options", 0, "market_type")) == "spot":
        return "spot"
    if values.get("spot_price") not in (None, "") and not is_unresolved(values.get("spot_price")):
        return "spot"  # aws_launch_configuration
    return "on-demand"


def _aws_instance(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    template = _aws_template(r, ctx, dig(values, "launch_template", 0)) \
        if values.get("launch_template") else None
    itype = values.get("instance_type")
    if itype in (None, "") and template is not None:
        itype = template.values.get("instance_type")
    tier = "spot" if r.type == "aws_spot_instance_request" else _aws_market(values)
    if tier == "on-demand" and template is not None:
        tier = _aws_market(template.values)
    region = ctx.region("aws", values.get("availability_zone"), r.provider_region)
    covered = ""
    # The reservation may be named on the instance or on its launch template.
    for source in (r, template):
        if source is None or covered:
            continue
        target = dig(source.values, "capacity_reservation_specification", 0,
                     "capacity_reservation_target", 0, "capacity_reservation_id")
        if target is not None:
            found = ctx.referenced(source, ("aws_ec2_capacity_reservation",), [target])
            covered = found.address if found is not None else ""
    return [Usage("aws", require(itype, "instance_type"), 1, tier, region,
                  covered_by=covered)]


def _aws_asg(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    desired = values.get("desired_capacity")
    count = require_count(desired if desired is not None else values.get("min_size"),
                   "desired_capacity / min_size")
    region = ctx.region("aws", r.provider_region)
    mixed = dig(values, "mixed_instances_policy", 0)
    if isinstance(mixed, Mapping):
        lt = dig(mixed, "launch_template", 0)
        template = _aws_template(r, ctx, dig(lt, "launch_template_specification", 0))
        itype = dig(lt, "override", 0, "instance_type")
        if itype in (None, "") and template is not None:
            itype = template.values.get("instance_type")
        itype = require(itype, "instance type (override or launch template)")
        dist = dig(mixed, "instances_distribution", 0) or {}
        base = known_int(dist.get("on_demand_base_capacity"))
        pct = known_int(dist.get("on_demand_percentage_above_base_capacity"))
        base = 0 if base is None else base
        pct = 100 if pct is None else pct
        on_demand = min(count, base) + math.ceil(max(count - base, 0) * pct / 100)
        spot = count - on_demand
        parts = [Usage("aws", itype, on_demand, "on-demand", region)] if on_demand else []
        parts += [Usage("aws", itype, spot, "spot", region)] if spot else []
        return parts or [Usage("aws", itype, 0, "on-demand", region)]
    spec = dig(values, "launch_template", 0)
    template = _aws_template(r, ctx, spec)
    if template is None and values.get("launch_configuration"):
        template = ctx.referenced(r, ("aws_launch_configuration",),
                                  [values.get("launch_configuration")])
    if template is None:
        raise Unpriced("its launch template is not in this configuration")
    itype = require(template.values.get("instance_type"), f"{template.address}.instance_type")
    return [Usage("aws", itype, count, _aws_market(template.values), region)]


def _aws_eks_node_group(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    count = require_count(dig(values, "scaling_config", 0, "desired_size"),
                   "scaling_config.desired_size")
    types = values.get("instance_types")
    itype: Any = types[0] if isinstance(types, list) and types else None
    if itype is None and values.get("launch_template"):
        template = _aws_template(r, ctx, dig(values, "launch_template", 0))
        itype = template.values.get("instance_type") if template is not None else None
    if itype is None and types is None:
        itype = "t3.medium"  # the EKS default
    tier = "spot" if lower_text(values.get("capacity_type")) == "spot" else "on-demand"
    return [Usage("aws", require(itype, "instance_types"), count, tier,
                  ctx.region("aws", r.provider_region))]


def _aws_capacity_reservation(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    count = require_count(values.get("instance_count"), "instance_count")
    region = ctx.region("aws", values.get("availability_zone"), r.provider_region)
    return [Usage("aws", require(values.get("instance_type"), "instance_type"), count,
                  "on-demand", region, label="capacity-reservation")]


MAPPERS: dict[str, Mapper] = {
    "aws_instance": _aws_instance,
    "aws_spot_instance_request": _aws_instance,
    "aws_autoscaling_group": _aws_asg,
    "aws_eks_node_group": _aws_eks_node_group,
    "aws_ec2_capacity_reservation": _aws_capacity_reservation,
}
