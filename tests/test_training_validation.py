"""Training memory and speed against published figures (tests/fixtures/training).

``python tests/training_validation.py`` prints the per-row table these bounds summarise.
"""

from __future__ import annotations

import statistics

import pytest
from training_validation import Case, load, memory_cases, mfu_formula_case, throughput_cases

MEMORY = memory_cases()
ASSERTED = [c for c in MEMORY if not c.excluded]


def _by(cases: list[Case], cls: str, compare: str | None = None) -> list[Case]:
    return [c for c in cases if c.row["class"] == cls
            and (compare is None or c.row["compare"] == compare)]


def test_every_fixture_row_has_a_source_and_is_computed() -> None:
    rows = load("memory.json")
    assert len(MEMORY) == len([r for r in rows if r.get("model") or r["compare"] == "model_states"])
    for row in rows + load("throughput.json"):
        assert row["source"].get("url"), row["id"]


def test_zero_paper_model_states_per_stage() -> None:
    # Figure 1 of the ZeRO paper: 7.5B parameters, K = 12, 64 GPUs: 120 / 31.4 / 16.6 / 1.9 GB.
    for case in _by(MEMORY, "model_states"):
        if case.row["published_model"].startswith("(hypothetical)"):
            assert abs(case.error) <= 0.02, case.row["id"]


def test_estimator_rows_within_their_stated_error() -> None:
    # DeepSpeed ZeRO-2 with the optimizer offloaded is exact (2 B per weight); ZeRO-3 is 10%
    # under the current estimator, which counts an extra fp32 gradient copy; Accelerate's fp32
    # Adam is 16 B per parameter.
    for case in _by(ASSERTED, "model_states"):
        assert abs(case.error) <= 0.12, (case.row["id"], case.error)


def test_full_training_on_one_gpu() -> None:
    (case,) = _by(ASSERTED, "full")
    assert abs(case.error) <= 0.10


def test_sharding_degree_changes_memory_as_published() -> None:
    # torchtitan: FSDP over 8 vs 128 H100 frees ~15 GiB per GPU at the same batch.
    cases = _by(ASSERTED, "sharded", "delta")
    assert len(cases) == 2
    for case in cases:
        assert abs(case.error) <= 0.10, (case.row["id"], case.error)


@pytest.mark.parametrize("cls", ["lora", "qlora"])
def test_adapter_runs_median_error(cls: str) -> None:
    cases = [c for c in _by(ASSERTED, cls) if c.row["compare"] in ("reserved", "budget")]
    assert len(cases) >= 6
    errors = [abs(c.error) for c in cases]
    assert statistics.median(errors) <= 0.10
    # The two worst (Answer.AI's batch 1 x 512 and its 70B with CPU offload) read ~35% over us:
    # fixed costs the allocator reserves that this model does not itemise.
    assert max(errors) <= 0.40


def test_published_out_of_memory_is_predicted() -> None:
    cases = [c for c in ASSERTED if c.row["compare"] == "does_not_fit"]
    assert cases and all(c.error == 0 for c in cases)


def test_flop_count_reproduces_published_mfu() -> None:
    cases = [c for row in load("throughput.json") if (c := mfu_formula_case(row)) is not None]
    assert len(cases) >= 150
    assert max(abs(c.error) for c in cases) <= 0.01


SPEED = [c for c in throughput_cases() if not c.excluded]


@pytest.mark.parametrize(
    ("cls", "median", "share_within_25", "at_least"),
    [("pretrain", 0.12, 0.85, 150), ("lora", 0.12, 0.75, 10), ("finetune_full", 0.20, 1.0, 6)],
)
def test_default_utilisation_predicts_published_throughput(
    cls: str, median: float, share_within_25: float, at_least: int
) -> None:
    errors = [abs(c.error) for c in SPEED if c.row["class"] == cls]
    assert len(errors) >= at_least
    assert statistics.median(errors) <= median
    assert sum(e <= 0.25 for e in errors) / len(errors) >= share_within_25
