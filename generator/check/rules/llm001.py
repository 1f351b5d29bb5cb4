"""LLM001: the model does not fit the GPUs it is given, at the precision it is served in."""

from __future__ import annotations

from collections.abc import Iterable

from llmplan.check.base import Deployment, Finding, Rule, Sized, gib, size
from llmplan.terraform.compute.reader import COMPUTE_TYPES


def _check(dep: Deployment) -> Iterable[Finding]:
    sized = size(dep)
    if sized is None or sized.result.kv_cache_bytes_per_gpu > 0:
        return
    r = sized.result
    overhead = r.activation_bytes_per_gpu + r.non_torch_bytes_per_gpu
    layout = f"{r.gpu_count} x {r.gpu}" + (
        f" (TP={r.tensor_parallel}, PP={r.pipeline_parallel})" if r.gpu_count > 1 else "")
    message = (
        f"{sized.label} does not fit {layout} at {r.precision.label}: weights "
        f"{gib(r.weights_bytes_per_gpu)} plus activations and runtime {gib(overhead)} "
        f"per GPU exceed the {gib(r.budget_bytes_per_gpu)} {sized.engine.display} may use "
        f"({r.memory_fraction:g} x {gib(r.usable_bytes_per_gpu)})"
    )
    hint = _hint(sized)
    yield RULE.finding(dep, dep.at_compute(), message + (f"; {hint}" if hint else ""))


def _hint(sized: Sized) -> str:
    """What would fit instead, checked with the same sizing."""
    from llmplan.sizing.fit import fewest_gpus

    best = fewest_gpus(sized.arch, sized.workload, sized.gpu, sized.engine, max_gpus=8)
    if best.fits:
        return (f"it needs {best.gpu_count} x {best.gpu} (TP={best.tensor_parallel}, "
                f"PP={best.pipeline_parallel})")
    return "; ".join(best.suggestions[:2])


RULE = Rule(
    id="LLM001",
    title="model does not fit the instance's GPUs",
    severity="error",
    reads=COMPUTE_TYPES,
    check=_check,
)
