"""LLM004: a GCP VM with GPUs must not live-migrate: ``on_host_maintenance = "TERMINATE"``.

A computed value is not judged (the expression may well yield TERMINATE), and GKE node pools are
not judged (GKE sets it for GPU nodes itself).
"""

from __future__ import annotations

from collections.abc import Iterable

from llmplan.check.base import Deployment, Finding, Rule
from llmplan.terraform.values import Unknown


def _check(dep: Deployment) -> Iterable[Finding]:
    compute = dep.compute
    if compute is None or compute.cloud != "gcp" or compute.gke or not compute.has_gpus:
        return
    value = compute.scheduling.get("on_host_maintenance")
    if isinstance(value, Unknown) or (isinstance(value, str) and "${" in value):
        return
    if isinstance(value, str) and value.upper() == "TERMINATE":
        return
    if compute.spot and value is None:
        return  # Spot/preemptible VMs always terminate on maintenance
    said = f'on_host_maintenance = "{value}"' if value is not None else (
        "no on_host_maintenance (the default is MIGRATE)")
    line = compute.scheduling_line or compute.line
    plural = "s" if compute.gpu_count != 1 else ""
    yield RULE.finding(dep, (compute.file, line), (
        f"{compute.type_name} has {compute.gpu_count} GPU{plural} "
        f"but {said}; GPU VMs cannot live-migrate - set scheduling "
        '{ on_host_maintenance = "TERMINATE" }'))


RULE = Rule(
    id="LLM004",
    title="GCP GPU VM without on_host_maintenance = TERMINATE",
    severity="error",
    reads=("google_compute_instance", "google_compute_instance_template",
           "google_compute_region_instance_template"),
    check=_check,
)
