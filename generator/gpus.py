"""GPU specs (facts in data/gpus.json), looked up by name or alias, case-insensitively."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from llmplan.errors import UsageError, did_you_mean

GIB = 1024**3


@dataclass(frozen=True)
class GpuSpec:
    name: str
    vendor: str
    memory_gb: float
    memory_gib_usable: float
    memory_bandwidth_gbs: float
    bf16_dense_tflops: float
    fp8_dense_tflops: float | None
    int8_dense_tops: float | None
    fp8_supported: bool
    interconnect: str
    nvlink_gbs: float | None
    pcie_gbs: float | None
    source: str

    @property
    def usable_bytes(self) -> int:
        return int(self.memory_gib_usable * GIB)


@cache
def _document() -> dict[str, Any]:
    text = resources.files("llmplan").joinpath("data/gpus.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for name, raw in _document()["gpus"].items():
        index[name.lower()] = name
        for alias in raw.get("aliases", []):
            index.setdefault(alias.lower(), name)
    return index


def gpu_names() -> list[str]:
    return list(_document()["gpus"])


def canonical_gpu_name(name: str) -> str | None:
    return _index().get(name.strip().lower())


def get_gpu(name: str) -> GpuSpec:
    canonical = canonical_gpu_name(name)
    if canonical is None:
        raise UsageError(f"unknown GPU '{name}'{did_you_mean(name, gpu_names())}")
    raw = _document()["gpus"][canonical]

    def opt(key: str) -> float | None:
        value = raw.get(key)
        return None if value is None else float(value)

    return GpuSpec(
        name=canonical,
        vendor=raw.get("vendor", "nvidia"),
        memory_gb=float(raw["memory_gb"]),
        memory_gib_usable=float(raw["memory_gib_usable"]),
        memory_bandwidth_gbs=float(raw["memory_bandwidth_gbs"]),
        # T4/A10G have no bf16 path worth the name: their fp16 figure is what kernels get.
        bf16_dense_tflops=opt("bf16_dense_tflops") or opt("fp16_dense_tflops") or 0.0,
        fp8_dense_tflops=opt("fp8_dense_tflops"),
        int8_dense_tops=opt("int8_dense_tops"),
        fp8_supported=bool(raw.get("fp8_supported", False)),
        interconnect=raw.get("interconnect", "pcie"),
        nvlink_gbs=opt("nvlink_gbs"),
        pcie_gbs=opt("pcie_gbs"),
        source=raw.get("source", ""),
    )
