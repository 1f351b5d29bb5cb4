"""GCP decisions for the templates: image, disk type, GPU attachment, scheduling, placement."""

from __future__ import annotations

from typing import Any

from llmplan.render.deployment import Deployment, labels
from llmplan.render.escape import gcp_label
from llmplan.render.roles import boot_roles

# Deep Learning VM images: NVIDIA driver (installed on first boot when metadata asks), CUDA,
# Docker and the NVIDIA container toolkit. Families move with CUDA: a variable overrides it.
DLVM_PROJECT = "deeplearning-platform-release"
DLVM_FAMILY = "common-cu128-ubuntu-2204-nvidia-570"
# Accelerator-optimized series carry their GPUs in the machine type; only N1 attaches them.
_N1_ACCELERATORS = {
    "T4": "nvidia-tesla-t4",
    "V100": "nvidia-tesla-v100",
    "P100": "nvidia-tesla-p100",
    "P4": "nvidia-tesla-p4",
}
# Series that boot only from Hyperdisk (A3 Mega/Ultra, A4); the others take pd-ssd.
_HYPERDISK_ONLY = ("a3-megagpu", "a3-ultragpu", "a3-edgegpu", "a4-", "a4x-")
# gVNIC is required by A3/A4 and supported by the Deep Learning VM images.
_GVNIC = ("a3-", "a4-", "a4x-")


def boot_vars(d: Deployment) -> dict[str, dict[str, str]]:
    base = {
        "hf_token_secret": "var.hf_token_secret",
        "engine_image": "var.engine_image",
        "project": "var.project",
    }
    return boot_roles(
        d, base, "google_compute_instance.head[{group}].network_interface[0].network_ip"
    )


def context(d: Deployment) -> dict[str, Any]:
    itype = d.instance_type
    accelerator = None
    if itype.startswith("n1-"):
        accelerator = _N1_ACCELERATORS.get(d.gpu.split("-")[0].upper())
    gcp_labels = {gcp_label(k): gcp_label(v) for k, v in labels(d).items()}
    return {
        "labels": gcp_labels,
        "metadata_labels": labels(d),
        "dlvm_project": DLVM_PROJECT,
        "dlvm_family": DLVM_FAMILY,
        "zone": f"{d.region}-a",
        "disk_type": "hyperdisk-balanced" if itype.startswith(_HYPERDISK_ONLY) else "pd-ssd",
        "gvnic": itype.startswith(_GVNIC),
        "accelerator": accelerator,
        "ports": [str(p) for p in d.launch.ports],
        "tcpx": d.fast_network,
    }
