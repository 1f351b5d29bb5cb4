"""LLM005: spot / preemptible capacity for a realtime serving workload.

A machine is judged when it may run on spot (an AWS spot market or an ASG/node group/Karpenter
pool that takes spot, GCP preemptible/SPOT, Azure Spot priority) and serves a workload that is
not declared ``workload = batch``: what its boot script runs, a workload pinned to it, or, for
Kubernetes pools, a serving pod in the same stack that no nodeSelector keeps off it.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmplan.check.base import Deployment, Finding, Rule
from llmplan.serving.served import Served
from llmplan.terraform.compute.reader import COMPUTE_TYPES

_POOLS = ("node-group", "node-pool", "karpenter")


def _check(dep: Deployment) -> Iterable[Finding]:
    compute = dep.compute
    if compute is None or compute.spot is not True or compute.gpu_count == 0:
        return
    if compute.gpu_count is None and not compute.gpu:
        return  # not known to be a GPU machine
    if dep.intent.kind == "batch":
        return
    served = dep.served or _unpinned(dep)
    if served is not None:
        what = served.server + (f" ({served.model})" if isinstance(served.model, str) else "")
    elif dep.intent.model or dep.intent.kind == "realtime":
        what = f"the workload ({dep.intent.model or 'declared realtime'})"
    else:
        return  # nothing says this machine serves anything
    capacity = "a pool that takes spot capacity" if compute.kind in _POOLS else "spot capacity"
    yield RULE.finding(dep, (compute.file, compute.spot_line or compute.line), (
        f"{what} is a realtime serving workload on {capacity} ({compute.type_name}); "
        "a reclaim takes the service down - use on-demand capacity, or tag the resource "
        "workload = batch if interruptions are fine"))


def _unpinned(dep: Deployment) -> Served | None:
    """A serving pod of the same stack that nothing keeps off this pool."""
    if dep.compute is None or dep.compute.kind not in _POOLS:
        return None
    return next((s for s in dep.neighbours if not s.node_selector and s.file), None)


RULE = Rule(
    id="LLM005",
    title="spot or preemptible capacity for a realtime workload",
    severity="warning",
    reads=COMPUTE_TYPES + ("Karpenter NodePool values",),
    check=_check,
)
