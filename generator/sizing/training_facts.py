"""Training facts from ``data/training.json``: utilisation of published runs, node networks, spot.

Each value in that file carries its source; this module only reads and looks them up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from llmplan.gpus import GpuSpec
from llmplan.workload import Training


@cache
def document() -> dict[str, Any]:
    text = resources.files("llmplan").joinpath("data/training.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass(frozen=True)
class Utilisation:
    """Share of the GPU's dense 16-bit peak that the hardware FLOPs reach, and where it is from."""

    hardware: float
    basis: str


def default_utilisation(gpu: GpuSpec, training: Training) -> Utilisation:
    """The median utilisation of published runs like this one: full training, or LoRA / QLoRA."""
    entry = document()["utilisation"]["lora" if training.is_lora else "full"]
    per_gpu = entry["by_gpu"].get(gpu.name)
    if per_gpu is not None:
        return Utilisation(float(per_gpu["value"]), str(per_gpu["basis"]))
    fallback = entry["fallback"]
    return Utilisation(
        float(fallback["value"]),
        f"no published run on {gpu.name}: {fallback['basis']}",
    )


def node_network_gbps(cloud: str, instance_type: str) -> float | None:
    """The node's network bandwidth for GPU-to-GPU traffic between nodes (Gbit/s), if known."""
    entry = document()["networks"].get(cloud, {}).get(instance_type)
    return None if entry is None else float(entry["gbps"])


@dataclass(frozen=True)
class SpotDefaults:
    interruptions_per_node_day: float
    restart_minutes: float
    basis: str


def spot_defaults() -> SpotDefaults:
    spot = document()["spot"]
    return SpotDefaults(
        interruptions_per_node_day=float(spot["interruptions_per_node_day"]["value"]),
        restart_minutes=float(spot["restart_minutes"]["value"]),
        basis=str(spot["interruptions_per_node_day"]["basis"]),
    )
