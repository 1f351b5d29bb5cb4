"""``llmplan verify --endpoint URL --plan plan.json`` end to end, over real HTTP against the fake
engine (tests/fakes/engine.py) in vLLM, SGLang and TGI formats, current and older; and the ways a
run ends early: no metrics, auth, partial failures, unreachable endpoints, bad input."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from fakes.engine import FakeEngine

from llmplan.cli import main

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
SHORT = ["--prompt-tokens", "64", "--output-tokens", "16", "--eval-items", "30",
         "--duration", "60"]


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real ``llmplan plan --format json`` per engine (AWS, snapshot prices)."""
    import contextlib
    import io

    out = {}
    folder = tmp_path_factory.mktemp("plans")
    for engine in ("vllm", "sglang", "tgi"):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            assert main(["plan", "--model", MODEL, "--context", "4096", "--concurrency", "4",
                         "--engine", engine, "--clouds", "aws", "--pricing", "snapshot",
                         "--format", "json"]) == 0
        path = folder / f"{engine}.json"
        path.write_text(buffer.getvalue())
        out[engine] = path
    return out


def _first(plan: Path) -> dict[str, Any]:
    candidate: dict[str, Any] = json.loads(plan.read_text())["candidates"][0]
    return candidate


def _fake(plan: Path, engine: str, version: str = "current", scale: float = 1.0,
          **kw: Any) -> FakeEngine:
    c = _first(plan)
    return FakeEngine(engine, version=version, kv_tokens=int(c["kv_tokens_per_replica"] * scale),
                      memory_fraction=c["memory_fraction"], context=4096, model=MODEL, **kw)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["verify", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("engine", "version"), [
    ("vllm", "current"), ("vllm", "legacy"), ("sglang", "current"), ("sglang", "legacy"),
    ("tgi", "current"), ("tgi", "legacy"),
])
def test_verify_passes_against_each_engine_format(
        plans: dict[str, Path], capsys: pytest.CaptureFixture[str], engine: str,
        version: str) -> None:
    # vLLM's legacy labels count whole blocks: a few tokens under the plan, within tolerance.
    with _fake(plans[engine], engine, version) as fake:
        code, out, err = _run(capsys, "--endpoint", fake.url, "--plan", str(plans[engine]),
                              *SHORT, "--format", "json")
    report = json.loads(out)
    assert code == 0, err
    assert report["status"] == "pass", json.dumps(report["checks"], indent=1)[:3000]
    capacity, latency, correctness = report["checks"]
    planned = _first(plans[engine])["kv_tokens_per_replica"]
    kv_row = next(r for r in capacity["rows"] if r["figure"] == "KV-cache tokens per replica")
    assert kv_row["plan"] == f"{planned:,}"
    assert int(kv_row["measured"].replace(",", "")) == pytest.approx(planned, abs=16)
    assert latency["load"]["requests"] == 8 and latency["rows"][0]["measured"] == "8 / 0 / 0"
    assert correctness["eval"]["scored"] == 30 and correctness["eval"]["correct"] == 30
    assert "load:" in err or "latency:" in err  # progress on stderr, never stdout


