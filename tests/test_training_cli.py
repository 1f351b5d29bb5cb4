"""`llmplan size --task finetune|pretrain`: the JSON contract, the table, specs and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmplan.cli import main

KEYS = {
    "task", "model", "parameters", "trainable_parameters", "method", "lora_rank",
    "lora_targets", "optimizer", "training_precision", "micro_batch", "seq_len", "grad_accum",
    "attention", "gpu", "gpu_count", "sharding", "activation_checkpointing", "offload",
    "usable_gib_per_gpu", "weights_gib_per_gpu", "gradients_gib_per_gpu",
    "optimizer_gib_per_gpu", "activations_gib_per_gpu", "logits_gib_per_gpu",
    "overhead_gib_per_gpu", "total_gib_per_gpu", "cpu_offload_gib_per_gpu", "fits", "reasons",
    "suggestions", "rule_of_thumb", "compute",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def size_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    code, out, err = run(capsys, "size", *argv, "--format", "json")
    assert code == 0, err
    data: dict[str, object] = json.loads(out)
    return data


def test_qlora_70b_on_one_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    data = size_json(capsys, "--task", "finetune", "--method", "qlora", "--model",
                     "meta-llama/Llama-3.1-70B-Instruct")
    assert set(data) == KEYS
    assert (data["gpu_count"], data["fits"], data["method"]) == (1, True, "qlora")
    total = sum(data[k] for k in ("weights_gib_per_gpu", "gradients_gib_per_gpu",  # type: ignore[misc]
                                  "optimizer_gib_per_gpu", "activations_gib_per_gpu",
                                  "overhead_gib_per_gpu"))
    assert total == pytest.approx(data["total_gib_per_gpu"], abs=0.05)
    rule = data["rule_of_thumb"]
    assert isinstance(rule, dict) and rule["ratio_to_16bit_weights"] < 1 and rule["why"]


def test_table_shows_the_breakdown_and_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "size", "--task", "finetune", "--method", "qlora", "--model",
                       "meta-llama/Llama-3.1-70B-Instruct", "--tokens", "1e8")
    assert code == 0
    for label in ("weights / GPU", "gradients / GPU", "optimizer states / GPU",
                  "activations / GPU", "framework overhead / GPU", "rule of thumb",
                  "why they differ", "GPU-hours"):
        assert label in out


def test_tokens_give_gpu_hours(capsys: pytest.CaptureFixture[str]) -> None:
    a = size_json(capsys, "--task", "pretrain", "--model", "meta-llama/Llama-3.1-8B",
                  "--tokens", "1e10")["compute"]
    b = size_json(capsys, "--task", "pretrain", "--model", "meta-llama/Llama-3.1-8B",
                  "--dataset-tokens", "5e9", "--epochs", "2")["compute"]
    assert isinstance(a, dict) and isinstance(b, dict)
    assert a["gpu_hours"] == b["gpu_hours"] and a["gpu_hours"] > 0
    slower = size_json(capsys, "--task", "pretrain", "--model", "meta-llama/Llama-3.1-8B",
                       "--tokens", "1e10", "--mfu", "0.2")["compute"]
    assert isinstance(slower, dict) and slower["gpu_hours"] > a["gpu_hours"]


def test_spec_file_with_a_training_section(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "train.yaml"
    spec.write_text("model: meta-llama/Llama-3.1-8B\ncontext: 8192\ntask: finetune\n"
                    "training:\n  method: lora\n  lora_rank: 8\n  micro_batch: 4\n"
                    "  activation_checkpointing: true\n")
    data = size_json(capsys, str(spec), "--micro-batch", "2")
    assert (data["method"], data["lora_rank"], data["micro_batch"]) == ("lora", 8, 2)
    assert data["activation_checkpointing"] is True
    spec.write_text("model: meta-llama/Llama-3.1-8B\ntask: finetune\ntraining:\n  batch: 4\n")
    code, out, err = run(capsys, "size", str(spec))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "training: unknown key 'batch'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task", "finetune", "--method", "foo"], "--method: must be one of full, lora, qlora"),
        (["--task", "pretrain", "--method", "lora"], "pre-training trains every weight"),
        (["--task", "finetune", "--concurrency", "4"], "applies to serving"),
        (["--method", "lora"], "needs --task finetune or --task pretrain"),
        (["--task", "finetune", "--tokens", "lots"], "--tokens: must be a number"),
        (["--task", "finetune", "--tp", "2"], "data parallel"),
        (["--task", "finetune", "--method", "qlora", "--train-precision", "fp32"], "QLoRA"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "size", "--model", "meta-llama/Llama-3.1-8B", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_serving_output_keeps_its_keys(capsys: pytest.CaptureFixture[str]) -> None:
    data = size_json(capsys, "--model", "meta-llama/Llama-3.1-8B-Instruct", "--task", "inference")
    assert "kv_tokens" in data and "rule_of_thumb" not in data
    plain = size_json(capsys, "--model", "meta-llama/Llama-3.1-8B-Instruct")
    assert plain == data


def test_generate_refuses_a_training_spec(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "train.yaml"
    spec.write_text("model: meta-llama/Llama-3.1-8B\ntask: pretrain\n")
    code, out, err = run(capsys, "generate", "--cloud", "aws", str(spec), "--pricing", "snapshot")
    assert code == 2 and out == "" and "training job" in err
