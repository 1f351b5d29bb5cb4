"""AWS decisions for the templates: AMI, disk, market options, EFA layout, boot variables."""

from __future__ import annotations

from typing import Any

from llmplan.render.deployment import Deployment, labels
from llmplan.render.roles import boot_roles

# The Deep Learning Base OSS NVIDIA driver AMI (Ubuntu 22.04) via its public SSM parameter: NVIDIA
# driver, Docker + NVIDIA container toolkit, EFA and aws-ofi-nccl preinstalled.
DLAMI_PARAMETER = (
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
)
# Network cards per EFA instance type (AWS "EFA supported instance types" tables): one EFA
# interface per card gives NCCL the full inter-node bandwidth.
EFA_NETWORK_CARDS = {
    "p4d.24xlarge": 4,
    "p4de.24xlarge": 4,
    "p5.48xlarge": 32,
    "p5e.48xlarge": 32,
    "p5en.48xlarge": 16,
    "p6-b200.48xlarge": 8,
}


def boot_vars(d: Deployment) -> dict[str, dict[str, str]]:
    base = {"hf_token_secret": "var.hf_token_secret", "engine_image": "var.engine_image",
            "region": "var.region"}
    return boot_roles(d, base, "aws_instance.head[{group}].private_ip")


def context(d: Deployment) -> dict[str, Any]:
    efa = d.topology == "multinode" and d.fast_network == "efa"
    cards = EFA_NETWORK_CARDS.get(d.instance_type, 1) if efa else 0
    port_from, port_to = min(d.launch.ports), max(d.launch.ports)
    return {
        "tags": labels(d),
        "dlami_parameter": DLAMI_PARAMETER,
        "efa": efa,
        "efa_cards": cards,
        "placement": d.topology == "multinode",
        "port_from": port_from,
        "port_to": port_to,
        "capacity_reservation": d.is_reserved,
    }
