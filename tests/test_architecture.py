"""Parameter counting from config.json facts, checked against arithmetic done by hand."""

from __future__ import annotations

from typing import Any

import pytest

from llmplan.errors import UsageError
from llmplan.model.architecture import ModelArchitecture, from_config


def arch(config: dict[str, Any], **kwargs: Any) -> ModelArchitecture:
    return from_config(config, model_id="test/model", source="config.json", **kwargs)


LLAMA_31_8B: dict[str, Any] = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}


def test_dense_gqa_by_hand() -> None:
    # Llama-3.1-8B: 32 query heads and 8 KV heads of 128.
    q = o = 4096 * 4096  # 16,777,216 each
    k = v = 4096 * 8 * 128  # 4,194,304 each
    mlp = 3 * 4096 * 14336  # gate, up, down: 176,160,768
    norms = 2 * 4096
    layer = q + k + v + o + mlp + norms  # 218,112,000
    embed = lm_head = 128256 * 4096  # 525,336,576 each
    total = 32 * layer + embed + lm_head + 4096  # + final norm
    assert total == 8_030_261_248  # the published safetensors total

    a = arch(LLAMA_31_8B)
    assert a.total_parameters == total
    assert a.active_parameters == total
    assert (a.embedding_parameters, a.lm_head_parameters) == (embed, lm_head)
    assert (a.num_kv_heads, a.head_dim) == (8, 128)
    assert not a.is_moe and not a.is_mla and a.checkpoint_dtype == "bf16"


def test_tied_embeddings_by_hand() -> None:
    # Llama-3.2-1B: explicit head_dim 64, lm_head shares the embedding matrix.
    config = dict(
        LLAMA_31_8B,
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        head_dim=64,
        tie_word_embeddings=True,
    )
    layer = 2048 * 2048 + 2 * 2048 * 512 + 2048 * 2048 + 3 * 2048 * 8192 + 2 * 2048
    embed = 128256 * 2048
    total = 16 * layer + embed + 2048
    assert total == 1_235_814_400  # published total of Llama-3.2-1B(-Instruct)
    a = arch(config)
    assert a.total_parameters == total
    assert a.embedding_parameters == embed
    assert a.lm_head_parameters == 0


def test_untied_when_flag_missing_for_llama_but_tied_for_gemma() -> None:
    no_flag = {k: v for k, v in LLAMA_31_8B.items() if k != "tie_word_embeddings"}
    assert arch(no_flag).lm_head_parameters == 128256 * 4096
    gemma = dict(no_flag, model_type="gemma2", head_dim=128)
    assert arch(gemma).lm_head_parameters == 0


MIXTRAL_8X7B: dict[str, Any] = {
    "model_type": "mixtral",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "vocab_size": 32000,
    "max_position_embeddings": 32768,
    "sliding_window": None,
}


def test_moe_by_hand() -> None:
    attention = 2 * 4096 * 4096 + 2 * 4096 * 1024  # q, o + k, v: 41,943,040
    expert = 3 * 4096 * 14336  # 176,160,768
    router = 4096 * 8
    norms = 2 * 4096
    layer = attention + 8 * expert + router + norms
    edges = 2 * 32000 * 4096 + 4096  # embedding, lm_head, final norm
    total = 32 * layer + edges
    assert total == 46_702_792_704  # published Mixtral-8x7B total
    active = total - 32 * (8 - 2) * expert
    assert active == 12_879_925_248  # about 12.9B per token

    a = arch(MIXTRAL_8X7B)
    assert a.total_parameters == total
    assert a.active_parameters == active
    assert a.expert_parameters == 32 * 8 * expert
    assert (a.num_experts, a.experts_per_token, a.moe_layers) == (8, 2, 32)
    assert a.sliding_window is None


DEEPSEEK_V2_LITE: dict[str, Any] = {
    "model_type": "deepseek_v2",
    "first_k_dense_replace": 1,
    "hidden_size": 2048,
    "intermediate_size": 10944,
    "kv_lora_rank": 512,
    "max_position_embeddings": 163840,
    "moe_intermediate_size": 1408,
    "moe_layer_freq": 1,
    "n_routed_experts": 64,
    "n_shared_experts": 2,
    "num_attention_heads": 16,
    "num_experts_per_tok": 6,
    "num_hidden_layers": 27,
    "num_key_value_heads": 16,
    "q_lora_rank": None,
    "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64,
    "tie_word_embeddings": False,
    "v_head_dim": 128,
    "vocab_size": 102400,
}


