"""Hand-built architectures for sizing tests that must not depend on the registry files."""

from __future__ import annotations

from llmplan.model.architecture import ModelArchitecture


def llama31_8b() -> ModelArchitecture:
    # Llama-3.1-8B: 32 layers, hidden 4096, 32 heads, 8 KV heads, head_dim 128, vocab 128256.
    embed = 128256 * 4096
    return ModelArchitecture(
        model_id="test/llama-8b",
        source="hand",
        model_type="llama",
        num_layers=32,
        hidden_size=4096,
        num_attention_heads=32,
        num_kv_heads=8,
        head_dim=128,
        vocab_size=128256,
        max_position_embeddings=131072,
        total_parameters=8_030_261_248,
        active_parameters=8_030_261_248,
        embedding_parameters=embed,
        lm_head_parameters=embed,
        expert_parameters=0,
        vision_parameters=0,
        num_experts=0,
        experts_per_token=0,
        sliding_window=None,
        sliding_window_layers=0,
        kv_lora_rank=None,
        qk_rope_head_dim=None,
        checkpoint_dtype="bfloat16",
        published_parameters=8_030_261_248,
    )


def mixtral_8x7b() -> ModelArchitecture:
    embed = 32000 * 4096
    experts = 32 * 8 * 3 * 4096 * 14336
    return ModelArchitecture(
        model_id="test/mixtral",
        source="hand",
        model_type="mixtral",
        num_layers=32,
        hidden_size=4096,
        num_attention_heads=32,
        num_kv_heads=8,
        head_dim=128,
        vocab_size=32000,
        max_position_embeddings=32768,
        total_parameters=46_702_792_704,
        active_parameters=12_879_921_152,
        embedding_parameters=embed,
        lm_head_parameters=embed,
        expert_parameters=experts,
        vision_parameters=0,
        num_experts=8,
        experts_per_token=2,
        sliding_window=None,
        sliding_window_layers=0,
        kv_lora_rank=None,
        qk_rope_head_dim=None,
        checkpoint_dtype="bfloat16",
        published_parameters=46_702_792_704,
    )


def deepseek_v3() -> ModelArchitecture:
    embed = 129280 * 7168
    return ModelArchitecture(
        model_id="test/deepseek-v3",
        source="hand",
        model_type="deepseek_v3",
        num_layers=61,
        hidden_size=7168,
        num_attention_heads=128,
        num_kv_heads=128,
        head_dim=192,
        vocab_size=129280,
        max_position_embeddings=163840,
        total_parameters=671_026_419_200,
        active_parameters=37_000_000_000,
        embedding_parameters=embed,
        lm_head_parameters=embed,
        expert_parameters=58 * 256 * 3 * 7168 * 2048,
        vision_parameters=0,
        num_experts=256,
        experts_per_token=8,
        sliding_window=None,
        sliding_window_layers=0,
        kv_lora_rank=512,
        qk_rope_head_dim=64,
        checkpoint_dtype="fp8",
        published_parameters=None,
    )
