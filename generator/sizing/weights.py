"""Weight bytes: the whole checkpoint as loaded, and the share of the fullest GPU of a shape.

Pure functions over the architecture and the precision; all sizes are bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from llmplan.model.architecture import ModelArchitecture
from llmplan.sizing.precision import DENSE_BYTES, INT4_BYTES, Precision

# vLLM's MXFP4 MoE kernels pad each rank's expert width to 128 and the hidden width to 256.
MXFP4_INTERMEDIATE_ALIGN = 128


MXFP4_HIDDEN_ALIGN = 256


@dataclass(frozen=True)
class WeightBytes:
    """Whole-model weight bytes by where they sit."""

    embedding: float
    lm_head: float
    vision: float
    body: float

    @property
    def total(self) -> float:
        return self.embedding + self.lm_head + self.vision + self.body


def weight_bytes(arch: ModelArchitecture, precision: Precision) -> WeightBytes:
    """Bytes of the checkpoint as loaded: quantized layers at their packed size, the rest 16-bit."""
    keep = 4.0 if precision.weights == "fp32" else 2.0
    # The served weights: DeepSeek's multi-token-prediction module is loaded only for speculation.
    body_params = (
        arch.served_parameters
        - arch.embedding_parameters
        - arch.lm_head_parameters
        - arch.vision_parameters
    )
    if precision.weights == "int4":
        packed = INT4_BYTES.get(precision.method or "awq", INT4_BYTES["awq"])
    else:
        packed = DENSE_BYTES[precision.weights]
    if precision.method == "mxfp4" and arch.is_moe:
        # MXFP4 checkpoints (gpt-oss) quantize only the routed experts; attention stays 16-bit.
        body = arch.expert_parameters * packed + (body_params - arch.expert_parameters) * keep
    else:
        body = body_params * packed
    return WeightBytes(
        embedding=arch.embedding_parameters * keep,
        lm_head=arch.lm_head_parameters * keep,
        vision=arch.vision_parameters * 2.0,
        body=body,
    )


def _round_up(value: float, align: int) -> int:
    return int(math.ceil(value / align) * align)


def _mxfp4_padding_bytes(arch: ModelArchitecture, precision: Precision, tp: int) -> float:
    """Extra bytes the padded MXFP4 expert tensors take over the checkpoint's packed size."""
    width = round(moe_width(arch))
    hidden = arch.hidden_size
    factor = (_round_up(width / tp, MXFP4_INTERMEDIATE_ALIGN) * tp / width) * (
        _round_up(hidden, MXFP4_HIDDEN_ALIGN) / hidden
    )
    packed = INT4_BYTES["mxfp4"]
    return arch.expert_parameters * packed * (factor - 1)


def stage_layers(num_layers: int, pipeline: int) -> int:
    return math.ceil(num_layers / pipeline)


def weights_per_gpu(arch: ModelArchitecture, precision: Precision, tp: int, pp: int) -> int:
    """Weight bytes on the fullest GPU: its share of the layers, plus embeddings at the ends."""
    wb = weight_bytes(arch, precision)
    per_layer = wb.body / arch.num_layers
    layers = stage_layers(arch.num_layers, pp)
    lm_head = wb.lm_head if wb.lm_head else (wb.embedding if pp > 1 else 0.0)
    if precision.method == "mxfp4" and arch.is_moe:
        wb = replace(wb, body=wb.body + _mxfp4_padding_bytes(arch, precision, tp))
    if pp == 1:
        total = wb.total
    else:
        first = layers * per_layer + wb.embedding + wb.vision
        last = (arch.num_layers - layers * (pp - 1)) * per_layer + lm_head
        total = max(first, last, layers * per_layer)
    return int(total / tp)


def dense_width(arch: ModelArchitecture) -> float:
    if arch.intermediate_size:
        return float(arch.intermediate_size)
    # Hand-built records may lack the width; recover it from the per-layer parameters.
    attn = arch.hidden_size * arch.head_dim * (2 * arch.num_attention_heads + 2 * arch.num_kv_heads)
    body = arch.total_parameters - arch.embedding_parameters - arch.lm_head_parameters
    body -= arch.vision_parameters
    mlp_per_layer = max(0.0, body / arch.num_layers - attn)
    return mlp_per_layer / (3 * arch.hidden_size)


def moe_width(arch: ModelArchitecture) -> float:
    if arch.moe_intermediate_size:
        return float(arch.moe_intermediate_size)
    per_expert = arch.expert_parameters / max(1, arch.num_layers * arch.num_experts)
    return per_expert / (3 * arch.hidden_size)
