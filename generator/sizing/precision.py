"""Weight and KV-cache precision: what the spec asks for, else what the checkpoint is.

Pure lookups over the architecture's checkpoint dtype and the workload; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmplan.model.architecture import ModelArchitecture
from llmplan.workload import Workload

# Bytes per weight by precision, for the part of the model that is quantized.
DENSE_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}


# Group-quantized 4-bit layouts: 4-bit codes plus one 16-bit scale (and a packed 4-bit zero point
# for AWQ/GPTQ) per group of 128 input weights; MXFP4 has an 8-bit scale per 32 weights.
INT4_BYTES = {
    "awq": 0.5 + (2 + 0.5) / 128,
    "gptq": 0.5 + (2 + 0.5) / 128,
    "mxfp4": 0.5 + 1 / 32,
    "bitsandbytes": 0.5 + 4 / 64,
}


GROUP_SIZE = {"awq": 128, "gptq": 128}


_DEFAULT_METHOD = {"fp8": "fp8", "int8": "w8a8", "int4": "awq"}


_CHECKPOINT_PRECISION = {
    "float32": "fp32",
    "fp32": "fp32",
    "bfloat16": "bf16",
    "bf16": "bf16",
    "float16": "fp16",
    "fp16": "fp16",
    "fp8": "fp8",
    "float8": "fp8",
    "int8": "int8",
    "mxfp4": "int4",
    "int4": "int4",
    "awq": "int4",
    "gptq": "int4",
}


_CHECKPOINT_METHOD = {"mxfp4": "mxfp4", "awq": "awq", "gptq": "gptq", "fp8": "fp8", "float8": "fp8"}


@dataclass(frozen=True)
class Precision:
    weights: str
    method: str | None
    kv_cache: str

    @property
    def label(self) -> str:
        return f"{self.weights}/{self.method}" if self.method else self.weights


def resolve_precision(arch: ModelArchitecture, workload: Workload) -> Precision:
    """The weight precision and method: the spec's, else the checkpoint's own."""
    native = arch.checkpoint_dtype.lower()
    weights = workload.precision or _CHECKPOINT_PRECISION.get(native, "bf16")
    method: str | None = workload.quantization
    if method is None and workload.precision is None:
        method = _CHECKPOINT_METHOD.get(native)
    if method is None and weights in _DEFAULT_METHOD:
        method = _DEFAULT_METHOD[weights]
    return Precision(weights=weights, method=method, kv_cache=workload.kv_cache_dtype)


def kv_dtype_bytes(precision: Precision) -> int:
    if precision.kv_cache == "fp8":
        return 1
    return 4 if precision.weights == "fp32" else 2
