"""``llmplan verify`` capacity: reading each engine's own figures (current and older formats, from
the files in tests/fixtures/verify) and judging them against the plan's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmplan.verify import capacity
from llmplan.verify.capacity import (
    CapacityUnavailable,
    EngineFigures,
    Expected,
    ReplicaFigures,
    compare,
    parse_prometheus,
    read_figures,
    sglang_figures,
    tgi_figures,
    vllm_figures,
)

FIXTURES = Path(__file__).parent / "fixtures" / "verify"


def _text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _json(name: str) -> dict:
    return json.loads(_text(name))


# --- Prometheus text


def test_prometheus_labels_escapes_timestamps_and_comments() -> None:
    text = ('# HELP x A metric.\n# TYPE x gauge\n'
            'x{a="1",b="say \\"hi\\"",c="back\\\\slash",d="two\\nlines"} 3.5 1700000000000\n'
            'y 7\nz{} NaN\nbroken line here\n')
    samples = {s.name: s for s in parse_prometheus(text)}
    assert samples["x"].labels == {"a": "1", "b": 'say "hi"', "c": "back\\slash",
                                   "d": "two\nlines"}
    assert samples["x"].value == 3.5
    assert samples["y"].value == 7
    assert "z" in samples and samples["z"].value != samples["z"].value  # NaN
    assert "broken" not in samples


# --- vLLM


def test_vllm_legacy_real_capture_counts_blocks_times_block_size() -> None:
    # The only real capture: V0-era labels, no kv_cache_size_tokens, no engine label.
    figures = vllm_figures(_text("vllm_metrics_legacy_real.prom"))
    assert [r.kv_tokens for r in figures.replicas] == [81767 * 16]
    assert figures.replicas[0].source.endswith("{num_gpu_blocks x block_size}")
    assert figures.memory_fraction == 0.9
    assert figures.running == 0.0
    assert figures.kv_cache_dtype == "auto"


def test_vllm_034_prefers_the_group_aware_capacity_label() -> None:
    text = _text("vllm_metrics_0.34_constructed.prom").replace(
        'kv_cache_size_tokens="1978368"', 'kv_cache_size_tokens="1500000"')
    figures = vllm_figures(text)
    # Hybrid models: num_gpu_blocks x block_size (1,978,368 here) overstates the capacity.
    assert figures.replicas[0].kv_tokens == 1_500_000
    assert figures.replicas[0].max_concurrency == pytest.approx(15.1)
    assert figures.memory_fraction is None  # "None" in 0.34: resolved at run time
    assert figures.running == 3.0 and figures.kv_usage == pytest.approx(0.042)


def test_vllm_data_parallel_ranks_are_replicas_in_engine_order() -> None:
    base = _text("vllm_metrics_0.34_constructed.prom")
    info = next(line for line in base.splitlines() if line.startswith("vllm:cache_config_info"))
    second = info.replace('engine="0"', 'engine="1"').replace('"1978368"', '"1900000"')
    figures = vllm_figures(base.replace(info, second + "\n" + info))
    assert [r.kv_tokens for r in figures.replicas] == [1978368, 1900000]


def test_vllm_without_cache_config_info_is_unavailable() -> None:
    with pytest.raises(CapacityUnavailable, match="cache_config_info"):
        vllm_figures("vllm:num_requests_running 0\n")


# --- SGLang


def test_sglang_server_info_reads_token_capacity_and_admission_per_rank() -> None:
    figures = sglang_figures(_json("sglang_server_info_0.5.23_constructed.json"))
    assert figures.engine == "sglang" and figures.version == "0.5.23"
    assert [(r.kv_tokens, r.max_running) for r in figures.replicas] == [(466000, 2048)]
    assert figures.memory_fraction == 0.88
    assert figures.context is None  # requested null: the model's own length applies


def test_sglang_older_info_without_internal_states_splits_the_limit_over_ranks() -> None:
    doc = _json("sglang_server_info_0.5.23_constructed.json")
    doc.pop("internal_states")
    doc.update(dp_size=2, max_running_requests=64, context_length=8192)
    figures = sglang_figures(doc)
    assert [(r.kv_tokens, r.max_running) for r in figures.replicas] == [(466000, 32)] * 2
    assert figures.context == 8192


# --- TGI


def test_tgi_current_reads_the_batch_budget_from_the_metrics_gauge() -> None:
    info = _json("tgi_info_3.3.7_constructed.json")
    assert "max_batch_total_tokens" not in info  # dropped from /info in v2.3.0
    metrics = "# TYPE tgi_batch_max_total_tokens gauge\ntgi_batch_max_total_tokens 123456\n"
    figures = tgi_figures(info, metrics)
    assert figures.replicas[0].kv_tokens == 123456
    assert figures.replicas[0].max_running == 128
    assert figures.context == 2048


def test_tgi_before_2_3_reads_the_budget_from_info() -> None:
    figures = tgi_figures(_json("tgi_info_2.0.4_thirdparty.json"), None)
    assert figures.replicas[0].kv_tokens == 16384
    assert figures.replicas[0].source == "/info max_batch_total_tokens"


def test_tgi_with_neither_says_so() -> None:
    figures = tgi_figures(_json("tgi_info_3.3.7_constructed.json"), None)
    assert figures.replicas[0].kv_tokens is None
    assert "tgi_batch_max_total_tokens" in figures.notes[0]


# --- which engine answers


def _getter(routes: dict[str, str]) -> capacity.Getter:
    return routes.get


def test_read_figures_detects_the_engine_whatever_the_plan_says() -> None:
    tgi = {"/info": _text("tgi_info_2.0.4_thirdparty.json")}
    assert read_figures("vllm", _getter(tgi)).engine == "tgi"
    sglang_old = {"/get_server_info": _text("sglang_server_info_0.5.23_constructed.json")}
    assert read_figures(None, _getter(sglang_old)).replicas[0].kv_tokens == 466000
    vllm = {"/metrics": _text("vllm_metrics_legacy_real.prom")}
    assert read_figures(None, _getter(vllm)).engine == "vllm"


def test_read_figures_without_any_endpoint_is_unavailable() -> None:
    with pytest.raises(CapacityUnavailable, match="no engine capacity endpoint"):
        read_figures(None, _getter({}))
    with pytest.raises(CapacityUnavailable, match="vLLM serves no /metrics"):
        read_figures("vllm", _getter({}))
    with pytest.raises(CapacityUnavailable, match="cannot read the capacity of trtllm"):
        read_figures("trtllm", _getter({}))


# --- judging against the plan


def _expected(**kw: object) -> Expected:
    base = dict(engine="vllm", context=8192, kv_tokens=100_000, max_concurrency=100_000 / 8192,
                demand=8.0, replicas=2, memory_fraction=0.9)
    base.update(kw)
    return Expected(**base)  # type: ignore[arg-type]


def _figures(kv: int | None, engine: str = "vllm", **kw: object) -> EngineFigures:
    replicas = kw.pop("replicas", None) or (ReplicaFigures(kv, "test"),)
    return EngineFigures(engine=engine, replicas=replicas, **kw)  # type: ignore[arg-type]


def test_within_tolerance_passes() -> None:
    verdict = compare(_expected(), _figures(95_000, memory_fraction=0.9), 0.10)
    assert verdict.status == "pass"
    row = next(r for r in verdict.rows if r.figure.startswith("KV-cache"))
    assert row.deviation == pytest.approx(-0.05)
    assert not verdict.advice


def test_kv_cache_short_of_the_plan_fails_with_what_to_change() -> None:
    verdict = compare(_expected(), _figures(80_000, memory_fraction=0.8), 0.10)
    assert verdict.status == "fail"
    assert verdict.kv_tokens == 80_000
    advice = " ".join(verdict.advice)
    assert "--gpu-memory-utilization 0.8" in advice and "set it to 0.9" in advice


def test_more_kv_cache_than_planned_is_a_warning_not_a_failure() -> None:
    verdict = compare(_expected(), _figures(150_000), 0.10)
    assert verdict.status == "warn"
    assert "conservative" in verdict.advice[0]


def test_too_little_for_the_workload_concurrency_fails_with_a_replica_count() -> None:
    # 60,000 tokens hold 7.3 requests of 8,192; the workload puts 8 on each of 2 replicas.
    verdict = compare(_expected(kv_tokens=62_000, max_concurrency=62_000 / 8192),
                      _figures(60_000), 0.10)
    row = next(r for r in verdict.rows if r.figure.startswith("max concurrency"))
    assert row.status == "fail" and verdict.status == "fail"
    assert "Run 3 replicas" in " ".join(verdict.advice)


def test_shorter_context_and_lower_admission_limit_fail() -> None:
    figures = _figures(None, "tgi", replicas=(ReplicaFigures(100_000, "g", max_running=4),),
                       context=4096)
    verdict = compare(_expected(engine="tgi"), figures, 0.10)
    failed = {r.figure for r in verdict.rows if r.status == "fail"}
    assert failed == {"max tokens per request", "requests admitted per replica"}
    advice = " ".join(verdict.advice)
    assert "--max-total-tokens 8192" in advice and "--max-concurrent-requests" in advice


def test_another_engine_than_planned_fails() -> None:
    verdict = compare(_expected(), _figures(100_000, "sglang"), 0.10)
    assert verdict.rows[0].figure == "engine" and verdict.rows[0].status == "fail"
    assert "--engine sglang" in verdict.advice[0]


def test_no_kv_figure_skips_the_comparison() -> None:
    verdict = compare(_expected(engine="tgi"), _figures(None, "tgi", notes=("no budget",)), 0.1)
    assert verdict.status == "skip"
    assert verdict.rows[-1].note == "no budget"


def test_replicas_that_differ_count_the_smallest() -> None:
    figures = _figures(None, replicas=(ReplicaFigures(100_000, "a"), ReplicaFigures(70_000, "a")))
    verdict = compare(_expected(replicas_per_endpoint=2), figures, 0.10)
    assert verdict.kv_tokens == 70_000 and verdict.status == "fail"
