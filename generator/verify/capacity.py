"""The engine's own capacity figures, read from its introspection endpoints, against the plan's.

vLLM publishes its KV cache in Prometheus text (``/metrics``: ``vllm:cache_config_info``, whose
labels are every field of its cache config), SGLang in JSON (``/server_info``, before 0.5
``/get_server_info``), TGI partly in ``/info`` and, since 2.3.0, the batch token budget only as the
``tgi_batch_max_total_tokens`` gauge on ``/metrics``. Formats as of vLLM 0.34.0, SGLang 0.5.23 and
TGI 3.3.7; see ``docs/verify.md`` for where each changed.

Standard library only: the same readers serve tests' fake servers and real engines alike.
:mod:`llmplan.verify.node` is the boot script's compact copy of the KV-cache part; tests hold the
two to the same figures.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# GET path -> body text (None: the path does not exist, HTTP 404/405). Other failures raise.
Getter = Callable[[str], str | None]

STATUS_ORDER = {"pass": 0, "skip": 1, "warn": 2, "fail": 3}
ENGINE_DISPLAY = {"vllm": "vLLM", "sglang": "SGLang", "tgi": "TGI", "trtllm": "TensorRT-LLM"}
# Engines whose capacity figures llmplan can read.
READABLE_ENGINES = ("vllm", "sglang", "tgi")


class CapacityUnavailable(Exception):
    """The endpoint publishes no capacity figure llmplan can read (the check is skipped)."""


# --- Prometheus text format


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\S+)?\s*$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def parse_prometheus(text: str) -> list[Sample]:
    """Samples of a Prometheus text exposition; lines that do not parse are skipped."""
    out: list[Sample] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            continue
        name, raw_labels, raw_value = match.groups()
        try:
            value = float(raw_value)
        except ValueError:
            continue
        labels: dict[str, str] = {}
        if raw_labels:
            for key, val in _LABEL.findall(raw_labels[1:-1]):
                labels[key] = re.sub(r"\\[\\\"n]", lambda m: _UNESCAPE[m.group(0)], val)
        out.append(Sample(name, labels, value))
    return out


def _number(text: str | None) -> float | None:
    """A label or JSON value as a finite number; None for "None", "", null, NaN."""
    if text is None or isinstance(text, bool):
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


# --- what an engine says about itself


@dataclass(frozen=True)
class ReplicaFigures:
    """One engine instance (a data-parallel rank is one): what it says it can hold."""

    kv_tokens: int | None
    source: str  # where kv_tokens came from, e.g. "vllm:cache_config_info{kv_cache_size_tokens}"
    max_concurrency: float | None = None  # the engine's own figure, at its own max length
    max_running: int | None = None  # requests it admits at once (None: no limit published)


@dataclass(frozen=True)
class EngineFigures:
    engine: str
    replicas: tuple[ReplicaFigures, ...]
    version: str | None = None
    context: int | None = None  # the longest request it accepts (prompt + output)
    memory_fraction: float | None = None
    kv_cache_dtype: str | None = None
    running: float | None = None
    waiting: float | None = None
    kv_usage: float | None = None  # 0..1
    preemptions: float | None = None  # counter since start
    notes: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        version = f" {self.version}" if self.version else ""
        return ENGINE_DISPLAY.get(self.engine, self.engine) + version

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "version": self.version,
            "replicas": [
                {"kv_tokens": r.kv_tokens, "source": r.source,
                 "max_concurrency": r.max_concurrency, "max_running": r.max_running}
                for r in self.replicas
            ],
            "context": self.context,
            "memory_fraction": self.memory_fraction,
            "kv_cache_dtype": self.kv_cache_dtype,
            "running": self.running,
            "waiting": self.waiting,
            "kv_usage": self.kv_usage,
            "preemptions": self.preemptions,
            "notes": list(self.notes),
        }


def _sum(samples: list[Sample], name: str) -> float | None:
    values = [s.value for s in samples if s.name == name]
    return sum(values) if values else None


def vllm_figures(metrics: str) -> EngineFigures:
    """vLLM ``/metrics``: one ``vllm:cache_config_info`` series per engine (data-parallel rank)."""
    samples = parse_prometheus(metrics)
    infos = [s for s in samples if s.name == "vllm:cache_config_info"]
    if not infos:
        raise CapacityUnavailable("vLLM /metrics has no vllm:cache_config_info series")
    infos.sort(key=lambda s: _int(s.labels.get("engine")) or 0)
    replicas = []
    for info in infos:
        labels = info.labels
        # 0.34+ states the group-aware capacity; blocks x block size is wrong for hybrid models.
        tokens = _int(labels.get("kv_cache_size_tokens"))
        source = "vllm:cache_config_info{kv_cache_size_tokens}"
        if tokens is None:
            blocks, size = _int(labels.get("num_gpu_blocks")), _int(labels.get("block_size"))
            tokens = blocks * size if blocks is not None and size is not None else None
            source = "vllm:cache_config_info{num_gpu_blocks x block_size}"
        replicas.append(ReplicaFigures(
            kv_tokens=tokens, source=source,
            max_concurrency=_number(labels.get("kv_cache_max_concurrency"))))
    first = infos[0].labels
    usage = [s.value for s in samples
             if s.name in ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")]
    dtype = first.get("cache_dtype")
    return EngineFigures(
        engine="vllm",
        replicas=tuple(replicas),
        memory_fraction=_number(first.get("gpu_memory_utilization")),
        kv_cache_dtype=dtype if dtype not in (None, "None") else None,
        running=_sum(samples, "vllm:num_requests_running"),
        waiting=_sum(samples, "vllm:num_requests_waiting"),
        kv_usage=max(usage) if usage else None,
        preemptions=_sum(samples, "vllm:num_preemptions_total"),
    )


def sglang_figures(info: dict[str, Any]) -> EngineFigures:
    """SGLang ``/server_info``: resolved server args, the scheduler's ``max_total_num_tokens``
    (the KV pool in tokens) and, per data-parallel rank, ``internal_states``."""
    top = _int(info.get("max_total_num_tokens"))
    states = [s for s in info.get("internal_states") or [] if isinstance(s, dict)]
    replicas = []
    for state in states:
        memory = state.get("memory_usage")
        tokens = _int(memory.get("token_capacity")) if isinstance(memory, dict) else None
        source = "internal_states[].memory_usage.token_capacity"
        if tokens is None:
            tokens, source = top, "max_total_num_tokens"
        replicas.append(ReplicaFigures(
            kv_tokens=tokens, source=source,
            max_running=_int(state.get("effective_max_running_requests_per_dp"))))
    if not replicas:
        if top is None:
            raise CapacityUnavailable("SGLang server info has no max_total_num_tokens")
        ranks = max(1, _int(info.get("dp_size")) or 1)
        # Older servers state only the requested limit, for all data-parallel ranks together.
        requested = _int(info.get("max_running_requests"))
        per_rank = requested // ranks if requested else None
        replicas = [ReplicaFigures(top, "max_total_num_tokens", max_running=per_rank)] * ranks
    context = _int(info.get("context_length"))
    fraction = _number(info.get("mem_fraction_static"))
    dtype = info.get("kv_cache_dtype")
    return EngineFigures(
        engine="sglang",
        replicas=tuple(replicas),
        version=str(info["version"]) if info.get("version") else None,
        context=context,
        memory_fraction=fraction,
        kv_cache_dtype=str(dtype) if dtype else None,
    )


def tgi_figures(info: dict[str, Any], metrics: str | None) -> EngineFigures:
    """TGI ``/info`` (limits per request) and ``/metrics`` (the batch token budget since 2.3.0;
    older servers put ``max_batch_total_tokens`` in ``/info``)."""
    samples = parse_prometheus(metrics) if metrics else []
    gauge = _sum(samples, "tgi_batch_max_total_tokens")
    notes: list[str] = []
    if gauge is not None:
        tokens: int | None = int(gauge)
        source = "tgi_batch_max_total_tokens"
    else:
        tokens, source = _int(info.get("max_batch_total_tokens")), "/info max_batch_total_tokens"
        if tokens is None:
            notes.append("TGI states no batch token budget: /metrics has no "
                         "tgi_batch_max_total_tokens and /info no max_batch_total_tokens")
    replica = ReplicaFigures(tokens, source, max_running=_int(info.get("max_concurrent_requests")))
    return EngineFigures(
        engine="tgi",
        replicas=(replica,),
        version=str(info["version"]) if info.get("version") else None,
        context=_int(info.get("max_total_tokens")),
        running=_sum(samples, "tgi_batch_current_size"),
        waiting=_sum(samples, "tgi_queue_size"),
        notes=tuple(notes),
    )


def _json(text: str | None, path: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CapacityUnavailable(f"{path} is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise CapacityUnavailable(f"{path} is not a JSON object")
    return doc


def detect_engine(metrics: str | None, get: Getter) -> str | None:
    """Which engine answers, from its metric prefixes or its info endpoints."""
    if metrics:
        for engine, prefix in (("vllm", "vllm:"), ("sglang", "sglang:"), ("tgi", "tgi_")):
            if re.search(r"^" + re.escape(prefix), metrics, re.M):
                return engine
    info = _json(get("/info"), "/info")
    if info is not None and ("max_total_tokens" in info and "model_id" in info):
        return "tgi"
    for path in ("/server_info", "/get_server_info"):
        doc = _json(get(path), path)
        if doc is not None and "max_total_num_tokens" in doc:
            return "sglang"
    return None


def read_figures(engine: str | None, get: Getter) -> EngineFigures:
    """The capacity figures of the engine behind ``get`` (``engine`` None: detect it)."""
    metrics = get("/metrics")
    # What answers decides (a plan for vLLM pointed at a TGI server is a finding, not a parse
    # error); the caller's engine stands when nothing tells.
    engine = detect_engine(metrics, get) or engine
    if engine is None:
        raise CapacityUnavailable(
            "no engine capacity endpoint answered (/metrics, /info, /server_info)")
    if engine == "vllm":
        if metrics is None:
            raise CapacityUnavailable("vLLM serves no /metrics here (404): started with "
                                      "--disable-log-stats, or a proxy hides it")
        return vllm_figures(metrics)
    if engine == "sglang":
        for path in ("/server_info", "/get_server_info"):
            doc = _json(get(path), path)
            if doc is not None:
                return sglang_figures(doc)
        raise CapacityUnavailable("SGLang serves neither /server_info nor /get_server_info")
    if engine == "tgi":
        info = _json(get("/info"), "/info")
        if info is None:
            raise CapacityUnavailable("TGI serves no /info here (404)")
        return tgi_figures(info, metrics)
    readable = ", ".join(ENGINE_DISPLAY[e] for e in READABLE_ENGINES)
    raise CapacityUnavailable(f"llmplan cannot read the capacity of {engine} (it reads {readable})")


# --- against the plan


@dataclass(frozen=True)
class Expected:
    """What the plan predicted for one replica, and what the workload asks of it."""

    engine: str
    context: int
    kv_tokens: int  # per replica
    max_concurrency: float  # per replica, at ``context`` tokens per request
    demand: float  # requests in flight per replica under the workload's concurrency
    replicas: int  # in the whole plan
    replicas_per_endpoint: int = 1  # data-parallel ranks behind one server
    memory_fraction: float | None = None
    kv_cache_dtype: str | None = None


@dataclass(frozen=True)
class Row:
    figure: str
    plan: str | None  # what the plan (or a published source) says
    measured: str | None  # what the endpoint says or did
    deviation: float | None  # measured / plan - 1
    status: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"figure": self.figure, "plan": self.plan, "measured": self.measured,
                "deviation": None if self.deviation is None else round(self.deviation, 4),
                "status": self.status, "note": self.note}


@dataclass
class Verdict:
    status: str
    summary: str
    rows: list[Row] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    kv_tokens: int | None = None  # the engine's, per replica (the smallest)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "summary": self.summary, "kv_tokens": self.kv_tokens,
                "rows": [r.to_json() for r in self.rows], "advice": list(self.advice)}


def worst(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: STATUS_ORDER[s]) if statuses else "skip"


def _pct(value: float) -> str:
    return f"{value * 100:+.1f}%"


_FRACTION_FLAG = {"vllm": "--gpu-memory-utilization", "sglang": "--mem-fraction-static",
                  "tgi": "--cuda-memory-fraction"}


def compare(expected: Expected, figures: EngineFigures, tolerance: float = 0.10) -> Verdict:
    """The engine's figures against the plan's; KV cache more than ``tolerance`` below fails."""
    rows: list[Row] = []
    advice: list[str] = []
    engine_name = figures.display
    if figures.engine != expected.engine:
        plan_engine = ENGINE_DISPLAY.get(expected.engine, expected.engine)
        rows.append(Row("engine", plan_engine, engine_name, None, "fail",
                        "the plan's figures are for another engine"))
        advice.append(f"the endpoint runs {engine_name} but the plan was made for {plan_engine}: "
                      f"re-plan with --engine {figures.engine} or deploy {plan_engine}")
    else:
        rows.append(Row("engine", ENGINE_DISPLAY.get(expected.engine, expected.engine),
                        engine_name, None, "pass"))
    known = [r.kv_tokens for r in figures.replicas if r.kv_tokens is not None]
    if not known:
        rows.append(Row("KV-cache tokens per replica", f"{expected.kv_tokens:,}", None, None,
                        "skip", "; ".join(figures.notes) or "the engine states no KV capacity"))
        return Verdict(worst([r.status for r in rows]),
                       "the engine states no KV-cache capacity", rows, advice)
    kv = min(known)
    deviation = kv / expected.kv_tokens - 1 if expected.kv_tokens > 0 else None
    kv_status = "pass"
    note = figures.replicas[0].source
    if len(set(known)) > 1:
        note += f"; replicas differ ({', '.join(f'{k:,}' for k in known)}), the smallest counts"
    if deviation is not None and deviation < -tolerance:
        kv_status = "fail"
        advice.append(_kv_advice(expected, figures, kv, deviation))
    elif deviation is not None and deviation > tolerance:
        kv_status = "warn"
        advice.append(f"the engine holds {_pct(deviation)} more KV cache than planned: the plan "
                      "is conservative here (a smaller instance or fewer replicas may do)")
    rows.append(Row("KV-cache tokens per replica", f"{expected.kv_tokens:,}", f"{kv:,}",
                    deviation, kv_status, note))

    if expected.memory_fraction is not None and figures.memory_fraction is not None:
        same = abs(expected.memory_fraction - figures.memory_fraction) < 0.005
        rows.append(Row(f"memory fraction ({_FRACTION_FLAG.get(figures.engine, 'flag')})",
                        f"{expected.memory_fraction:g}", f"{figures.memory_fraction:g}", None,
                        "pass" if same else "warn",
                        "" if same else "the engine runs with another memory fraction"))

    if figures.context is not None:
        short = figures.context < expected.context
        rows.append(Row("max tokens per request", f"{expected.context:,}",
                        f"{figures.context:,}", figures.context / expected.context - 1,
                        "fail" if short else "pass",
                        "requests as long as the plan's are refused" if short else ""))
        if short:
            flag = {"vllm": "--max-model-len", "sglang": "--context-length",
                    "tgi": "--max-total-tokens"}.get(figures.engine, "the context flag")
            advice.append(f"the engine accepts at most {figures.context:,} tokens per request, "
                          f"the plan {expected.context:,}: set {flag} {expected.context}")

    concurrency = kv / expected.context
    conc_dev = (concurrency / expected.max_concurrency - 1 if expected.max_concurrency > 0
                else None)
    starved = concurrency < expected.demand
    rows.append(Row(f"max concurrency at {expected.context:,} tokens",
                    f"{expected.max_concurrency:.1f}", f"{concurrency:.1f}", conc_dev,
                    "fail" if starved else "pass",
                    f"the workload puts {expected.demand:g} requests on each replica"))
    if starved:
        needed = math.ceil(expected.demand * expected.replicas / max(concurrency, 1e-9))
        advice.append(
            f"each replica holds {concurrency:.1f} full-length requests but the workload puts "
            f"{expected.demand:g} on it: longer requests queue or get preempted. Run "
            f"{needed} replicas, or raise the KV cache (see above)")

    limits = [r.max_running for r in figures.replicas if r.max_running is not None]
    if limits:
        limit = min(limits)
        low = limit < expected.demand
        rows.append(Row("requests admitted per replica", f"{math.ceil(expected.demand)}",
                        f"{limit:,}", None, "fail" if low else "pass",
                        "requests beyond it wait or are refused" if low else ""))
        if low:
            flag = {"sglang": "--max-running-requests",
                    "tgi": "--max-concurrent-requests"}.get(figures.engine, "its limit")
            advice.append(f"the engine admits {limit} requests per replica, the workload needs "
                          f"{math.ceil(expected.demand)}: raise {flag}")

    if len(figures.replicas) != expected.replicas_per_endpoint:
        rows.append(Row("replicas behind this endpoint", f"{expected.replicas_per_endpoint}",
                        f"{len(figures.replicas)}", None, "warn",
                        "data-parallel ranks differ from the plan"))

    status = worst([r.status for r in rows])
    summary = (f"{engine_name}: {kv:,} KV-cache tokens per replica vs {expected.kv_tokens:,} "
               f"planned" + (f" ({_pct(deviation)})" if deviation is not None else "")
               + f", {concurrency:.1f} requests of {expected.context:,} tokens")
    return Verdict(status, summary, rows, advice, kv)


def _kv_advice(expected: Expected, figures: EngineFigures, kv: int, deviation: float) -> str:
    flag = _FRACTION_FLAG.get(figures.engine, "the memory fraction")
    parts = [f"the engine holds {kv:,} KV-cache tokens per replica, {_pct(deviation)} against "
             f"the plan's {expected.kv_tokens:,}"]
    if (figures.memory_fraction is not None and expected.memory_fraction is not None
            and figures.memory_fraction + 0.005 < expected.memory_fraction):
        parts.append(f"it runs with {flag} {figures.memory_fraction:g}, the plan assumed "
                     f"{expected.memory_fraction:g}: set it to {expected.memory_fraction:g}")
    else:
        parts.append(f"raise {flag}, check that nothing else holds GPU memory, or use an fp8 "
                     "KV cache")
    plan_fp8 = (expected.kv_cache_dtype or "").startswith("fp8")
    engine_fp8 = (figures.kv_cache_dtype or "").startswith("fp8")
    if plan_fp8 and not engine_fp8 and figures.kv_cache_dtype is not None:
        parts.append(f"the plan assumed an fp8 KV cache, the engine runs {figures.kv_cache_dtype}")
    parts.append("or re-plan with the engine's figure (llmplan plan --memory-fraction ...)")
    return "; ".join(parts)
