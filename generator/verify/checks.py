"""The three checks of ``llmplan verify``, each a :class:`CheckResult` (status, rows, advice,
evidence): the engine's capacity, latency and throughput under load, numerical correctness."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmplan.verify import capacity, evaluation, load
from llmplan.verify.capacity import Row, worst
from llmplan.verify.client import Endpoint, HttpError, Unreachable
from llmplan.verify.expected import Prediction

CHECKS = ("capacity", "latency", "correctness")
Progress = Callable[[str], None]


@dataclass
class CheckResult:
    name: str
    status: str  # pass | warn | fail | skip
    summary: str
    rows: list[Row] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "status": self.status, "summary": self.summary,
                "rows": [r.to_json() for r in self.rows], "advice": self.advice,
                "evidence": self.evidence, **self.data}


def _dev(measured: float, plan: float) -> float | None:
    return measured / plan - 1 if plan > 0 else None


def _same_model(served: str, planned: str) -> bool:
    """Whether a served name is the planned model: the registry names the architecture
    (Llama-3.1-8B), an endpoint often its instruction-tuned checkpoint (Llama-3.1-8B-Instruct)."""
    a = served.strip().lower().rsplit("/", 1)[-1]
    b = planned.strip().lower().rsplit("/", 1)[-1]
    return a.startswith(b) or b.startswith(a)


# --- capacity


def check_capacity(endpoint: Endpoint, prediction: Prediction, served_model: str | None,
                   engine: str | None, tolerance: float) -> CheckResult:
    try:
        figures = capacity.read_figures(engine or prediction.engine, endpoint.get)
    except capacity.CapacityUnavailable as exc:
        return CheckResult("capacity", "skip", f"not checked: {exc}",
                           advice=["expose the engine's metrics/info endpoints to the machine "
                                   "running llmplan verify (vLLM serves /metrics unless "
                                   "--disable-log-stats; SGLang /server_info; TGI /info)"])
    except (HttpError, Unreachable) as exc:
        return CheckResult("capacity", "skip", f"not checked: {exc}")
    verdict = capacity.compare(prediction.capacity(), figures, tolerance)
    rows = list(verdict.rows)
    if served_model and prediction.model and not _same_model(served_model, prediction.model):
        rows.insert(0, Row("model", prediction.model, served_model, None, "warn",
                           "the endpoint serves another name than the plan's model"))
    status = worst([r.status for r in rows])
    evidence = []
    if figures.running is not None or figures.waiting is not None:
        evidence.append(f"at the time of reading: {figures.running or 0:g} running, "
                        f"{figures.waiting or 0:g} waiting"
                        + (f", KV cache {figures.kv_usage * 100:.0f}% used"
                           if figures.kv_usage is not None else ""))
    evidence += list(figures.notes)
    return CheckResult("capacity", status, verdict.summary, rows, verdict.advice, evidence,
                       {"engine_figures": figures.to_json()})


# --- latency and throughput


@dataclass(frozen=True)
class LoadSettings:
    concurrency: int
    requests: int
    duration_s: float
    prompt_tokens: int
    output_tokens: int


def load_settings(prediction: Prediction, concurrency: int | None, requests: int | None,
                  duration: float, prompt_tokens: int | None, output_tokens: int | None
                  ) -> LoadSettings:
    c = concurrency or prediction.concurrency
    return LoadSettings(c, requests or max(2 * c, 8), duration,
                        prompt_tokens or prediction.prompt_tokens,
                        output_tokens or prediction.output_tokens)


def _preemptions(endpoint: Endpoint) -> float | None:
    try:
        text = endpoint.get("/metrics")
    except (HttpError, Unreachable):
        return None
    if not text:
        return None
    values = [s.value for s in capacity.parse_prometheus(text)
              if s.name == "vllm:num_preemptions_total"]
    return sum(values) if values else None


def check_latency(endpoint: Endpoint, prediction: Prediction, model: str,
                  settings: LoadSettings, tolerance: float, progress: Progress | None
                  ) -> CheckResult:
    prediction = prediction.for_load(settings.prompt_tokens, settings.output_tokens,
                                     settings.concurrency)
    before = _preemptions(endpoint)
    try:
        result = load.run_load(endpoint, model, concurrency=settings.concurrency,
                               requests=settings.requests, prompt_tokens=settings.prompt_tokens,
                               output_tokens=settings.output_tokens,
                               duration=settings.duration_s, progress=progress)
    except (HttpError, Unreachable) as exc:
        return CheckResult("latency", "fail", f"the endpoint refused the load test: {exc}",
                           evidence=[str(exc)])
    after = _preemptions(endpoint)
    rows: list[Row] = []
    advice: list[str] = []
    evidence: list[str] = []
    n = len(result.samples)
    failed = result.failed
    cut = sum(1 for s in result.samples if s.cut)
    rows.append(Row("requests (done / failed / cut)", f"{settings.requests}",
                    f"{len(result.completed)} / {len(failed)} / {cut}", None,
                    "fail" if failed else "pass",
                    f"stopped by {result.stopped_by}" if result.stopped_by == "duration" else ""))
    if failed:
        for message, count in result.errors().most_common(5):
            evidence.append(f"{count} x {message}")
        advice.append(f"{len(failed)} of {n} requests failed under the planned load: see the "
                      "evidence; an engine that errors at this concurrency is not serving it")
    prompt_mean = result.mean_tokens("prompt")
    if prompt_mean is not None:
        rows.append(Row("prompt tokens (mean)", f"{settings.prompt_tokens:,}",
                        f"{prompt_mean:,.0f}", _dev(prompt_mean, settings.prompt_tokens), "pass"))
    output_mean = result.mean_tokens("output")
    if output_mean is not None:
        short = output_mean < 0.9 * settings.output_tokens
        rows.append(Row("output tokens (mean)", f"{settings.output_tokens:,}",
                        f"{output_mean:,.0f}", _dev(output_mean, settings.output_tokens),
                        "pass", "the model stopped early (ignore_eos unsupported)" if short
                        else ""))
    tol = tolerance
    ttft = result.percentile("ttft", 50)
    if ttft is not None:
        status, note = "pass", "plan: one prompt's prefill, no queueing"
        if prediction.ttft_target_ms is not None and ttft > prediction.ttft_target_ms:
            status, note = "fail", f"over the load's target {prediction.ttft_target_ms:g} ms"
        elif prediction.ttft_ms and ttft > prediction.ttft_ms * (1 + tol):
            status = "warn"
        p90 = result.percentile("ttft", 90)
        rows.append(Row("TTFT p50 ms", _ms(prediction.ttft_ms), _ms(ttft),
                        _dev(ttft, prediction.ttft_ms or 0), status,
                        note + (f"; p90 {p90:,.0f}" if p90 is not None else "")))
    tpot = result.percentile("tpot", 50)
    if tpot is not None:
        status, note = "pass", ""
        if prediction.tpot_target_ms is not None and tpot > prediction.tpot_target_ms:
            status, note = "fail", f"over the load's target {prediction.tpot_target_ms:g} ms"
            advice.append(f"TPOT {tpot:.1f} ms misses the target {prediction.tpot_target_ms:g} "
                          "ms: add replicas or re-plan with the measured speed")
        elif prediction.tpot_ms and tpot > prediction.tpot_ms * (1 + tol):
            status, note = "fail", f"slower than planned by more than {tol * 100:.0f}%"
            advice.append(f"tokens come {_pct(_dev(tpot, prediction.tpot_ms))} slower than "
                          "planned: check the GPU clocks and interconnect (nvidia-smi), that "
                          "the engine runs the planned precision and parallelism, and the "
                          "replica count for the load")
        p90 = result.percentile("tpot", 90)
        rows.append(Row("TPOT p50 ms", _ms(prediction.tpot_ms), _ms(tpot),
                        _dev(tpot, prediction.tpot_ms or 0), status,
                        (note + "; " if note else "") + (f"p90 {p90:,.1f}" if p90 else "")))
    expected_rate = _expected_rate(prediction, settings.concurrency)
    if result.output_tokens_per_s is not None:
        status, note = "pass", f"steady state over {result.window_s:.0f} s"
        rate = result.output_tokens_per_s
        if expected_rate and rate < expected_rate * (1 - tol):
            status = "fail"
            advice.append(f"the endpoint produces {rate:,.0f} output tokens/s where the plan "
                          f"expects {expected_rate:,.0f} at {settings.concurrency} concurrent "
                          "requests: it will not carry the planned load")
        rows.append(Row("output tokens/s", f"{expected_rate:,.0f}" if expected_rate else None,
                        f"{rate:,.0f}", _dev(rate, expected_rate or 0), status, note))
    if before is not None and after is not None and after > before:
        rows.append(Row("engine preemptions", "0", f"{after - before:g}", None, "warn",
                        "the KV cache ran out under this load"))
        advice.append("vLLM preempted requests during the load test: the KV cache does not "
                      "hold the planned concurrency at these lengths (see the capacity check)")
    status = worst([r.status for r in rows]) if rows else "fail"
    summary = (f"{settings.concurrency} concurrent x {settings.prompt_tokens:,}+"
               f"{settings.output_tokens:,} tokens: TTFT p50 {_ms(ttft)} ms, TPOT p50 "
               f"{_ms(tpot)} ms, {_num(result.output_tokens_per_s)} output tok/s")
    if not result.samples or (not result.completed and not cut):
        summary = f"no request completed ({len(failed)} failed)"
    data = {"load": {"concurrency": settings.concurrency, "requests": settings.requests,
                     "duration_s": settings.duration_s, "elapsed_s": round(result.elapsed_s, 2),
                     "stopped_by": result.stopped_by, "ttft_ms_p50": _round(ttft),
                     "ttft_ms_p90": _round(result.percentile("ttft", 90)),
                     "tpot_ms_p50": _round(tpot),
                     "tpot_ms_p90": _round(result.percentile("tpot", 90)),
                     "output_tokens_per_s": _round(result.output_tokens_per_s),
                     "expected_output_tokens_per_s": _round(expected_rate)}}
    return CheckResult("latency", status, summary, rows, advice, evidence, data)


def _expected_rate(prediction: Prediction, concurrency: int) -> float | None:
    """Output tokens/s the plan expects from the whole endpoint at ``concurrency``: each
    replica's rate at its batch, for as many replicas as the concurrency keeps busy."""
    if not prediction.tokens_per_second or not prediction.batch_per_replica:
        return None
    busy = min(prediction.replicas, concurrency / prediction.batch_per_replica)
    return prediction.tokens_per_second * busy


