"""Training time: FLOPs per token, utilisation, communication over the links a step crosses,
and the restart overhead of spot capacity."""

from __future__ import annotations

import math

import pytest

from llmplan.gpus import get_gpu
from llmplan.model.registry import load_model
from llmplan.sizing.training import training_memory
from llmplan.sizing.training_time import (
    Network,
    flop_parameters,
    flops_per_token,
    intra_node_gbs,
    spot_restarts,
    step_time,
)
from llmplan.workload import Training

H100 = get_gpu("H100-80GB")


def test_flops_per_token_follow_the_mfu_convention() -> None:
    arch = load_model("meta-llama/Llama-3.1-8B")
    # torchtitan's count: every weight but the input embedding (the LM head multiplies).
    assert flop_parameters(arch) == arch.total_parameters - 128_256 * 4096
    attention = 12 * 32 * 4096 * 2048
    full = flops_per_token(arch, Training(seq_len=2048), checkpointing=False)
    assert full.model == 6 * flop_parameters(arch) + attention and full.recompute == 0
    lora = flops_per_token(arch, Training(method="lora", seq_len=2048), checkpointing=True)
    # No weight gradients for the frozen base; checkpointing runs the forward again.
    assert lora.model == 4 * flop_parameters(arch) + attention
    assert lora.recompute == 2 * flop_parameters(arch) + attention / 3


def _step(arch_id: str, training: Training, gpus: int, nodes: int, gbps: float | None,
          sharding: str = "zero3") -> object:
    arch = load_model(arch_id)
    memory = training_memory(arch, training, H100, gpus, sharding, True)  # type: ignore[arg-type]
    network = Network(gpus // nodes, nodes, intra_node_gbs(H100), gbps)
    return step_time(arch, training, H100, memory, network)


def test_default_utilisation_sets_the_pace_on_one_node() -> None:
    t = Training(micro_batch=4, seq_len=4096)
    s = _step("meta-llama/Llama-3.1-8B", t, 8, 1, None)
    assert not s.communication_bound  # type: ignore[attr-defined]
    # H100 default: 0.43 of the dense peak for model + recompute FLOPs.
    assert s.utilisation.hardware == pytest.approx(0.43)  # type: ignore[attr-defined]
    assert s.mfu == pytest.approx(0.43 * 6 / 8, rel=0.05)  # type: ignore[attr-defined]


def test_the_network_between_nodes_matters() -> None:
    # 70B with ZeRO-3 over two nodes gathers the weights twice per micro-batch.
    t = Training(micro_batch=1, seq_len=2048)
    efa = _step("meta-llama/Llama-3.1-70B", t, 16, 2, 3200)
    ethernet = _step("meta-llama/Llama-3.1-70B", t, 16, 2, 100)
    unknown = _step("meta-llama/Llama-3.1-70B", t, 16, 2, None)
    assert not efa.communication_bound  # type: ignore[attr-defined]
    assert ethernet.communication_bound  # type: ignore[attr-defined]
    assert ethernet.tokens_per_s < efa.tokens_per_s / 3  # type: ignore[attr-defined]
    assert math.isinf(unknown.step_s)  # type: ignore[attr-defined]


def test_mfu_flag_overrides_the_default() -> None:
    t = Training(micro_batch=2, seq_len=2048, mfu=0.3)
    s = _step("meta-llama/Llama-3.1-8B", t, 1, 1, None, sharding="none")
    assert s.mfu == pytest.approx(0.3)  # type: ignore[attr-defined]
    assert s.utilisation.basis == "--mfu"  # type: ignore[attr-defined]


def test_spot_restarts_lose_half_an_interval_and_the_restart() -> None:
    # One interruption per node-day on 4 nodes: 1/6 per hour; each costs 0.5 h + 0.25 h.
    r = spot_restarts(100.0, 4, 1.0, 1.0, 0.25)
    lost = (4 / 24) * 0.75
    assert r.overhead == pytest.approx(1 / (1 - lost) - 1)
    assert r.expected_interruptions == pytest.approx(4 / 24 * 100 * (1 + r.overhead))
    # Shorter checkpoints lose less.
    assert spot_restarts(100.0, 4, 1.0, 0.25, 0.25).overhead < r.overhead
    # Interrupted more often than an interval lasts: the job never finishes.
    assert math.isinf(spot_restarts(10.0, 64, 5.0, 2.0, 0.5).overhead)