def test_mla_by_hand() -> None:
    # q_lora_rank is null: a plain q_proj to 16 heads x (128 + 64).
    q_proj = 2048 * 16 * 192
    kv_a = 2048 * (512 + 64)  # latent plus the shared rotary key
    kv_norm = 512
    kv_b = 512 * 16 * (128 + 128)  # up-projects to no-rope keys and values
    o_proj = 16 * 128 * 2048
    attention = q_proj + kv_a + kv_norm + kv_b + o_proj
    assert attention == 13_763_072
    expert = 3 * 2048 * 1408
    dense_layer = attention + 3 * 2048 * 10944 + 2 * 2048  # layer 0 (first_k_dense_replace=1)
    moe_layer = attention + 64 * expert + 2 * expert + 2048 * 64 + 2 * 2048  # routed, shared, gate
    total = dense_layer + 26 * moe_layer + 2 * 102400 * 2048 + 2048
    assert total == 15_706_484_224  # published DeepSeek-V2-Lite total

    a = arch(DEEPSEEK_V2_LITE)
    assert a.total_parameters == total
    assert a.active_parameters == total - 26 * (64 - 6) * expert
    assert a.is_mla and (a.kv_lora_rank, a.qk_rope_head_dim) == (512, 64)
    assert a.head_dim == 192
    assert (a.moe_layers, a.moe_intermediate_size, a.intermediate_size) == (26, 1408, 10944)


def test_mla_with_query_lora_and_mtp_module() -> None:
    # DeepSeek-V3: low-rank query, aux-loss-free router bias, and one MTP layer in the checkpoint.
    config = dict(
        DEEPSEEK_V2_LITE,
        model_type="deepseek_v3",
        first_k_dense_replace=3,
        hidden_size=7168,
        intermediate_size=18432,
        moe_intermediate_size=2048,
        n_routed_experts=256,
        n_shared_experts=1,
        num_attention_heads=128,
        num_experts_per_tok=8,
        num_hidden_layers=61,
        num_key_value_heads=128,
        num_nextn_predict_layers=1,
        q_lora_rank=1536,
        topk_method="noaux_tc",
        vocab_size=129280,
        quantization_config={"quant_method": "fp8", "weight_block_size": [128, 128]},
    )
    a = arch(config)
    # The main model is the 671B DeepSeek reports (Fireworks lists 671,026,419,200 for it).
    assert a.served_parameters == 671_026_419_200
    assert a.total_parameters == a.served_parameters + a.mtp_parameters
    assert 13.4e9 < a.mtp_parameters < 13.5e9  # one MoE layer + embedding/head copies + eh_proj
    assert a.active_parameters == 37_552_297_472  # "37B activated"
    assert a.checkpoint_dtype == "fp8"


def test_qwen2_qkv_bias() -> None:
    config = {
        "model_type": "qwen2",
        "hidden_size": 3584,
        "intermediate_size": 18944,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "vocab_size": 152064,
        "max_position_embeddings": 32768,
        "sliding_window": 131072,
        "use_sliding_window": False,
        "tie_word_embeddings": False,
    }
    as_llama = arch(dict(config, model_type="llama"))
    biases = 28 * (3584 + 2 * 4 * 128)  # q, k, v biases; o has none
    assert arch(config).total_parameters == as_llama.total_parameters + biases == 7_615_616_512
    assert arch(config).sliding_window is None  # use_sliding_window is false


