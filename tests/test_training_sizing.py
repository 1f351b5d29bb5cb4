"""Training memory accounting: each rule on its own, and the search for the fewest GPUs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from llmplan.gpus import GIB, get_gpu
from llmplan.model.registry import load_model
from llmplan.sizing.training import (
    PRECISION_BYTES,
    lora_parameters,
    optimizer_bytes_per_parameter,
    training_memory,
)
from llmplan.sizing.training_fit import fewest_training_gpus, on_gpus, rule_of_thumb
from llmplan.workload import Training

H100 = get_gpu("H100-80GB")


def test_lora_parameters_match_peft() -> None:
    # PEFT's print_trainable_parameters for Llama-2-7b, r=8 on q_proj and v_proj:
    # "trainable params: 4,194,304 || all params: 6,742,609,920" (llama-recipes log).
    arch = load_model("meta-llama/Llama-2-7b-hf")
    assert lora_parameters(arch, 8, "qv") == 4_194_304
    assert arch.total_parameters + 4_194_304 == 6_742_609_920


@pytest.mark.parametrize(
    ("precision", "optimizer", "per_param"),
    [
        ("mixed", "adamw", 16.0),  # ZeRO paper: 2 + 2 + 12
        ("bf16", "adamw", 8.0),  # torchtune: everything in bf16
        ("fp32", "adamw", 16.0),  # HF anatomy: 4 + 4 + 8
        ("mixed", "sgd", 12.0),  # fp32 master + one momentum buffer
        ("bf16", "adamw-8bit", 4 + 2 + 2 * 4 / 256),  # bitsandbytes states + absmax
    ],
)
def test_bytes_per_parameter(precision: str, optimizer: str, per_param: float) -> None:
    arch = load_model("meta-llama/Llama-3.1-8B")
    t = Training(precision=precision, optimizer=optimizer)  # type: ignore[arg-type]
    b = PRECISION_BYTES[precision]
    total = b.weight + b.gradient + optimizer_bytes_per_parameter(arch, t, arch.total_parameters)
    assert total == pytest.approx(per_param)


def test_adafactor_keeps_factored_states() -> None:
    arch = load_model("meta-llama/Llama-3.1-8B")
    t = Training(precision="bf16", optimizer="adafactor")
    per_param = optimizer_bytes_per_parameter(arch, t, arch.total_parameters)
    # A row and a column per matrix instead of two full states: well under 1% of AdamW's 4 B.
    assert 0 < per_param < 0.01


def test_sharding_stages_divide_what_the_zero_paper_says() -> None:
    arch = load_model("meta-llama/Llama-3.1-8B")
    t = Training()
    per = {s: training_memory(arch, t, H100, 8, s, True) for s in ("none", "zero1", "zero2", "zero3")}
    assert per["zero1"].optimizer == pytest.approx(per["none"].optimizer / 8)
    assert per["zero1"].gradients == per["none"].gradients
    assert per["zero2"].gradients == pytest.approx(per["none"].gradients / 8)
    assert per["zero2"].weights == per["none"].weights
    assert per["zero3"].weights == pytest.approx(per["none"].weights / 8)
    assert per["zero3"].gathered > 0 and per["zero2"].gathered == 0
    totals = [per[s].total for s in ("none", "zero1", "zero2", "zero3")]
    assert totals == sorted(totals, reverse=True)
    # FSDP FULL_SHARD is stage 3.
    assert training_memory(arch, t, H100, 8, "fsdp", True).total == per["zero3"].total


def test_cpu_offload_moves_states_to_the_host() -> None:
    arch = load_model("meta-llama/Llama-3.1-70B")
    t = Training(offload="cpu")
    m = training_memory(arch, t, H100, 8, "zero3", True)
    assert m.weights == m.gradients == m.optimizer == 0
    # 16 B per parameter of the 70B model, an eighth per GPU, now in host memory.
    assert m.cpu_offload == pytest.approx(16 * arch.total_parameters / 8)


def test_activations_follow_checkpointing_kernel_and_batch() -> None:
    arch = load_model("meta-llama/Llama-3.1-8B")
    t = Training(micro_batch=1, seq_len=4096)

    def acts(**kw: object) -> float:
        ac = bool(kw.pop("ac", False))
        return training_memory(arch, replace(t, **kw), H100, 1, "none", ac).activations.layers

    assert acts(ac=True) < acts() / 5
    assert acts(attention="eager") > acts()  # the s x s matrices FlashAttention never stores
    assert acts(micro_batch=2) == pytest.approx(2 * acts(), rel=1e-9)
    # The loss over Llama 3's 128k vocabulary: 16 B per logit, 4096 tokens.
    logits = training_memory(arch, t, H100, 1, "none", True).activations.logits
    assert logits == pytest.approx(4096 * (128_256 * 16 + 2 * 4096 * 2))


def test_qlora_70b_fits_one_gpu_and_the_base_is_4_bit() -> None:
    arch = load_model("meta-llama/Llama-3.1-70B-Instruct")
    m = fewest_training_gpus(arch, Training(method="qlora"), H100)
    assert (m.gpus, m.fits, m.activation_checkpointing) == (1, True, True)
    # 4.127 bits per decoder weight plus 16-bit embeddings and head: ~37 GiB, not 131.
    assert 35 * GIB < m.weights < 39 * GIB
    # QLoRA paper: a 65B model fine-tunes on a single 48 GB GPU.
    l40s = on_gpus(load_model("meta-llama/Llama-2-70b-hf"),
                   Training(method="qlora", seq_len=512), get_gpu("L40S"), 1)
    assert l40s.fits


def test_full_70b_needs_several_nodes_and_stage_3() -> None:
    arch = load_model("meta-llama/Llama-3.1-70B-Instruct")
    m = fewest_training_gpus(arch, Training(), H100)
    assert m.fits and m.gpus > 8 and m.sharding == "zero3"
    # 16 B per parameter over the group must fit what each GPU holds.
    assert 16 * arch.total_parameters / m.gpus < H100.usable_bytes


def test_no_fit_says_why_and_what_would() -> None:
    arch = load_model("meta-llama/Llama-3.1-8B")
    m = on_gpus(arch, Training(activation_checkpointing=False, micro_batch=8, seq_len=2048),
                get_gpu("L4"), 1)
    assert not m.fits and "exceeds" in m.reasons[0]
    # No single change is enough on one L4; the combination that is gets named.
    assert any("together" in tip and "--method lora" in tip for tip in m.suggestions)


def test_sequence_longer_than_the_model_is_refused() -> None:
    arch = load_model("meta-llama/Llama-2-7b-hf")
    m = training_memory(arch, Training(seq_len=8192), H100, 1, "none", True)
    assert not m.fits and "exceeds the model's maximum" in m.reasons[-1]


def test_rule_of_thumb_explains_the_difference() -> None:
    arch = load_model("meta-llama/Llama-3.1-70B")
    full = fewest_training_gpus(arch, Training(), H100)
    rule = rule_of_thumb(arch, Training(), full)
    assert rule["ratio_to_16bit_weights"] > 8  # 16 B per parameter is 8x before activations
    assert any("16.0 bytes per parameter" in w for w in rule["why"])  # type: ignore[union-attr]
    qlora = Training(method="qlora")
    m = fewest_training_gpus(arch, qlora, H100)
    q = rule_of_thumb(arch, qlora, m)
    assert q["ratio_to_16bit_weights"] < 1
    assert any("NF4" in w for w in q["why"])  # type: ignore[union-attr]
