from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llmplan.cli import main
from llmplan.commands.spec import build_workload, read_spec_file
from llmplan.errors import UsageError
from llmplan.workload import Workload


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "workload.yaml"
    path.write_text(text)
    return str(path)


def test_spec_file_fields_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
model: meta-llama/Llama-3.1-8B-Instruct
precision: fp8
kv_cache_dtype: fp8
context: 8192
concurrency: 16
engine: sglang
gpu_memory_utilization: 0.85
max_num_batched_tokens: 4096
workload: batch
tiers: [spot, on-demand]
clouds: [aws]
regions: [us-east-1]
load: {rps: 2.5, prompt_tokens: 1000, output_tokens: 300, tpot_ms: 50}
""",
    )
    w = build_workload(read_spec_file(path), {})
    assert w.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert (w.precision, w.kv_cache_dtype, w.engine) == ("fp8", "fp8", "sglang")
    assert (w.context, w.concurrency, w.max_batched_tokens) == (8192, 16, 4096)
    assert w.memory_fraction == 0.85
    assert w.tiers == ("spot", "on-demand")
    assert w.load.requests_per_second == 2.5 and w.load.tpot_ms == 50


def test_flags_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "model: a/b\ncontext: 4096\nconcurrency: 4\n")
    w = build_workload(read_spec_file(path), {"context": 8192})
    assert w.context == 8192 and w.concurrency == 4


def test_defaults() -> None:
    w = build_workload({"model": "x"}, {})
    assert w == Workload(model="x")
    assert w.engine == "vllm" and w.kv_cache_dtype == "auto" and w.memory_fraction is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "model: x\nconcurrency: -3\n",
            "workload.yaml: concurrency: must be a positive integer (got -3)",
        ),
        (
            "model: x\nconcurrency: '8'\n",
            "workload.yaml: concurrency: must be a positive integer (got '8')",
        ),
        ("model: x\nprecision: fp4\n", "precision: must be one of fp32, bf16"),
        ("model: x\ngpu_memory_utilization: 1.5\n", "must be a number in (0, 1]"),
        ("model: x\ncontxt: 4096\n", "unknown key 'contxt' (did you mean context?)"),
        ("model: x\ntiers: [on-demand, cheap]\n", "tiers: must be one of on-demand"),
        ("- model: x\n", "must be a mapping of workload fields"),
        ("model: x\nload: {rsp: 3}\n", "load: unknown key 'rsp'"),
    ],
)
def test_bad_spec_names_file_field_and_value(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as err:
        build_workload(read_spec_file(path), {})
    assert message in str(err.value)
    assert str(err.value).startswith(path)


def test_malformed_yaml_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "model: x\ncontext: [1, 2\nconcurrency: 3\n")
    with pytest.raises(UsageError, match=r"workload.yaml:\d+: malformed YAML"):
        read_spec_file(path)


def test_missing_model() -> None:
    with pytest.raises(UsageError, match="model: required"):
        build_workload({}, {})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["size", "--model", "meta-llama/Llama-3.1-8B", "--concurrency", "-3"],
            "error: --concurrency: must be a positive integer (got -3)",
        ),
        (
            ["size", "--model", "meta-llama/Llama-3.1-8B", "--context", "lots"],
            "error: --context: must be an integer (got 'lots')",
        ),
        (["size", "missing.yaml"], "error: missing.yaml: no such file"),
        (
            ["size", "--model", "meta-llama/Llama-3.1-8B", "--engine", "vlm"],
            "error: --engine: must be one of vllm, sglang, tgi, trtllm (got 'vlm')",
        ),
        (["sise"], "error: llmplan: argument COMMAND: invalid choice"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path, "model: [unclosed\n")
    proc = subprocess.run(
        [sys.executable, "-m", "llmplan", "size", bad], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "malformed YAML" in proc.stderr and "Traceback" not in proc.stderr
