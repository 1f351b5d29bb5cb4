"""What a GPU machine serves: engine, model and flags, read from command lines, env and tags.

:class:`Served` holds what an engine invocation says. Each field is ``None`` when not given
(the engine's default applies), a value when given, or an :class:`Unknown` when given but not
resolvable statically (``--tensor-parallel-size ${var.tp}``). Nothing is guessed: rules that need
an unknown field stay silent.

The scanning of boot scripts, manifests and container specs lives in
:mod:`llmplan.serving.scan`, and what tags and ``.llmplan.yaml`` declare in
:mod:`llmplan.serving.intent`; this module holds the flag tables and the argv/env readers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from llmplan.terraform.values import Unknown, as_float, as_int

ENGINE_NAMES = {"vllm": "vLLM", "sglang": "SGLang", "tgi": "TGI", "trtllm": "TensorRT-LLM"}

# Flag spellings per engine -> Served field. vLLM/SGLang/TGI accept "_" for "-"; TRT-LLM uses "_".
FLAGS: dict[str, dict[str, str]] = {
    "vllm": {
        "--model": "model", "--tensor-parallel-size": "tp", "-tp": "tp",
        "--pipeline-parallel-size": "pp", "-pp": "pp", "--data-parallel-size": "dp",
        "-dp": "dp", "--max-model-len": "context", "--gpu-memory-utilization": "memory_fraction",
        "--max-num-seqs": "max_num_seqs", "--quantization": "quantization",
        "-q": "quantization", "--kv-cache-dtype": "kv_cache_dtype", "--dtype": "dtype",
    },
    "sglang": {
        "--model-path": "model", "--model": "model", "--tp-size": "tp",
        "--tensor-parallel-size": "tp", "--tp": "tp", "--pp-size": "pp",
        "--pipeline-parallel-size": "pp", "--dp-size": "dp", "--data-parallel-size": "dp",
        "--dp": "dp", "--context-length": "context", "--mem-fraction-static": "memory_fraction",
        "--max-running-requests": "max_num_seqs", "--max-total-tokens": "max_batch_tokens",
        "--quantization": "quantization", "--kv-cache-dtype": "kv_cache_dtype",
        "--dtype": "dtype", "--nnodes": "nodes",
    },
    "tgi": {
        "--model-id": "model", "--num-shard": "tp", "--max-total-tokens": "context",
        "--max-input-tokens": "max_input_tokens", "--max-input-length": "max_input_tokens",
        "--max-batch-total-tokens": "max_batch_tokens",
        "--max-concurrent-requests": "max_num_seqs", "--cuda-memory-fraction": "memory_fraction",
        "--quantize": "quantization", "--kv-cache-dtype": "kv_cache_dtype", "--dtype": "dtype",
    },
    "trtllm": {
        "--model": "model", "--tp_size": "tp", "--pp_size": "pp", "--max_seq_len": "context",
        "--max_batch_size": "max_num_seqs",
        "--kv_cache_free_gpu_memory_fraction": "memory_fraction",
    },
}

# Environment variables (and JSON/YAML keys of engine-args files such as Triton's vLLM
# model.json) -> Served field. Names compare case-insensitively.
ENV: dict[str, dict[str, str]] = {
    "vllm": {
        "model": "model", "tensor_parallel_size": "tp", "pipeline_parallel_size": "pp",
        "data_parallel_size": "dp", "max_model_len": "context",
        "gpu_memory_utilization": "memory_fraction", "max_num_seqs": "max_num_seqs",
        "quantization": "quantization", "kv_cache_dtype": "kv_cache_dtype", "dtype": "dtype",
        "nim_tensor_parallel_size": "tp", "nim_max_model_len": "context",
    },
    "tgi": {
        "model_id": "model", "hf_model_id": "model", "num_shard": "tp", "sm_num_gpus": "tp",
        "max_total_tokens": "context", "max_input_tokens": "max_input_tokens",
        "max_input_length": "max_input_tokens", "max_batch_total_tokens": "max_batch_tokens",
        "max_concurrent_requests": "max_num_seqs", "cuda_memory_fraction": "memory_fraction",
        "quantize": "quantization", "hf_model_quantize": "quantization", "dtype": "dtype",
        "kv_cache_dtype": "kv_cache_dtype",
    },
    "sglang": {},
    "trtllm": {},
}

_INT_FIELDS = {"tp", "pp", "dp", "context", "max_num_seqs", "max_batch_tokens",
               "max_input_tokens", "nodes"}
_FLOAT_FIELDS = {"memory_fraction"}

# Engine quantization names -> (spec precision, spec quantization). None: the checkpoint decides.
QUANTIZATION: dict[str, tuple[str, str | None] | None] = {
    "awq": ("int4", "awq"), "awq_marlin": ("int4", "awq"), "gptq": ("int4", "gptq"),
    "gptq_marlin": ("int4", "gptq"), "marlin": ("int4", "gptq"), "fp8": ("fp8", "fp8"),
    "bitsandbytes": ("int4", "bitsandbytes"), "bitsandbytes-nf4": ("int4", "bitsandbytes"),
    "bitsandbytes-fp4": ("int4", "bitsandbytes"), "eetq": ("int8", "w8a8"),
    "mxfp4": ("int4", "mxfp4"), "compressed-tensors": None, "exl2": None,
}


@dataclass
class Served:
    """One engine invocation (or serving stack) and what its flags say."""

    server: str  # display name: "vLLM", "Triton (vLLM backend)", "TGI", "Ray Serve", ...
    engine: str | None = None  # a key of ENGINE_NAMES, None for servers we cannot size
    model: Any = None
    tp: Any = None
    pp: Any = None
    dp: Any = None
    context: Any = None
    memory_fraction: Any = None
    max_num_seqs: Any = None
    max_batch_tokens: Any = None
    max_input_tokens: Any = None
    quantization: Any = None
    kv_cache_dtype: Any = None
    dtype: Any = None
    gpus: Any = None  # GPUs given to the engine's container/process (None: all of the machine)
    group_size: int | None = None  # pods per replica (LeaderWorkerSet): multi-node serving
    nodes: Any = None  # machines one replica spans (SGLang --nnodes)
    image: str | None = None
    node_selector: dict[str, str] = field(default_factory=dict)
    file: str = ""
    line: int = 0
    origin: str = ""

    def merge(self, other: Served) -> None:
        """Fill fields this record lacks from ``other`` (two sightings of one deployment)."""
        for f in fields(self):
            if f.name in ("file", "line", "origin", "node_selector"):
                continue
            if getattr(self, f.name) is None and getattr(other, f.name) is not None:
                setattr(self, f.name, getattr(other, f.name))
        self.node_selector = {**other.node_selector, **self.node_selector}


def coerce(name: str, raw: Any) -> Any:
    """A flag/env value as the field's type; an Unknown when it is not resolved."""
    if isinstance(raw, Unknown):
        return raw
    if raw is None:
        return None
    text = str(raw).strip().strip("'\"") if not isinstance(raw, int | float) else raw
    if isinstance(text, str) and ("${" in text or text.startswith("$")):
        return Unknown(text)
    if name in _INT_FIELDS:
        number = as_int(text)
        return number if number is not None else Unknown(str(text))
    if name in _FLOAT_FIELDS:
        value = as_float(text)
        return value if value is not None else Unknown(str(text))
    return str(text)


