"""``llmplan plan`` with a target load, end to end through the CLI."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from llmplan.cli import main

LOAD = [
    "plan",
    "--model",
    "meta-llama/Llama-3.1-70B-Instruct",
    "--rps",
    "40",
    "--prompt-tokens",
    "1000",
    "--output-tokens",
    "300",
    "--tpot-ms",
    "50",
    "--pricing",
    "snapshot",
]


def _plan(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    assert main([*LOAD, *extra, "--format", "json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_replicas_meet_the_load_and_say_why(capsys: pytest.CaptureFixture[str]) -> None:
    data = _plan(capsys)
    assert data["workload"]["required_output_tokens_per_s"] == pytest.approx(12_000)
    best = data["candidates"][0]
    assert best["tpot_ms"] <= 50
    # R replicas at N tok/s each cover 12,000 tok/s, and R - 1 would not (before node rounding).
    assert best["replicas_for_load"] == math.ceil(12_000 / best["tokens_per_second"] - 1e-6)
    assert best["replicas"] >= best["replicas_for_load"] >= 2
    assert best["replicas"] * best["tokens_per_second"] >= 12_000 * 0.999
    assert data["explanation"].startswith("needs 12,000 output tok/s; each replica")
    assert f"-> {best['replicas_for_load']} replicas" in data["explanation"]
    for c in data["candidates"]:
        assert c["tpot_ms"] <= 50
        assert c["replicas"] * c["tokens_per_second"] >= 12_000 * 0.999
    prices = [c["hourly_usd"] for c in data["candidates"]]
    assert prices == sorted(prices)


def test_explanation_on_stderr_for_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(LOAD) == 0
    out, err = capsys.readouterr()
    assert "needs 12,000 output tok/s" in err
    assert "TPOT" in out and "$/Mtok" in out


def test_unreachable_tpot_rejects_with_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    data = _plan(capsys, "--tpot-ms", "8")
    assert all(c["tpot_ms"] <= 8 for c in data["candidates"])
    assert any("misses the 8 ms target" in why for why in data["rejected"].values())


def test_ttft_target_rejects_slow_prefill(capsys: pytest.CaptureFixture[str]) -> None:
    data = _plan(capsys, "--ttft-ms", "60")
    assert all(c["ttft_ms"] <= 60 for c in data["candidates"])
    assert any("TTFT" in why for why in data["rejected"].values())


def test_objectives_rank_differently(capsys: pytest.CaptureFixture[str]) -> None:
    latency = _plan(capsys, "--objective", "latency")["candidates"]
    assert [c["tpot_ms"] for c in latency] == sorted(c["tpot_ms"] for c in latency)
    per_token = _plan(capsys, "--objective", "cost-per-token")["candidates"]
    usd = [c["usd_per_million_tokens"] for c in per_token]
    assert usd == sorted(usd)


def test_without_load_every_candidate_has_speeds(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["plan", "--model", "meta-llama/Llama-3.1-8B", "--concurrency", "8"]
    assert main([*args, "--pricing", "snapshot", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["explanation"] is None
    # Default lengths: 3/4 and 1/4 of the 4,096-token context.
    assert (data["workload"]["prompt_tokens"], data["workload"]["output_tokens"]) == (3072, 1024)
    for c in data["candidates"]:
        assert c["batch_per_replica"] == math.ceil(8 / c["replicas"])
        assert c["tokens_per_second"] > 0 and c["tpot_ms"] > 0 and c["usd_per_million_tokens"] > 0
