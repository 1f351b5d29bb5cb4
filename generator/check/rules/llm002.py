"""LLM002: the engine's parallelism (TP x PP x DP) does not match the GPUs it is given."""

from __future__ import annotations

from collections.abc import Iterable

from llmplan.check.base import Deployment, Finding, Rule, gpus_available, known_int, parallelism
from llmplan.terraform.compute.reader import COMPUTE_TYPES


def _check(dep: Deployment) -> Iterable[Finding]:
    served = dep.served
    par = parallelism(dep)
    if served is None or served.engine is None or par is None:
        return
    tp, pp, dp = par
    world = tp * pp * dp
    sizes = f"TP={tp} x PP={pp}" + (f" x DP={dp}" if dp > 1 else "")
    if served.group_size:
        yield from _multi_node(dep, world, sizes)
        return
    available = gpus_available(dep)
    if available is None:
        return
    where = "its container requests" if known_int(served.gpus) else (
        f"{dep.compute.type_name} has" if dep.compute is not None else "it has")
    if world > available:
        message = (f"{served.server} asks for {world} GPUs ({sizes}) but {where} {available}; "
                   "it will not start")
    elif world < available:
        message = (f"{served.server} uses {world} of the {available} GPUs {where} ({sizes}); "
                   f"the other {available - world} sit idle - set the parallel sizes to use "
                   f"them, or give it {world} GPU{'s' if world > 1 else ''}")
    else:
        return
    yield RULE.finding(dep, dep.at_served(), message)


def _multi_node(dep: Deployment, world: int, sizes: str) -> Iterable[Finding]:
    """A replica spread over pods (LeaderWorkerSet): does the node group hold that many GPUs?"""
    served, compute = dep.served, dep.compute
    assert served is not None and served.group_size is not None
    per_pod = known_int(served.gpus) or 1
    needed = served.group_size * per_pod
    if world != needed:
        yield RULE.finding(dep, dep.at_served(), (
            f"{served.server} runs {sizes} = {world} GPUs but its group of {served.group_size} "
            f"pods x {per_pod} GPU gives {needed}"))
        return
    if compute is None or not compute.gpu_count or not compute.nodes:
        return
    capacity = compute.nodes * compute.gpu_count
    if needed > capacity:
        yield RULE.finding(dep, dep.at_served(), (
            f"{served.server} needs {needed} GPUs for one replica ({sizes} over "
            f"{served.group_size} pods) but {compute.address} runs {compute.nodes} x "
            f"{compute.type_name} = {capacity} GPU{'s' if capacity > 1 else ''}; the group "
            "stays Pending unless the node group scales up"))


RULE = Rule(
    id="LLM002",
    title="engine parallelism does not use the instance's GPUs",
    severity="warning",
    reads=COMPUTE_TYPES + ("kubernetes manifests", "ECS container definitions"),
    check=_check,
)
