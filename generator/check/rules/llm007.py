"""LLM007: an instance or machine type that does not exist (with "did you mean").

Judged only for GPU families whose every size is known (the price snapshots plus
``data/extra_instance_types.json``); a name in any other family is not ours to call wrong.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmplan.catalog.instances import exists, gcp_accelerator_gpu, similar
from llmplan.check.base import Deployment, Finding, Rule
from llmplan.terraform.compute.reader import COMPUTE_TYPES


def _check(dep: Deployment) -> Iterable[Finding]:
    compute = dep.compute
    if compute is None:
        return
    name = compute.instance_type
    if isinstance(name, str) and "${" not in name and exists(compute.cloud, name) is False:
        close = similar(compute.cloud, name)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        kind = "machine type" if compute.cloud == "gcp" else (
            "VM size" if compute.cloud == "azure" else "instance type")
        yield RULE.finding(dep, (compute.file, compute.type_line),
                           f"{kind} '{name}' does not exist{hint}")
    for accelerator, _count in compute.accelerator_types:
        if not isinstance(accelerator, str) or "${" in accelerator:
            continue
        short = accelerator.rsplit("/", 1)[-1]
        if short.lower().startswith("nvidia-") and gcp_accelerator_gpu(short) is None:
            from llmplan.catalog.instances import known_gcp_accelerators
            from llmplan.errors import did_you_mean

            line = compute.resource.lines.get("guest_accelerator", compute.type_line)
            yield RULE.finding(dep, (compute.file, line), (
                f"accelerator type '{short}' does not exist"
                f"{did_you_mean(short, known_gcp_accelerators())}"))


RULE = Rule(
    id="LLM007",
    title="instance or machine type that does not exist",
    severity="error",
    reads=COMPUTE_TYPES,
    check=_check,
)
