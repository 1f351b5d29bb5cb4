"""Training sizing against published figures (tests/fixtures/training), row by row.

``python tests/training_validation.py`` prints every row (excluded ones too, with the reason)
and the median / worst error per class; tests/test_training_validation.py holds the same numbers
to their stated bounds.
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmplan.gpus import GIB, get_gpu
from llmplan.model.registry import load_model
from llmplan.sizing.training import (
    PRECISION_BYTES,
    gathered_bytes,
    model_states,
    optimizer_bytes_per_parameter,
    training_memory,
)
from llmplan.sizing.training_facts import default_utilisation
from llmplan.sizing.training_time import flops_per_token
from llmplan.workload import Training

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "training"


def load(name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((FIXTURES / name).read_text())["rows"]
    return rows


@dataclass(frozen=True)
class Case:
    row: dict[str, Any]
    predicted: float
    published: float

    @property
    def error(self) -> float:
        return self.predicted / self.published - 1

    @property
    def excluded(self) -> str | None:
        return self.row.get("excluded")


def _to_gib(value: float, unit: str) -> float:
    if unit.startswith("GB") and "2^30" not in unit and "GiB" not in unit:
        return value * 1e9 / GIB
    return value


def _memory(row: dict[str, Any], training: Training, gpus: int) -> Any:
    arch = load_model(row["model"])
    return training_memory(
        arch, training, get_gpu(row["gpu"]), gpus, row["sharding"], row["activation_checkpointing"]
    )


def _model_states(row: dict[str, Any]) -> float:
    p = row["parameters"]
    t = Training(**row["training"])
    b = PRECISION_BYTES[t.precision]
    # Adam states do not depend on the architecture; Adafactor's would.
    per_param = optimizer_bytes_per_parameter(None, t, p)  # type: ignore[arg-type]
    s = model_states(
        trainable=p,
        weight_bytes=p * b.weight,
        optimizer_per_parameter=per_param,
        gradient_per_parameter=b.gradient,
        sharding=row["sharding"],
        gpus=row["gpus"],
        offload=row["offload"] == "cpu",
    )
    total = s.weights + s.gradients + s.optimizer
    if row["sharding"] in ("zero3", "fsdp") and row.get("largest_layer_parameters"):
        unit = row["largest_layer_parameters"]
        total += gathered_bytes(unit * b.weight, unit * b.gradient)
    return total


def memory_case(row: dict[str, Any]) -> Case | None:
    compare = row["compare"]
    if row.get("model") is None and compare != "model_states":
        return None
    if compare == "model_states":
        predicted = _model_states(row)
        unit = row["unit"]
        scale = 1e9 if unit == "GB" else GIB
        return Case(row, predicted / scale, float(row["published"]))
    if compare == "budget":
        m = _memory(row, Training(**row["training"]), 1)
        return Case(row, m.total / GIB, float(row["published"]))
    if compare == "does_not_fit":
        m = _memory(row, Training(**row["training"]), 1)
        # 1 = does not fit (as published), 0 = fits: the error is 0 when we agree.
        return Case(row, 1.0 if m.total > row["budget_gb"] * 1e9 else 0.0, 1.0)
    training = Training(**row["training"])
    if compare == "delta":
        a, b = (_memory(row, training, n) for n in row["gpus"])
        return Case(row, (a.total - b.total) / GIB, float(row["published"]))
    m = _memory(row, training, row["gpus"])
    value = {"allocated": m.allocated_bytes, "reserved": m.torch_bytes, "device": m.total}[compare]
    return Case(row, value / GIB, _to_gib(float(row["published"]), row["unit"]))


def memory_cases() -> list[Case]:
    return [c for row in load("memory.json") if (c := memory_case(row)) is not None]


def _peak(gpu: str) -> float:
    return get_gpu(gpu).bf16_dense_tflops * 1e12


def mfu_formula_case(row: dict[str, Any]) -> Case | None:
    """llm-foundry's published MFU recomputed from its tokens/s with our FLOP count."""
    if row.get("layers") is None or row.get("tokens_per_second_per_gpu") is None:
        return None
    model = 6 * row["parameters"] + 12 * row["layers"] * row["d_model"] * row["seq_len"]
    mfu = row["tokens_per_second_per_gpu"] * model / _peak(row["gpu"])
    return Case(row, mfu, float(row["mfu"]))


def throughput_case(row: dict[str, Any]) -> Case | None:
    """Tokens/s (or MFU, where only that is published) at the default utilisation."""
    if row.get("gpu") is None:
        return None
    gpu = get_gpu(row["gpu"])
    ac = bool(row.get("activation_checkpointing"))
    if row["class"] == "pretrain":
        util = default_utilisation(gpu, Training(task="pretrain")).hardware
        if row.get("layers") is None:
            # Only MFU is published (Megatron, Llama 3): recompute unknown, so none assumed.
            return Case(row, util, float(row["mfu"]))
        n, s = row["parameters"], row["seq_len"]
        attention = 12 * row["layers"] * row["d_model"] * s
        hardware = 6 * n + attention + ((2 * n + attention / 3) if ac else 0)
        return Case(row, util * _peak(row["gpu"]) / hardware, row["tokens_per_second_per_gpu"])
    if row.get("model") is None or row.get("tokens_per_second_per_gpu") is None:
        return None
    arch = load_model(row["model"])
    t = Training(method=row["method"], seq_len=row["seq_len"], micro_batch=row["micro_batch"] or 1)
    flops = flops_per_token(arch, t, ac)
    util = default_utilisation(gpu, t).hardware
    return Case(row, util * _peak(row["gpu"]) / flops.hardware, row["tokens_per_second_per_gpu"])


def throughput_cases() -> list[Case]:
    return [c for row in load("throughput.json") if (c := throughput_case(row)) is not None]


def summary(cases: list[Case]) -> dict[str, tuple[int, float, float]]:
    """Per class: (rows, median absolute error, worst error) over the rows not excluded."""
    by: dict[str, list[float]] = {}
    for c in cases:
        if not c.excluded:
            by.setdefault(c.row["class"], []).append(c.error)
    return {
        k: (len(v), statistics.median(abs(e) for e in v), max(v, key=abs)) for k, v in by.items()
    }


def _print(title: str, cases: list[Case]) -> None:
    print(f"\n{title}")
    for c in cases:
        mark = f"  (not asserted: {c.excluded})" if c.excluded else ""
        print(f"  {c.row['id']:<16} {c.row['class']:<13} {c.row.get('published_model', ''):<22} "
              f"published {c.published:>10.3f}  predicted {c.predicted:>10.3f}  "
              f"{c.error:+7.1%}{mark}")
    for cls, (n, med, worst) in summary(cases).items():
        print(f"  {cls:<13} {n:>3} rows: median |error| {med:.1%}, worst {worst:+.1%}")


def main() -> int:
    _print("memory", memory_cases())
    formula = [c for row in load("throughput.json") if (c := mfu_formula_case(row)) is not None]
    _print("MFU recomputed from published tokens/s (FLOP count check)", formula)
    _print("throughput at the default utilisation", throughput_cases())
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