def test_table_output_and_exit_1_when_the_kv_cache_is_short(
        plans: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with _fake(plans["vllm"], "vllm", scale=0.7, tpot_s=0.0) as fake:
        code, out, _err = _run(capsys, "--endpoint", fake.url, "--plan", str(plans["vllm"]),
                               "--checks", "capacity")
    assert code == 1
    assert "capacity: FAIL - vLLM:" in out
    assert "KV-cache tokens per replica" in out and "-30.0%" in out
    assert "result: FAIL (capacity failed)" in out
    assert "what to change:" in out and "--gpu-memory-utilization" in out


def test_markdown_output(plans: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with _fake(plans["sglang"], "sglang") as fake:
        code, out, _ = _run(capsys, "--endpoint", fake.url, "--plan", str(plans["sglang"]),
                            "--checks", "capacity", "--format", "markdown")
    assert code == 0
    assert out.startswith("### llmplan verify: pass")
    assert "| KV-cache tokens per replica |" in out and "|---|" in out


def _synthetic_plan(tmp_path: Path, **candidate: Any) -> Path:
    """A plan whose speeds the fake can be made to miss: short requests, 10 ms TPOT."""
    c = {"cloud": "aws", "region": "us-east-1", "instance_type": "g6e.xlarge", "gpu": "L40S",
         "gpu_count": 1, "nodes": 1, "replicas": 1, "tensor_parallel": 1,
         "pipeline_parallel": 1, "data_parallel_per_node": 1, "tier": "on-demand",
         "max_concurrency": 24.4, "headroom": 6.1, "kv_tokens_per_replica": 100_000,
         "memory_fraction": 0.9, "batch_per_replica": 4, "tokens_per_second": 400.0,
         "tpot_ms": 10.0, "ttft_ms": 50.0}
    c.update(candidate)
    plan = {"model": MODEL, "workload": {"context": 4096, "concurrency": 4, "engine": "vllm",
                                         "prompt_tokens": 64, "output_tokens": 16, "load": None},
            "candidates": [c]}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def test_slower_than_planned_fails_the_latency_check(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = _synthetic_plan(tmp_path)
    with FakeEngine(kv_tokens=100_000, context=4096, tpot_s=0.04) as fake:
        code, out, _ = _run(capsys, "--endpoint", fake.url, "--plan", str(plan), "--checks",
                            "latency", "--format", "json")
    assert code == 1
    check = json.loads(out)["checks"][0]
    tpot = next(r for r in check["rows"] if r["figure"] == "TPOT p50 ms")
    assert tpot["status"] == "fail" and float(tpot["measured"]) >= 35
    rate = next(r for r in check["rows"] if r["figure"] == "output tokens/s")
    assert rate["status"] == "fail"  # 4 requests x 25 tok/s is far from 400
    assert any("slower than planned" in a for a in check["advice"])


def test_faster_than_planned_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = _synthetic_plan(tmp_path, tpot_ms=50.0, tokens_per_second=60.0)
    with FakeEngine(kv_tokens=100_000, context=4096, tpot_s=0.002) as fake:
        code, out, _ = _run(capsys, "--endpoint", fake.url, "--plan", str(plan), "--checks",
                            "latency", "--format", "json")
    check = json.loads(out)["checks"][0]
    assert code == 0 and check["status"] == "pass", check


def test_partial_failures_under_load_fail_with_the_errors_as_evidence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = _synthetic_plan(tmp_path, tpot_ms=50.0, tokens_per_second=60.0)
    with FakeEngine(kv_tokens=100_000, context=4096) as fake:
        # Two calibration requests first, then the load: two 503s and one stream cut short.
        fake.fault("/v1/chat/completions", "ok", "ok", "503", "503", "break")
        code, out, _ = _run(capsys, "--endpoint", fake.url, "--plan", str(plan), "--checks",
                            "latency", "--format", "json")
    check = json.loads(out)["checks"][0]
    assert code == 1 and check["rows"][0]["measured"] == "5 / 3 / 0"
    evidence = " ".join(check["evidence"])
    assert "2 x HTTP 503 on /v1/chat/completions" in evidence
    assert "the stream ended before data: [DONE]" in evidence


def test_the_load_test_stops_at_its_deadline() -> None:
    from llmplan.verify.client import Endpoint
    from llmplan.verify.load import run_load

    # 200 tokens at 50 ms each would take 10 s per request; the run is cut after about 1.5 s.
    with FakeEngine(tpot_s=0.05) as fake:
        started = time.monotonic()
        result = run_load(Endpoint(fake.url), MODEL, concurrency=2, requests=6,
                          prompt_tokens=16, output_tokens=200, duration=1.0, grace=0.5)
        elapsed = time.monotonic() - started
    assert elapsed < 8
    assert result.stopped_by == "duration" and len(result.samples) == 2
    assert all(s.cut and s.error is None and len(s.token_times) > 5 for s in result.samples)
    assert result.percentile("tpot", 50) == pytest.approx(50, rel=0.5)


def test_no_metrics_endpoint_skips_capacity_and_says_why(
        plans: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with _fake(plans["vllm"], "vllm", metrics=False) as fake:
        code, out, _ = _run(capsys, "--endpoint", fake.url, "--plan", str(plans["vllm"]),
                            "--checks", "capacity")
    assert code == 0
    assert "capacity: SKIP - not checked: vLLM serves no /metrics here (404)" in out


def test_engine_other_than_planned_fails(plans: dict[str, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with _fake(plans["vllm"], "tgi") as fake:
        code, out, _ = _run(capsys, "--endpoint", fake.url, "--plan", str(plans["vllm"]),
                            "--checks", "capacity")
    assert code == 1 and "re-plan with --engine tgi or deploy vLLM" in out


def test_auth_required(plans: dict[str, Path], capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["--plan", str(plans["vllm"]), "--checks", "capacity,correctness",
            "--eval-items", "5"]
    with _fake(plans["vllm"], "vllm", api_key="s3cret") as fake:
        code, out, err = _run(capsys, "--endpoint", fake.url, *args)
        assert code == 2 and out == ""
        assert err.strip().splitlines() == [
            f"error: endpoint {fake.url} requires an API key (HTTP 401 on /v1/models): pass "
            "--api-key-env VAR naming the variable that holds it"]
        monkeypatch.setenv("LLM_KEY", "wrong")
        code, _, err = _run(capsys, "--endpoint", fake.url, "--api-key-env", "LLM_KEY", *args)
        assert code == 2 and "the API key was refused (HTTP 401 on /v1/models)" in err
        monkeypatch.setenv("LLM_KEY", "s3cret")
        before = len(fake.requests)
        code, out, err = _run(capsys, "--endpoint", fake.url, "--api-key-env", "LLM_KEY", *args)
        assert code == 0, err
        assert "correctness: PASS" in out
        sent = fake.requests[before:]
        assert sent and all(h.get("Authorization") == "Bearer s3cret" for _m, _p, h, _b in sent)
    monkeypatch.delenv("LLM_KEY")
    code, _, err = _run(capsys, "--endpoint", "http://127.0.0.1:9", "--api-key-env", "LLM_KEY",
                        *args)
    assert code == 2 and "LLM_KEY: that environment variable is not set" in err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_endpoint_is_one_line_and_exit_2(
        plans: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    code, out, err = _run(capsys, "--endpoint", url, "--plan", str(plans["vllm"]))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [f"error: endpoint {url}: connection refused"]


def test_dropped_connection_on_first_contact_is_exit_2(
        plans: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with _fake(plans["vllm"], "vllm") as fake:
        fake.fault("/v1/models", "drop")
        code, _, err = _run(capsys, "--endpoint", fake.url, "--plan", str(plans["vllm"]))
    assert code == 2 and "Traceback" not in err and f"endpoint {fake.url}:" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--plan", "missing.json"], "--plan missing.json: cannot read"),
    (["--plan", "{bad}"], "not JSON"),
    (["--plan", "{notplan}"], "not a plan (expected the output of llmplan plan --format json"),
    (["--plan", "{plan}", "--cloud", "gcp"], "no candidate matches (gcp)"),
    (["--checks", "capacity"], "capacity compare with a plan: pass --plan or --from-terraform"),
    (["--checks", "speed"], "unknown check speed; allowed: capacity, latency, correctness"),
    (["--plan", "{plan}", "--eval-items", "301"], "the bundled set has 300 items"),
    (["--plan", "{plan}", "--tolerance", "150"], "expected 0-100"),
    (["--plan", "{plan}", "--from-terraform", "x"], "not allowed with argument --plan"),
    (["--from-terraform", "{tmp}"], "no .tf files in it"),
])
def test_bad_input_is_one_line_and_exit_2(
        argv: list[str], message: str, plans: dict[str, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "notplan.json").write_text('{"model": "x"}')
    names = {"{bad}": str(tmp_path / "bad.json"), "{notplan}": str(tmp_path / "notplan.json"),
             "{plan}": str(plans["vllm"]), "{tmp}": str(tmp_path)}
    code, out, err = _run(capsys, "--endpoint", "http://127.0.0.1:9",
                          *[names.get(a, a) for a in argv])
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_endpoint_url(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--endpoint", "ftp://host", "--checks", "correctness")
    assert code == 2 and "expected http://HOST[:PORT]" in err


def test_from_terraform_derives_the_plans_figures(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """generate -o writes the tags and flags verify reads back: the same KV cache as the plan."""
    import contextlib
    import io

    from llmplan.verify.expected import from_terraform

    folder = tmp_path / "tf"
    buffer = io.StringIO()
    spec = ["--model", MODEL, "--context", "4096", "--concurrency", "4", "--pricing", "snapshot"]
    with contextlib.redirect_stdout(buffer):
        assert main(["plan", *spec, "--clouds", "aws", "--format", "json"]) == 0
    planned = json.loads(buffer.getvalue())["candidates"][0]
    assert main(["generate", "--cloud", "aws", *spec, "-o", str(folder)]) == 0
    capsys.readouterr()
    prediction = from_terraform(str(folder))
    assert prediction.kv_tokens_per_replica == planned["kv_tokens_per_replica"]
    assert prediction.replicas == planned["replicas"]
    assert prediction.memory_fraction == planned["memory_fraction"]
    assert prediction.tpot_ms == pytest.approx(planned["tpot_ms"], rel=1e-3)
    with FakeEngine(kv_tokens=planned["kv_tokens_per_replica"], context=4096, model=MODEL,
                    memory_fraction=planned["memory_fraction"]) as fake:
        code, out, _ = _run(capsys, "--endpoint", fake.url, "--from-terraform", str(folder),
                            "--checks", "capacity")
    assert code == 0 and "capacity: PASS" in out and f"plan: {folder}: " in out
