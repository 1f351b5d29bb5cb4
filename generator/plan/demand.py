"""What a workload asks of a plan: request lengths, output tokens/s, requests in flight."""

from __future__ import annotations

from llmplan.sizing.throughput import Speed
from llmplan.workload import Workload


def request_lengths(workload: Workload) -> tuple[int, int]:
    """Prompt and output tokens per request: the load's, else 3/4 and 1/4 of the context."""
    load = workload.load
    prompt = load.prompt_tokens or max(1, workload.context * 3 // 4)
    output = load.output_tokens or max(1, workload.context // 4)
    return prompt, output


def in_flight(workload: Workload, speed: Speed | None) -> float:
    """Requests in flight under the load (Little's law: arrival rate x time in the system)."""
    load = workload.load
    if speed is None or not load.is_set:
        return 0.0
    if load.requests_per_second is not None:
        output = request_lengths(workload)[1]
        seconds = (speed.ttft_ms + output * speed.tpot_ms) / 1000
        return load.requests_per_second * seconds
    required = required_tokens_per_s(workload) or 0.0
    return required * speed.tpot_ms / 1000


def required_tokens_per_s(workload: Workload) -> float | None:
    """Output tokens/s the load asks for: tokens/s as given, else requests/s x output tokens."""
    load = workload.load
    if load.tokens_per_second is not None:
        return load.tokens_per_second
    if load.requests_per_second is not None:
        return load.requests_per_second * request_lengths(workload)[1]
    return None
