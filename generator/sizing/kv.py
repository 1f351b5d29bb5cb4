"""KV-cache bytes per token and per request on one GPU of a TP x PP shape.

Covers grouped-query heads (replicated when TP exceeds them), MLA's compressed latent, sliding
windows for engines whose allocator keeps only the window, and fp8 caches.
"""

from __future__ import annotations

from llmplan.engines.profiles import EngineProfile
from llmplan.model.architecture import ModelArchitecture
from llmplan.sizing.precision import Precision, kv_dtype_bytes
from llmplan.sizing.weights import stage_layers


def kv_heads_per_gpu(arch: ModelArchitecture, tp: int) -> int:
    # With more ranks than KV heads each rank keeps a replica of one head.
    return max(1, arch.num_kv_heads // tp)


def kv_layer_bytes_per_token(arch: ModelArchitecture, precision: Precision, tp: int) -> int:
    """KV bytes one token costs in one layer on one GPU."""
    dtype = kv_dtype_bytes(precision)
    if arch.is_mla:
        # MLA caches one compressed latent plus the rope key, shared by all heads: TP does not
        # split it, every rank holds the whole latent for its layers.
        return ((arch.kv_lora_rank or 0) + (arch.qk_rope_head_dim or 0)) * dtype
    return 2 * kv_heads_per_gpu(arch, tp) * arch.head_dim * dtype


def kv_bytes_per_token_per_gpu(
    arch: ModelArchitecture, precision: Precision, tp: int, pp: int
) -> int:
    return kv_layer_bytes_per_token(arch, precision, tp) * stage_layers(arch.num_layers, pp)


def kv_bytes_per_request_per_gpu(
    arch: ModelArchitecture,
    precision: Precision,
    tp: int,
    pp: int,
    context: int,
    engine: EngineProfile,
) -> int:
    """KV bytes one full-length request holds on the fullest GPU.

    Engines with a hybrid allocator keep only the window for sliding-window layers.
    """
    per_layer = kv_layer_bytes_per_token(arch, precision, tp)
    layers = stage_layers(arch.num_layers, pp)
    if not (engine.sliding_window_aware and arch.sliding_window and arch.sliding_window_layers):
        return per_layer * layers * context
    share = arch.sliding_window_layers / arch.num_layers
    swa_layers = round(layers * share)
    window = min(context, arch.sliding_window + engine.kv_block_tokens)
    return per_layer * ((layers - swa_layers) * context + swa_layers * window)