def test_gpt_oss_biases_sinks_and_alternating_windows() -> None:
    config = {
        "model_type": "gpt_oss",
        "head_dim": 64,
        "hidden_size": 2880,
        "intermediate_size": 2880,
        "layer_types": ["sliding_attention", "full_attention"] * 12,
        "max_position_embeddings": 131072,
        "num_attention_heads": 64,
        "num_experts_per_tok": 4,
        "num_hidden_layers": 24,
        "num_key_value_heads": 8,
        "num_local_experts": 32,
        "sliding_window": 128,
        "tie_word_embeddings": False,
        "vocab_size": 201088,
        "quantization_config": {"quant_method": "mxfp4"},
    }
    a = arch(config)
    # Expert weights without biases are what the checkpoint stores as MXFP4 (19,110,297,600).
    expert_weights = 24 * 32 * (2880 * 2 * 2880 + 2880 * 2880)
    expert_biases = 24 * 32 * (2 * 2880 + 2880)
    assert a.expert_parameters == expert_weights + expert_biases
    assert a.total_parameters - expert_weights == 1_804_459_584  # the BF16 part of the checkpoint
    assert (a.sliding_window, a.sliding_window_layers, a.full_attention_layers) == (128, 12, 12)
    assert a.checkpoint_dtype == "mxfp4"


@pytest.mark.parametrize(
    ("family", "extra", "windowed"),
    [
        ("gemma2", {"head_dim": 128}, 23),  # even-numbered layers of 46
        ("gemma3_text", {"head_dim": 128, "sliding_window_pattern": 6}, 46 - 46 // 6),
        ("mistral", {}, 46),  # Mistral 7B v0.1: one window on every layer
    ],
)
def test_sliding_window_layouts(family: str, extra: dict[str, Any], windowed: int) -> None:
    config = dict(
        LLAMA_31_8B, model_type=family, num_hidden_layers=46, sliding_window=4096, **extra
    )
    a = arch(config)
    assert (a.sliding_window, a.sliding_window_layers) == (4096, windowed)


def test_window_as_long_as_the_context_is_no_window() -> None:
    config = dict(LLAMA_31_8B, model_type="phi3", sliding_window=262144)
    assert arch(config).sliding_window is None


def test_explicit_null_window_overrides_the_family_default() -> None:
    assert arch(dict(LLAMA_31_8B, model_type="mistral")).sliding_window == 4096  # class default
    assert arch(dict(LLAMA_31_8B, model_type="mistral", sliding_window=None)).sliding_window is None


SIGLIP = {
    "hidden_size": 1152,
    "image_size": 896,
    "intermediate_size": 4304,
    "model_type": "siglip_vision_model",
    "num_attention_heads": 16,
    "num_hidden_layers": 27,
    "patch_size": 14,
    "vision_use_head": False,
}


def test_gemma3_multimodal_text_config_defaults_and_vision_tower() -> None:
    # google/gemma-3-27b-it names only a few text keys; the rest are Gemma3TextConfig defaults.
    config = {
        "model_type": "gemma3",
        "text_config": {
            "head_dim": 128,
            "hidden_size": 5376,
            "intermediate_size": 21504,
            "model_type": "gemma3_text",
            "num_attention_heads": 32,
            "num_hidden_layers": 62,
            "num_key_value_heads": 16,
            "sliding_window": 1024,
        },
        "vision_config": SIGLIP,
    }
    a = arch(config)
    tower = (
        3 * 14 * 14 * 1152
        + 1152  # patch conv with bias
        + (896 // 14) ** 2 * 1152  # learned positions
        + 27 * (4 * (1152 * 1152 + 1152) + 2 * 1152 * 4304 + 4304 + 1152 + 4 * 1152)
        + 2 * 1152  # post LayerNorm
    )
    projector = 1152 * 5376 + 1152  # input projection and its RMSNorm
    assert a.vision_parameters == tower + projector
    assert a.total_parameters == 27_432_406_640  # published google/gemma-3-27b-it total
    assert (a.vocab_size, a.lm_head_parameters) == (262208, 0)
    assert (a.sliding_window, a.sliding_window_layers) == (1024, 52)
    assert a.active_parameters == a.total_parameters - a.vision_parameters


def test_llama4_interleaved_moe_with_shared_expert() -> None:
    text = {
        "model_type": "llama4_text",
        "attention_chunk_size": 8192,
        "head_dim": 128,
        "hidden_size": 5120,
        "intermediate_size": 8192,
        "intermediate_size_mlp": 16384,
        "interleave_moe_layer_step": 2,
        "max_position_embeddings": 1048576,
        "num_attention_heads": 40,
        "num_experts_per_tok": 1,
        "num_hidden_layers": 48,
        "num_key_value_heads": 8,
        "num_local_experts": 128,
        "vocab_size": 202048,
    }
    a = arch({"model_type": "llama4", "text_config": text, "tie_word_embeddings": False})
    attention = 2 * 5120 * 5120 + 2 * 5120 * 1024
    expert = 3 * 5120 * 8192
    moe_layer = attention + 128 * expert + expert + 5120 * 128 + 2 * 5120  # + shared + router
    dense_layer = attention + 3 * 5120 * 16384 + 2 * 5120
    assert a.total_parameters == 24 * moe_layer + 24 * dense_layer + 2 * 202048 * 5120 + 5120
    assert a.moe_layers == 24
    assert a.active_parameters == a.total_parameters - 24 * 127 * expert
    # Chunked attention on 3 of every 4 layers bounds their KV like a window.
    assert (a.sliding_window, a.sliding_window_layers) == (8192, 36)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"torch_dtype": "float16"}, "fp16"),
        ({"dtype": "bfloat16"}, "bf16"),
        ({"torch_dtype": "float32"}, "fp32"),
        ({"quantization_config": {"quant_method": "awq", "bits": 4}}, "awq"),
        ({"quantization_config": {"quant_method": "fp8"}, "torch_dtype": "bfloat16"}, "fp8"),
        ({}, "bf16"),
    ],
)
def test_checkpoint_dtype(config: dict[str, Any], expected: str) -> None:
    base = {k: v for k, v in LLAMA_31_8B.items() if k != "torch_dtype"}
    assert arch(dict(base, **config)).checkpoint_dtype == expected


