"""LLM008: the context (times the batch limit where the engine reserves it) exceeds the KV
cache, so the engine refuses to start or cannot serve one full-length request."""

from __future__ import annotations

from collections.abc import Iterable

from llmplan.check.base import Deployment, Finding, Rule, gib, known_int, size
from llmplan.terraform.compute.reader import COMPUTE_TYPES


def _check(dep: Deployment) -> Iterable[Finding]:
    sized = size(dep, engine_view=True)
    if sized is None or sized.result.kv_cache_bytes_per_gpu <= 0:
        return  # no room at all is LLM001's finding
    if sized.context_is_default and sized.engine.name == "tgi":
        return  # TGI lowers its default limits to what fits
    r = sized.result
    needed, what = r.context, f"one {r.context:,}-token request"
    served = dep.served
    batch = known_int(served.max_batch_tokens) if served is not None else None
    if batch and batch > needed and sized.engine.name in ("tgi", "sglang"):
        flag = "--max-batch-total-tokens" if sized.engine.name == "tgi" else "--max-total-tokens"
        needed, what = batch, f"{flag} {batch:,}"
    if r.kv_tokens >= needed:
        return
    if needed != r.context:
        source = "it reserves that much KV cache at start-up"
    elif sized.context_is_default:
        source = "the model's full context, the engine default without a length flag"
    else:
        source = "the configured context"
    longest = r.kv_tokens // 256 * 256
    yield RULE.finding(dep, dep.at_served(), (
        f"{sized.engine.display} cannot hold {what} ({source}) for {sized.label} "
        f"on {r.gpu_count} x {r.gpu}: the KV cache gets {gib(r.kv_cache_bytes_per_gpu)} per GPU, "
        f"room for {r.kv_tokens:,} tokens; it refuses to start - limit the context to "
        f"{longest:,} tokens, raise {sized.engine.memory_fraction_flag}, use an fp8 KV cache "
        "or more GPUs"))


RULE = Rule(
    id="LLM008",
    title="context times batch limit exceeds the KV cache",
    severity="error",
    reads=COMPUTE_TYPES + ("boot scripts", "kubernetes manifests"),
    check=_check,
)
