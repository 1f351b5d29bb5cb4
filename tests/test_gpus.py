"""The GPU fact file (generator/data/gpus.json): complete, sourced, and internally consistent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
GPUS_JSON = ROOT / "generator" / "data" / "gpus.json"

REQUIRED = ["T4", "L4", "A10G", "A10", "L40S", "A100-40GB", "A100-80GB", "H100-80GB",
            "H100-NVL", "H200", "B200", "RTX-4090", "MI300X"]

# Names the clouds use for these GPUs (AWS GpuInfo.Name, GCP accelerator types).
CLOUD_NAMES = {
    "A10G": "A10G", "L4": "L4", "L40S": "L40S", "H100": "H100-80GB", "H200": "H200", "B200": "B200",
    "nvidia-l4": "L4", "nvidia-tesla-a100": "A100-40GB", "nvidia-a100-80gb": "A100-80GB",
    "nvidia-h100-80gb": "H100-80GB", "nvidia-h100-mega-80gb": "H100-80GB",
    "nvidia-h200-141gb": "H200", "nvidia-b200": "B200", "nvidia-tesla-t4": "T4",
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GPUS_JSON.read_text(encoding="utf-8"))
    return data


def _index(doc: dict[str, Any]) -> dict[str, str]:
    index: dict[str, str] = {}
    for name, spec in doc["gpus"].items():
        index[name.lower()] = name
        for alias in spec.get("aliases", []):
            index[alias.lower()] = name
    return index


def test_every_required_gpu_is_present(doc: dict[str, Any]) -> None:
    missing = [name for name in REQUIRED if name not in doc["gpus"]]
    assert not missing, f"missing GPUs: {missing}"


def test_usable_memory_is_positive_and_not_above_nameplate(doc: dict[str, Any]) -> None:
    for name, spec in doc["gpus"].items():
        usable, nameplate = spec["memory_gib_usable"], spec["memory_gb"]
        assert 0 < usable <= nameplate, f"{name}: usable {usable} GiB, nameplate {nameplate}"
        # The runtime never exposes less than ~85% of the board.
        assert usable >= 0.85 * nameplate, f"{name}: usable {usable} looks too small"


def test_aliases_are_unique_case_insensitively(doc: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for name, spec in doc["gpus"].items():
        for label in [name, *spec.get("aliases", [])]:
            key = label.lower()
            other = seen.get(key)
            assert other in (None, name), f"'{label}' used by {other} and {name}"
            seen[key] = name
        lowered = [a.lower() for a in spec.get("aliases", [])]
        assert len(lowered) == len(set(lowered)), f"{name}: duplicate alias"


def test_cloud_gpu_names_resolve(doc: dict[str, Any]) -> None:
    index = _index(doc)
    for label, expected in CLOUD_NAMES.items():
        got = index.get(label.lower())
        assert got == expected, f"{label} -> {got}, want {expected}"


def test_every_fact_has_a_source_with_url_and_date(doc: dict[str, Any]) -> None:
    sources = doc["sources"]
    for key, src in sources.items():
        assert src.get("url", "").startswith("https://"), key
        assert len(src.get("date", "")) == 10, key
    for name, spec in doc["gpus"].items():
        for field in ("source", "memory_source"):
            assert spec[field] in sources, f"{name}.{field} = {spec[field]!r} is not a source"


def test_numbers_are_consistent(doc: dict[str, Any]) -> None:
    for name, spec in doc["gpus"].items():
        assert spec["vendor"] in {"nvidia", "amd"}, name
        assert spec["memory_bandwidth_gbs"] > 0, name
        assert spec["fp8_supported"] == (spec["fp8_dense_tflops"] is not None), name
        bf16 = spec["bf16_dense_tflops"]
        if bf16 is not None and spec["fp8_dense_tflops"] is not None:
            # Dense FP8 is twice dense BF16 on every part listed here.
            assert spec["fp8_dense_tflops"] == pytest.approx(2 * bf16, rel=0.02), name
        if spec["interconnect"] == "nvlink":
            assert spec["nvlink_gbs"], name
        else:
            assert spec["nvlink_gbs"] is None, name
        assert spec["interconnect"] in {"nvlink", "pcie", "xgmi"}, name


def test_headline_figures(doc: dict[str, Any]) -> None:
    h100 = doc["gpus"]["H100-80GB"]
    assert h100["bf16_dense_tflops"] == pytest.approx(989.5)
    assert h100["fp8_dense_tflops"] == 1979
    assert h100["memory_bandwidth_gbs"] == 3350
    assert h100["memory_mib_nvidia_smi"] == 81559
    assert h100["memory_gib_usable"] == pytest.approx(79.19, abs=0.01)
    assert doc["gpus"]["L40S"]["memory_mib_aws"] == 45776
    assert doc["gpus"]["B200"]["memory_mib_aws"] == 183359
