"""A cloud added from outside this repository, through the ``llmplan.providers`` entry points.

The test writes a tiny installed distribution (a module plus its ``.dist-info`` with an
``entry_points.txt``) into a temporary folder on ``PYTHONPATH`` and plans on it end to end in a
fresh ``llmplan`` process: nothing in the core names the new cloud.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PLUGIN = '''
from llmplan.providers.document import DocumentProvider

DOCUMENT = {
    "format": 1,
    "cloud": "tinycloud",
    "source": "snapshot",
    "as_of": "2026-11-01",
    "sources": {"price-sheet": {"url": "https://tinycloud.example/prices", "date": "2026-11-01"}},
    "regions": {"tc-west": {"geo": "us", "name": "Tiny West"}},
    "instance_types": {
        "tc.h100x1": {"gpu": "H100-80GB", "gpu_count": 1, "gpu_memory_gib": 80, "vcpus": 24,
                      "memory_gib": 240, "interconnect": "pcie", "fast_network": None,
                      "source": "price-sheet"},
        "tc.l4x1": {"gpu": "L4", "gpu_count": 1, "gpu_memory_gib": 24, "vcpus": 8,
                    "memory_gib": 32, "interconnect": "pcie", "fast_network": None,
                    "source": "price-sheet"},
    },
    "prices": [
        {"instance_type": "tc.h100x1", "region": "tc-west", "tier": "on-demand",
         "hourly_usd": 1.99, "source": "price-sheet", "as_of": "2026-11-01"},
        {"instance_type": "tc.l4x1", "region": "tc-west", "tier": "on-demand",
         "hourly_usd": 0.39, "source": "price-sheet", "as_of": "2026-11-01"},
    ],
    "unpriced": [
        {"instance_type": "tc.h100x1", "region": "tc-west", "tier": "reserved-1y",
         "reason": "tinycloud sells no commitments"},
    ],
}


class TinyCloud(DocumentProvider):
    name = "tinycloud"

    def snapshot_document(self):
        return DOCUMENT


provider = TinyCloud()
'''


def _install_plugin(root: Path) -> None:
    (root / "tinycloud_llmplan.py").write_text(PLUGIN)
    info = root / "tinycloud_llmplan-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinycloud-llmplan\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[llmplan.providers]\ntinycloud = tinycloud_llmplan:provider\n")


def _llmplan(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    return subprocess.run([sys.executable, "-m", "llmplan", *args], capture_output=True,
                          text=True, env=env, check=False)


def test_a_provider_from_another_package_is_planned_on(tmp_path: Path) -> None:
    _install_plugin(tmp_path)
    proc = _llmplan(tmp_path, "plan", "--model", "meta-llama/Llama-3.1-8B-Instruct",
                    "--context", "4096", "--concurrency", "4", "--clouds", "tinycloud",
                    "--format", "json")
    assert proc.returncode == 0, proc.stderr
    best = json.loads(proc.stdout)["best"]["tinycloud"]
    # 8B bf16 (15 GiB) fits an L4 for 4 x 4k requests, and the L4 is the cheaper machine.
    assert (best["instance_type"], best["hourly_usd"]) == ("tc.l4x1", 0.39)
    assert best["price_as_of"] == "2026-11-01"


def test_the_new_cloud_is_listed_with_the_built_in_ones(tmp_path: Path) -> None:
    _install_plugin(tmp_path)
    proc = _llmplan(tmp_path, "plan", "--model", "meta-llama/Llama-3.1-8B-Instruct",
                    "--clouds", "tinycloud,aws", "--tier", "reserved-1y", "--explain")
    assert proc.returncode == 0, proc.stderr
    assert "tinycloud sells no commitments" in proc.stdout
    unknown = _llmplan(tmp_path, "plan", "--model", "meta-llama/Llama-3.1-8B-Instruct",
                       "--clouds", "tinycloud2")
    assert unknown.returncode == 2
    assert "did you mean tinycloud" in unknown.stderr and "Traceback" not in unknown.stderr
