"""A short, bounded load test: streamed chat completions at a fixed concurrency.

asyncio keeps ``concurrency`` requests in flight; each request's blocking HTTP stream runs in a
worker thread (``http.client``), which stamps every event as it arrives. The run stops launching
at ``requests`` or ``duration``; at the hard deadline open streams are cut and count with what
they delivered. From the stamps: TTFT (first content), TPOT (time between the first and last
token over the tokens in between) and the steady-state output rate, measured while every slot
was busy.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from llmplan.verify.client import Endpoint, HttpError, Unreachable

CHAT = "/v1/chat/completions"
# Filler whose words are one token each in the common BPE vocabularies; the real count comes
# back in the responses' usage and two calibration requests scale it.
FILLER_TEXT = ("the quick brown fox jumps over the lazy dog and then runs back home to sleep in "
               "the warm sun while the birds sing in the tall green trees by the river")
FILLER = FILLER_TEXT.split(" ")
MAX_THREADS = 512
PROBE_WORDS = (32, 288)
PROGRESS_S = 5.0


@dataclass
class Sample:
    """One request: when it started, when each token arrived, how it ended."""

    started: float
    token_times: list[float] = field(default_factory=list)
    finished: float | None = None
    output_tokens: int | None = None  # from usage, when the server reports it
    prompt_tokens: int | None = None
    error: str | None = None
    cut: bool = False  # stopped at the hard deadline

    @property
    def ttft_s(self) -> float | None:
        return self.token_times[0] - self.started if self.token_times else None

    @property
    def tokens(self) -> int:
        return self.output_tokens or len(self.token_times)

    @property
    def tpot_s(self) -> float | None:
        if len(self.token_times) < 2:
            return None
        # Chunks may carry several tokens: spread the decode time over the tokens it produced.
        produced = max(self.tokens, len(self.token_times)) - 1
        return (self.token_times[-1] - self.token_times[0]) / produced


@dataclass
class LoadResult:
    concurrency: int
    prompt_tokens_target: int
    output_tokens_target: int
    samples: list[Sample]
    elapsed_s: float
    output_tokens_per_s: float | None
    window_s: float  # the steady-state window the rate was measured over
    stopped_by: str  # "requests" | "duration"

    @property
    def completed(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None and not s.cut]

    @property
    def failed(self) -> list[Sample]:
        return [s for s in self.samples if s.error is not None]

    def errors(self) -> Counter[str]:
        return Counter(s.error for s in self.failed if s.error)

    def percentile(self, what: str, q: float) -> float | None:
        """``what`` is "ttft" or "tpot"; milliseconds."""
        values = sorted(v * 1000 for s in self.samples
                        if (v := (s.ttft_s if what == "ttft" else s.tpot_s)) is not None)
        if not values:
            return None
        if len(values) == 1:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]

    def mean_tokens(self, what: str) -> float | None:
        values = [s.prompt_tokens if what == "prompt" else s.tokens for s in self.completed]
        known = [v for v in values if v]
        return sum(known) / len(known) if known else None


def prompt_text(words: int) -> str:
    body = " ".join(FILLER[i % len(FILLER)] for i in range(max(1, words)))
    return "Continue this text for as long as you can: " + body


def payload(model: str, prompt: str, max_tokens: int, *, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        # vLLM and SGLang honour it, so every request produces the planned output length; TGI
        # ignores unknown fields.
        "ignore_eos": True,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def calibrate(endpoint: Endpoint, model: str, prompt_tokens: int) -> tuple[int, int | None]:
    """Filler words that make ``prompt_tokens`` prompt tokens, and the tokens one word makes x 1000.

    Two one-token requests of different lengths separate the fixed part (chat template,
    instruction) from the tokens per filler word. Without usage in the replies, one word is taken
    as one token (None).
    """
    measured = []
    for words in PROBE_WORDS:
        reply = endpoint.post_json(CHAT, payload(model, prompt_text(words), 1, stream=False))
        usage = reply.get("usage") if isinstance(reply, dict) else None
        count = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        if not isinstance(count, int) or count <= 0:
            return prompt_tokens, None
        measured.append(count)
    (a, b), (ma, mb) = PROBE_WORDS, measured
    per_word = max(0.25, (mb - ma) / (b - a))
    overhead = ma - per_word * a
    return max(1, round((prompt_tokens - overhead) / per_word)), round(per_word * 1000)


def _one(endpoint: Endpoint, body: dict[str, Any], sample: Sample, timeout: float) -> None:
    try:
        for event in endpoint.stream(CHAT, body, timeout=timeout):
            doc = event.data
            for choice in doc.get("choices") or []:
                delta = choice.get("delta") or {}
                text = delta.get("content") or delta.get("reasoning_content")
                if text:
                    sample.token_times.append(event.at)
            usage = doc.get("usage")
            if isinstance(usage, dict):
                if isinstance(usage.get("completion_tokens"), int):
                    sample.output_tokens = usage["completion_tokens"]
                if isinstance(usage.get("prompt_tokens"), int):
                    sample.prompt_tokens = usage["prompt_tokens"]
    except (HttpError, Unreachable) as exc:
        if not sample.cut:
            sample.error = str(exc)
    finally:
        sample.finished = time.perf_counter()


async def _run(endpoint: Endpoint, body: dict[str, Any], concurrency: int, requests: int,
               duration: float, grace: float, progress: Callable[[str], None] | None
               ) -> tuple[list[Sample], float, float, str]:
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=min(MAX_THREADS, concurrency))
    samples: list[Sample] = []
    start = time.perf_counter()
    stop_at = start + duration
    slots = asyncio.Semaphore(concurrency)
    last_launch = start
    stopped_by = "requests"
    tasks: list[asyncio.Future[None]] = []
    timeout = duration + grace

    async def report() -> None:
        while True:
            await asyncio.sleep(PROGRESS_S)
            if progress is not None:
                done = sum(1 for s in samples if s.finished is not None)
                tokens = sum(s.tokens for s in samples)
                progress(f"load: {done}/{requests} done, {len(samples) - done} in flight, "
                         f"{tokens:,} tokens, {time.perf_counter() - start:.0f}s")

    reporter = asyncio.create_task(report())
    try:
        for _ in range(requests):
            try:
                await asyncio.wait_for(slots.acquire(),
                                       timeout=max(0.0, stop_at - time.perf_counter()))
            except asyncio.TimeoutError:
                stopped_by = "duration"
                break
            if time.perf_counter() >= stop_at:
                slots.release()
                stopped_by = "duration"
                break
            sample = Sample(started=time.perf_counter())
            last_launch = sample.started
            samples.append(sample)
            future = loop.run_in_executor(executor, _one, endpoint, body, sample, timeout)
            future.add_done_callback(lambda _f: slots.release())
            tasks.append(future)
        remaining = stop_at + grace - time.perf_counter()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=max(0.0, remaining))
            if pending:
                for s in samples:
                    if s.finished is None:
                        s.cut = True
                endpoint.abort_all()
                await asyncio.wait(pending, timeout=30)
    finally:
        reporter.cancel()
        executor.shutdown(wait=False, cancel_futures=True)
    return samples, start, last_launch, stopped_by


def run_load(endpoint: Endpoint, model: str, *, concurrency: int, requests: int,
             prompt_tokens: int, output_tokens: int, duration: float, grace: float = 30.0,
             progress: Callable[[str], None] | None = None) -> LoadResult:
    words, _measured = calibrate(endpoint, model, prompt_tokens)
    body = payload(model, prompt_text(words), output_tokens, stream=True)
    samples, start, last_launch, stopped_by = asyncio.run(
        _run(endpoint, body, concurrency, requests, duration, grace, progress))
    end = max((s.finished or start for s in samples), default=start)
    rate, window = steady_rate(samples, concurrency, last_launch)
    return LoadResult(concurrency, prompt_tokens, output_tokens, samples, end - start, rate,
                      window, stopped_by)


def steady_rate(samples: list[Sample], concurrency: int, last_launch: float
                ) -> tuple[float | None, float]:
    """Output tokens/s while every slot was decoding: from the first wave's last first token
    to the last launch (after it the load drains). Falls back to the whole run when that window
    is too short to mean anything."""
    first_wave = [s for s in samples[:concurrency] if s.token_times]
    times = sorted(t for s in samples for t in _spread(s))
    if not times:
        return None, 0.0
    begin = max(s.token_times[0] for s in first_wave) if first_wave else times[0]
    end = last_launch if len(samples) > concurrency else min(
        (s.token_times[-1] for s in samples if s.token_times), default=times[-1])
    whole = times[-1] - times[0]
    if end - begin < max(1.0, 0.2 * whole):
        begin, end = times[0], times[-1]
    if end <= begin:
        return None, 0.0
    count = sum(1 for t in times if begin <= t <= end)
    return count / (end - begin), end - begin


def _spread(sample: Sample) -> list[float]:
    """Token arrival times, a chunk carrying several tokens counted as that many."""
    times = sample.token_times
    if not times or sample.output_tokens is None or sample.output_tokens <= len(times):
        return list(times)
    extra = sample.output_tokens - len(times)
    per = extra / len(times)
    out: list[float] = []
    carried = 0.0
    for t in times:
        carried += per
        whole = int(carried)
        carried -= whole
        out += [t] * (1 + whole)
    return out