# --- correctness


def check_correctness(endpoint: Endpoint, model: str, plan_model: str | None, *, items: int,
                      concurrency: int, max_tokens: int, tolerance: float,
                      expected_score: float | None, progress: Progress | None) -> CheckResult:
    chosen = list(evaluation.items()[:items])
    result = evaluation.run_eval(endpoint, model, chosen, concurrency=concurrency,
                                 max_tokens=max_tokens, progress=progress)
    published = None
    if expected_score is None:
        for name in (model, plan_model):
            if name and (published := evaluation.published_score(name)) is not None:
                break
    source = evaluation.set_source()
    n, errors = len(result.scored), len(result.answers) - len(result.scored)
    evidence: list[str] = []
    advice: list[str] = list(result.notes)
    rows: list[Row] = []
    data: dict[str, Any] = {"eval": {
        "benchmark": evaluation.BENCHMARK, "items": len(chosen), "scored": n,
        "correct": result.correct, "set": source["source"], "licence": source["licence"],
        "wrong": [{"index": a.item.index, "expected": a.item.answer, "got": a.got,
                   "cut": a.cut, "tail": a.tail} for a in result.scored if not a.correct],
        "errors": [{"index": a.item.index, "error": a.error} for a in result.answers
                   if a.error]}}
    if errors:
        first = next(a.error for a in result.answers if a.error)
        evidence.append(f"{errors} of {len(chosen)} requests failed, e.g. {first}")
    if n == 0 or result.score is None:
        return CheckResult("correctness", "fail", f"no item answered ({errors} failed)",
                           evidence=evidence, data=data)
    score = result.score
    lo, hi = result.interval
    measured = f"{score * 100:.1f}% [{lo * 100:.1f}, {hi * 100:.1f}]"
    what = f"GSM8K, {n} items, 0-shot CoT chat, temperature 0"
    failed_share = errors / len(chosen)
    req_status = "fail" if failed_share > 0.05 else ("warn" if errors else "pass")
    rows.append(Row("requests answered", f"{len(chosen)}", f"{n}", None, req_status,
                    f"{errors} failed" if errors else ""))
    target = expected_score if expected_score is not None else (
        published.score if published else None)
    if target is None:
        rows.append(Row("score (95% CI)", None, measured, None, "skip",
                        "no published GSM8K score for this model in llmplan's data"))
        data["eval"].update(score=round(score, 4), ci95=[round(lo, 4), round(hi, 4)])
        return CheckResult("correctness", worst([r.status for r in rows]),
                           f"{what}: {measured}; nothing published to compare with "
                           "(--expected-score sets one)", rows, advice, evidence, data)
    p0 = target / 100
    gap = (p0 - score) / p0
    if gap >= tolerance and p0 > hi:
        status = "fail"
        advice.append(
            f"the endpoint scores {score * 100:.1f}% where {target:g}% is published "
            f"({gap * 100:.1f}% lower, outside the 95% interval): check the precision and "
            "quantization, the chat template and the model revision the engine loaded")
    elif gap >= tolerance:
        status = "warn"
        advice.append(f"{gap * 100:.1f}% below the published score, but {n} items cannot tell "
                      "that from chance (the published score is inside the 95% interval)")
    else:
        status = "pass"
    note = "set with --expected-score"
    if published is not None:
        note = f"{published.reported_by}, {published.setting_text()}"
        evidence.append(f"published score: {published.source}"
                        + (f" ({published.note})" if published.note else ""))
    rows.append(Row("score (95% CI)", f"{target:g}%", measured, -gap, status, note))
    if status == "fail":
        wrong = [a for a in result.scored if not a.correct][:5]
        evidence += [f"item {a.item.index}: expected {a.item.answer}, got {a.got or 'no number'}"
                     f"{' (cut at max_tokens)' if a.cut else ''}: ...{a.tail[-100:]}"
                     for a in wrong]
    data["eval"].update(score=round(score, 4), ci95=[round(lo, 4), round(hi, 4)],
                        published=target, published_source=published.source if published
                        else None)
    status = worst([r.status for r in rows])
    summary = f"{what}: {measured} vs {target:g}% published"
    return CheckResult("correctness", status, summary, rows, advice, evidence, data)


def _ms(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 2)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.0f}%"
