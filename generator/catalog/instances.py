"""What llmplan knows about an instance type by name, priced or not: GPU model and count.

From the providers' price snapshots plus ``data/extra_instance_types.json`` (sizes the snapshots
do not price); names match case-insensitively. Used to recognise GPU compute in existing
Terraform.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class InstanceSpec:
    """What the catalog knows about one instance type."""

    cloud: str
    name: str  # canonical spelling
    gpu: str | None
    gpu_count: int
    gpu_memory_gib: float
    partial_gpu: float | None = None
    source: str = ""


@cache
def _extra() -> dict[str, Any]:
    text = resources.files("llmplan").joinpath("data/extra_instance_types.json").read_text(
        encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _catalog(cloud: str) -> dict[str, InstanceSpec]:
    """Lower-cased name -> spec, from the price snapshot and the extra data file."""
    out: dict[str, InstanceSpec] = {}
    for name, raw in _extra()["instance_types"].get(cloud, {}).items():
        out[name.lower()] = InstanceSpec(cloud, name, raw.get("gpu"), int(raw["gpu_count"]),
                                         float(raw.get("gpu_memory_gib", 0)),
                                         raw.get("partial_gpu"), raw.get("source", ""))
    try:
        from llmplan.catalog.plugins import get_provider

        snapshot = get_provider(cloud).snapshot_document().get("instance_types") or {}
    except Exception:  # noqa: BLE001 - a missing snapshot leaves only the extra data
        snapshot = {}
    for name, raw in snapshot.items():
        out[name.lower()] = InstanceSpec(cloud, name, raw.get("gpu"), int(raw["gpu_count"]),
                                         float(raw.get("gpu_memory_gib", 0)), None,
                                         f"{cloud} price snapshot")
    return out


def lookup(cloud: str, name: str) -> InstanceSpec | None:
    """The spec of an instance/machine type (SageMaker ``ml.`` names map to EC2's)."""
    key = name.strip().lower()
    if cloud == "aws" and key.startswith(_extra()["sagemaker_prefix"]):
        key = key[len(_extra()["sagemaker_prefix"]):]
    return _catalog(cloud).get(key)


def family_of(cloud: str, name: str) -> str | None:
    """The family key under which ``name`` is judged complete, or None if not judged."""
    key = name.strip().lower().removeprefix("ml.") if cloud == "aws" else name.strip().lower()
    families = _extra()["complete_families"][cloud]
    if cloud == "aws":
        family = key.split(".", 1)[0]
        return family if "." in key and family in families else None
    if cloud == "gcp":
        family = key.split("-", 1)[0]
        return family if "-" in key and family in families else None
    if not key.startswith("standard_n"):
        return None
    return next((f for f in families if key.endswith(f.lower())), None)


def exists(cloud: str, name: str) -> bool | None:
    """True/False for names in a family we list completely; None when we cannot tell."""
    if lookup(cloud, name) is not None:
        return True
    return False if family_of(cloud, name) is not None else None


def similar(cloud: str, name: str, n: int = 3) -> list[str]:
    import difflib

    family = family_of(cloud, name)
    pool = [s.name for s in _catalog(cloud).values()
            if family is None or family_of(cloud, s.name) == family]
    if cloud == "aws" and name.lower().startswith("ml."):
        pool = [f"ml.{p}" for p in pool]
    lowered = {p.lower(): p for p in pool}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[c] for c in close]


def gcp_accelerator_gpu(accelerator: str) -> str | None:
    gpu = _extra()["gcp_accelerators"].get(accelerator.strip().lower())
    return str(gpu) if gpu is not None else None


def known_gcp_accelerators() -> list[str]:
    return list(_extra()["gcp_accelerators"])
