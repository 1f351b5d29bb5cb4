"""Serving-engine profiles: how each engine spends GPU memory (facts in data/engines.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from llmplan.errors import UsageError, did_you_mean


@dataclass(frozen=True)
class EngineProfile:
    """One engine's memory behaviour.

    ``fraction_of`` is ``total`` when the memory fraction caps weights + activations + KV cache
    (vLLM, TGI), ``static`` when it covers only the weights and the KV pool (SGLang's
    ``--mem-fraction-static``), and ``free`` when it applies to what is left after weights and
    activations (TensorRT-LLM's ``kv_cache_free_gpu_memory_fraction``).
    """

    name: str
    display: str
    memory_fraction_flag: str
    default_memory_fraction: float
    fraction_by_tp: tuple[tuple[int, float], ...]
    fraction_of: str
    kv_block_tokens: int
    default_max_batched_tokens: int
    default_max_seqs: int
    sliding_window_aware: bool
    source: str
    small_gpu_gib: float = 0.0
    small_gpu_max_batched_tokens: int = 0
    small_gpu_max_seqs: int = 0
    small_batch_gpus: tuple[str, ...] = ()

    def batch_defaults(self, gpu_memory_gib: float, gpu: str = "") -> tuple[int, int]:
        """(max batched tokens, max sequences) the engine picks by itself on this GPU."""
        if gpu_memory_gib < self.small_gpu_gib or gpu in self.small_batch_gpus:
            return self.small_gpu_max_batched_tokens, self.small_gpu_max_seqs
        return self.default_max_batched_tokens, self.default_max_seqs

    def memory_fraction(self, tensor_parallel: int, requested: float | None) -> float:
        if requested is not None:
            return requested
        for min_tp, fraction in self.fraction_by_tp:
            if tensor_parallel >= min_tp:
                return fraction
        return self.default_memory_fraction


@cache
def _document() -> dict[str, Any]:
    text = resources.files("llmplan").joinpath("data/engines.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def engine_names() -> list[str]:
    return sorted(_document()["engines"])


def get_engine(name: str) -> EngineProfile:
    engines = _document()["engines"]
    raw = engines.get(name.lower())
    if raw is None:
        raise UsageError(f"unknown engine '{name}'{did_you_mean(name, engines)}")
    return EngineProfile(
        name=name.lower(),
        display=raw["display"],
        memory_fraction_flag=raw["memory_fraction_flag"],
        default_memory_fraction=float(raw["default_memory_fraction"]),
        fraction_by_tp=tuple(
            (int(t), float(f)) for t, f in raw.get("default_memory_fraction_by_tp", [])
        ),
        fraction_of=raw["fraction_of"],
        kv_block_tokens=int(raw["kv_block_tokens"]),
        default_max_batched_tokens=int(raw["default_max_batched_tokens"]),
        default_max_seqs=int(raw["default_max_seqs"]),
        sliding_window_aware=bool(raw["sliding_window_aware"]),
        source=raw["source"],
        small_gpu_gib=float(raw.get("small_gpu_gib", 0.0)),
        small_gpu_max_batched_tokens=int(raw.get("small_gpu_max_batched_tokens", 0)),
        small_gpu_max_seqs=int(raw.get("small_gpu_max_seqs", 0)),
        small_batch_gpus=tuple(raw.get("small_batch_gpus", ())),
    )
