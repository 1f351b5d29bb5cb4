"""`llmplan plan` and `catalog show` end to end: what fits, what does not, and why."""

from __future__ import annotations

import json

import pytest

from llmplan.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_issue_example_picks_a_sensible_instance_per_cloud(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["plan", "--model", "meta-llama/Llama-3.1-70B-Instruct", "--context",
                          "8192", "--concurrency", "32", "--pricing", "snapshot", "--format",
                          "json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert set(data["best"]) == {"aws", "gcp", "azure"}
    for best in data["best"].values():
        # 70B in bf16 (~131 GiB) plus 32 x 8k of KV needs at least 160 GB of GPU memory ...
        assert best["gpu_count"] * best["nodes"] >= 2 and best["max_concurrency"] >= 32
        # ... and the answer is a single machine: no cross-node pipeline for a model this size.
        assert best["nodes"] == best["replicas"]
        assert best["price_source"] == "snapshot" and best["price_as_of"]
    assert data["prices"]["source"] == "snapshot"
    hourly = [c["hourly_usd"] for c in data["candidates"]]
    assert hourly == sorted(hourly)


def test_nothing_fits_names_the_filtered_hardware_and_what_would(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["plan", "--model", "meta-llama/Llama-3.1-405B", "--gpu", "L4",
                          "--max-nodes", "1", "--pricing", "snapshot"], capsys)
    assert code == 2 and out == ""
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: no instance fits meta-llama/Llama-3.1-405B")
    assert "x L4 as TP=8 x PP=1" in line and "would fit: use 48 x L4" in line
    assert "B200" not in line  # the GPU filter's hardware, not the biggest machine overall


def test_catalog_show_rejects_an_unknown_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(["catalog", "show", "--cloud", "aws", "--gpu", "H99",
                           "--pricing", "snapshot"], capsys)
    assert code == 2 and err.strip().endswith("error: unknown GPU 'H99'")