def test_explicit_checkpoint_dtype_wins() -> None:
    assert arch(LLAMA_31_8B, checkpoint_dtype="int8").checkpoint_dtype == "int8"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden_size": None}, "config.json: hidden_size: missing"),
        ({"num_hidden_layers": "32"}, "num_hidden_layers: must be a positive integer (got '32')"),
        (
            {"num_attention_heads": True},
            "num_attention_heads: must be a positive integer (got True)",
        ),
        ({"vocab_size": 0}, "vocab_size: must be a positive integer (got 0)"),
        ({"tie_word_embeddings": "no"}, "tie_word_embeddings: must be true or false"),
        ({"head_dim": None, "num_attention_heads": 30}, "head_dim: missing, and hidden_size 4096"),
        ({"layer_types": ["full_attention"]}, "layer_types: has 1 entries for 32 layers"),
    ],
)
def test_bad_fields_raise_one_line_usage_errors(change: dict[str, Any], message: str) -> None:
    config = dict(LLAMA_31_8B)
    for key, value in change.items():
        if value is None:
            config.pop(key, None)  # None here means "leave the key out"
        else:
            config[key] = value
    with pytest.raises(UsageError) as caught:
        arch(config)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_nested_field_errors_name_the_section() -> None:
    config = {
        "model_type": "gemma3",
        "text_config": {"model_type": "gemma3_text", "hidden_size": -1},
    }
    with pytest.raises(
        UsageError, match=r"config.json: text_config.hidden_size: must be a positive"
    ):
        arch(config)
    config = {
        "model_type": "gemma3",
        "text_config": {"model_type": "gemma3_text"},
        "vision_config": 7,
    }
    with pytest.raises(UsageError, match="vision_config: must be an object"):
        arch(config)


def test_non_mapping_config_is_rejected() -> None:
    with pytest.raises(UsageError, match="must hold a JSON object"):
        from_config([1, 2], model_id="x", source="config.json")  # type: ignore[arg-type]


def test_unknown_vision_layout_counts_only_the_decoder() -> None:
    # Qwen2.5-VL's windowed ViT names depth/num_heads, not the CLIP keys: it is left out, not
    # guessed, and the text model still loads.
    config = {
        "model_type": "qwen2_5_vl",
        "text_config": dict(LLAMA_31_8B, model_type="qwen2"),
        "vision_config": {"model_type": "qwen2_5_vl", "depth": 32, "hidden_size": 1280},
    }
    a = arch(config)
    assert a.vision_parameters == 0
    assert a.num_layers == 32


def test_max_position_embeddings_is_required() -> None:
    config = {k: v for k, v in LLAMA_31_8B.items() if k != "max_position_embeddings"}
    with pytest.raises(UsageError, match="max_position_embeddings: missing"):
        arch(config)
    assert arch(dict(config, n_positions=2048)).max_position_embeddings == 2048
