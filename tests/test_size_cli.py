"""`llmplan size`: the JSON contract, the fewest GPUs that fit, and a clear 'does not fit'."""

from __future__ import annotations

import json

import pytest

from llmplan.cli import main

KEYS = {"parameters", "weights_gib_per_gpu", "kv_bytes_per_token_per_gpu", "kv_cache_gib_per_gpu",
        "kv_tokens", "max_concurrency", "fits", "gpu", "gpu_count", "tensor_parallel",
        "pipeline_parallel", "reasons"}


def size(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["size", *argv, "--format", "json"]) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_json_has_the_documented_keys_and_types(capsys: pytest.CaptureFixture[str]) -> None:
    data = size(capsys, "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "H100",
                "--context", "8192")
    assert set(data) >= KEYS
    assert isinstance(data["parameters"], int) and data["parameters"] == 8_030_261_248
    assert isinstance(data["kv_tokens"], int) and isinstance(data["max_concurrency"], float)
    # Llama-3.1-8B: 2 x 32 layers x 8 KV heads x 128 x 2 bytes
    assert data["kv_bytes_per_token_per_gpu"] == 131_072
    assert data["max_concurrency"] == pytest.approx(data["kv_tokens"] / 8192, abs=0.01)
    assert data["fits"] is True and data["reasons"] == []


def test_fewest_gpus_that_fit(capsys: pytest.CaptureFixture[str]) -> None:
    # 70B bf16 (131 GiB of weights) needs more than one 80 GB GPU; two hold it with ~1.7 GiB of
    # KV each (about 11k tokens), enough for one 8k request but not for eight, which take four.
    one = size(capsys, "--model", "meta-llama/Llama-3.1-70B-Instruct", "--gpu", "H100-80GB",
               "--context", "8192", "--concurrency", "1")
    assert (one["gpu_count"], one["tensor_parallel"], one["fits"]) == (2, 2, True)
    eight = size(capsys, "--model", "meta-llama/Llama-3.1-70B-Instruct", "--gpu", "H100-80GB",
                 "--context", "8192", "--concurrency", "8")
    assert (eight["gpu_count"], eight["tensor_parallel"], eight["fits"]) == (4, 4, True)


def test_does_not_fit_says_why_and_what_would(capsys: pytest.CaptureFixture[str]) -> None:
    data = size(capsys, "--model", "meta-llama/Llama-3.1-70B-Instruct", "--gpu", "L4",
                "--gpus", "1")
    assert data["fits"] is False
    assert "exceed" in str(data["reasons"])
    assert any("L4" in s for s in data["suggestions"])  # type: ignore[attr-defined]


def test_tp_over_kv_heads_is_valid_and_replicates(capsys: pytest.CaptureFixture[str]) -> None:
    # Llama-3.1-70B has 8 KV heads: TP=16 over two nodes keeps one head per rank.
    data = size(capsys, "--model", "meta-llama/Llama-3.1-70B-Instruct", "--gpu", "L4",
                "--tp", "8", "--pp", "2")
    assert data["kv_bytes_per_token_per_gpu"] == 2 * 40 * 1 * 128 * 2
