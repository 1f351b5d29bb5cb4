"""Hand-worked sizing cases: every expected number is derived in the comment beside it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from archs import deepseek_v3, llama31_8b, mixtral_8x7b
from llmplan.engines.profiles import get_engine
from llmplan.sizing.kv import kv_bytes_per_token_per_gpu
from llmplan.sizing.memory import parallelism_problems
from llmplan.sizing.precision import Precision, resolve_precision
from llmplan.sizing.weights import weight_bytes, weights_per_gpu
from llmplan.workload import Workload

BF16 = Precision("bf16", None, "auto")


def test_gqa_kv_bytes_per_token() -> None:
    arch = llama31_8b()
    # 2 (K and V) x 32 layers x 8 KV heads x 128 head_dim x 2 bytes = 131,072
    assert kv_bytes_per_token_per_gpu(arch, BF16, tp=1, pp=1) == 131_072
    # TP=2 splits the 8 KV heads 4 + 4
    assert kv_bytes_per_token_per_gpu(arch, BF16, tp=2, pp=1) == 65_536
    # PP=2 puts 16 layers on each stage
    assert kv_bytes_per_token_per_gpu(arch, BF16, tp=1, pp=2) == 65_536


def test_kv_heads_replicate_when_tp_exceeds_them() -> None:
    arch = replace(llama31_8b(), num_kv_heads=4, num_attention_heads=32)
    # TP=8 > 4 KV heads: every rank keeps one head: 2 x 32 x 1 x 128 x 2 = 16,384
    assert kv_bytes_per_token_per_gpu(arch, BF16, tp=8, pp=1) == 16_384
    # and TP=8 is valid because 8 is a multiple of 4
    assert parallelism_problems(arch, 8, 1) == []


def test_fp8_kv_cache_halves_the_bytes() -> None:
    arch = llama31_8b()
    fp8 = Precision("bf16", None, "fp8")
    assert kv_bytes_per_token_per_gpu(arch, fp8, tp=1, pp=1) == 65_536


def test_mla_latent_is_not_split_by_tp() -> None:
    arch = deepseek_v3()
    # (kv_lora_rank 512 + rope 64) x 2 bytes x 61 layers = 70,272, the same on every TP rank
    assert kv_bytes_per_token_per_gpu(arch, BF16, tp=1, pp=1) == 70_272
    assert kv_bytes_per_token_per_gpu(arch, BF16, tp=8, pp=1) == 70_272


def test_moe_weights_count_every_expert() -> None:
    arch = mixtral_8x7b()
    # All 46.7 B parameters are resident in bf16: 93.4 GB, although only 12.9 B are active.
    assert weight_bytes(arch, BF16).total == pytest.approx(46_702_792_704 * 2)
    assert weights_per_gpu(arch, BF16, tp=2, pp=1) == 46_702_792_704


def test_int4_keeps_embeddings_16_bit() -> None:
    arch = llama31_8b()
    int4 = Precision("int4", "awq", "auto")
    wb = weight_bytes(arch, int4)
    embed = 128256 * 4096
    # embeddings and lm_head stay bf16 (2 bytes each) ...
    assert wb.embedding == embed * 2 and wb.lm_head == embed * 2
    # ... the 7.0 B body is 4-bit plus one fp16 scale and a 4-bit zero per 128 weights
    body = 8_030_261_248 - 2 * embed
    assert wb.body == pytest.approx(body * (0.5 + 2.5 / 128))
    assert wb.total / 2**30 == pytest.approx(5.34, abs=0.01)


def test_deepseek_defaults_to_its_fp8_checkpoint() -> None:
    p = resolve_precision(deepseek_v3(), Workload(model="x"))
    assert (p.weights, p.method) == ("fp8", "fp8")
    # 671 B fp8 body at 1 byte, except embeddings and lm_head (2 x 0.927e9) at 2 bytes
    total = weight_bytes(deepseek_v3(), p).total
    assert total == pytest.approx(671_026_419_200 + 2 * 129280 * 7168, rel=1e-9)


def test_pipeline_stage_weights() -> None:
    arch = llama31_8b()
    embed = 128256 * 4096 * 2
    body = (8_030_261_248 - 2 * 128256 * 4096) * 2
    # PP=2: 16 layers per stage; the first stage also holds the embedding, the last the lm_head
    assert weights_per_gpu(arch, BF16, tp=1, pp=2) == int(body / 2 + embed)


@pytest.mark.parametrize(
    ("tp", "pp", "problem"),
    [
        (3, 1, "32 attention heads are not divisible by tensor parallel 3"),
        (1, 33, "pipeline parallel 33 exceeds the model's 32 layers"),
    ],
)
def test_invalid_parallelism(tp: int, pp: int, problem: str) -> None:
    assert problem in parallelism_problems(llama31_8b(), tp, pp)


def test_kv_heads_and_tp_incompatible() -> None:
    arch = replace(llama31_8b(), num_kv_heads=6, num_attention_heads=48)
    assert any("6 KV heads and tensor parallel 4" in p for p in parallelism_problems(arch, 4, 1))


def test_sglang_default_fraction_depends_on_tp() -> None:
    sglang = get_engine("sglang")
    assert sglang.memory_fraction(1, None) == 0.88
    assert sglang.memory_fraction(8, None) == 0.81
    assert sglang.memory_fraction(8, 0.7) == 0.7
    assert get_engine("vllm").memory_fraction(4, None) == 0.9


def test_sglang_static_fraction_leaves_activations_outside() -> None:
    from llmplan.gpus import get_gpu
    from llmplan.sizing.memory import size_on

    arch = llama31_8b()
    w = Workload(model="x", context=4096, engine="sglang")
    r = size_on(arch, w, get_gpu("L4"), get_engine("sglang"), 1, 1)
    # --mem-fraction-static 0.88 covers weights + KV pool: KV = 0.88 x usable - weights exactly
    assert r.kv_cache_bytes_per_gpu == int(get_gpu("L4").usable_bytes * 0.88) - (
        r.weights_bytes_per_gpu)
    # vLLM's utilization also pays for the activation peak and runtime overhead
    v = size_on(arch, replace(w, engine="vllm"), get_gpu("L4"), get_engine("vllm"), 1, 1)
    assert v.kv_cache_bytes_per_gpu == int(get_gpu("L4").usable_bytes * 0.9) - (
        v.weights_bytes_per_gpu + v.activation_bytes_per_gpu + v.non_torch_bytes_per_gpu)