def _flag_key(engine: str, flag: str) -> str:
    if engine == "trtllm":
        return flag.replace("-", "_").replace("__", "--", 1) if flag.startswith("--") else flag
    return flag.replace("_", "-")


def apply_args(served: Served, args: Sequence[str], positional_model: bool) -> None:
    """Read an engine's argv (after the program name) into ``served``."""
    table = FLAGS.get(served.engine or "", {})
    i = 0
    seen_positional = False
    while i < len(args):
        token = args[i]
        if token.startswith("-"):
            name, eq, value = token.partition("=")
            key = table.get(_flag_key(served.engine or "", name))
            if key is None:
                i += 1
                continue
            if not eq:
                if i + 1 >= len(args):
                    break
                value = args[i + 1]
                i += 1
            setattr(served, key, coerce(key, value))
        elif positional_model and not seen_positional and served.model is None:
            served.model = coerce("model", token)
            seen_positional = True
        i += 1


def apply_env(served: Served, env: Mapping[str, Any]) -> None:
    """Read engine settings given as environment variables (or engine-args file keys)."""
    table = ENV.get(served.engine or "", {})
    for raw_name, value in env.items():
        key = table.get(str(raw_name).strip().lower())
        if key is not None and getattr(served, key) is None:
            setattr(served, key, coerce(key, value))


# --- declared intent: llmplan-* tags/labels and .llmplan.yaml


# --- model references


