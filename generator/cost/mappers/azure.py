"""Azure resource types -> usage: VMs, scale sets, AKS node pools and clusters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmplan.cost.usage import Context, Mapper, Usage, require, require_count
from llmplan.cost.values import dig, lower_text
from llmplan.terraform.plan_json import ResourceValues


def _azure_tier(values: Mapping[str, Any]) -> str:
    return "spot" if lower_text(values.get("priority")) == "spot" else "on-demand"


def _azure_vm(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    size = values.get("size") if r.type == "azurerm_linux_virtual_machine" \
        else values.get("vm_size")
    return [Usage("azure", require(size, "size"), 1, _azure_tier(values),
                  ctx.region("azure", values.get("location")))]


def _azure_scale_set(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    sku = values.get("sku") if "sku" in values else values.get("sku_name")
    count = require_count(values.get("instances"), "instances")
    return [Usage("azure", require(sku, "sku"), count, _azure_tier(values),
                  ctx.region("azure", values.get("location")))]


def _azure_node_pool(r: ResourceValues, ctx: Context) -> list[Usage]:
    values = r.values
    nodes = values.get("node_count")
    count = require_count(nodes if nodes is not None else values.get("min_count"), "node_count")
    cluster = ctx.referenced(r, ("azurerm_kubernetes_cluster",))
    location = cluster.values.get("location") if cluster is not None else None
    return [Usage("azure", require(values.get("vm_size"), "vm_size"), count,
                  _azure_tier(values), ctx.region("azure", location))]


def _azure_cluster(r: ResourceValues, ctx: Context) -> list[Usage]:
    pool = dig(r.values, "default_node_pool", 0) or {}
    nodes = pool.get("node_count")
    count = require_count(nodes if nodes is not None else pool.get("min_count"),
                   "default_node_pool.node_count")
    return [Usage("azure", require(pool.get("vm_size"), "default_node_pool.vm_size"), count,
                  "on-demand", ctx.region("azure", r.values.get("location")))]


MAPPERS: dict[str, Mapper] = {
    "azurerm_linux_virtual_machine": _azure_vm,
    "azurerm_virtual_machine": _azure_vm,
    "azurerm_linux_virtual_machine_scale_set": _azure_scale_set,
    "azurerm_orchestrated_virtual_machine_scale_set": _azure_scale_set,
    "azurerm_kubernetes_cluster_node_pool": _azure_node_pool,
    "azurerm_kubernetes_cluster": _azure_cluster,
}
