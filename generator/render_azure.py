"""Azure decisions for the templates: image, disk, spot and reservation settings, placement."""

from __future__ import annotations

from typing import Any

from llmplan.render import Deployment, boot_roles, labels

# Ubuntu-HPC (Microsoft's HPC image): NVIDIA driver, CUDA, InfiniBand/OFED, Docker and the NVIDIA
# container toolkit preinstalled, so no driver extension (and extension operations stay off).
IMAGE = {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc", "sku": "2204", "version": "latest"}


def boot_vars(d: Deployment) -> dict[str, dict[str, str]]:
    base = {"hf_token_secret": "var.hf_token_secret", "engine_image": "var.engine_image",
            "key_vault_name": "var.key_vault_name",
            "identity_client_id": "azurerm_user_assigned_identity.llm.client_id"}
    return boot_roles(d, base, "azurerm_network_interface.head[{group}].private_ip_address")


def context(d: Deployment) -> dict[str, Any]:
    ports = d.launch.ports
    port_range = str(ports[0]) if len(ports) == 1 else f"{min(ports)}-{max(ports)}"
    return {
        "tags": labels(d),
        "image": IMAGE,
        "port_range": port_range,
        # A VM takes a capacity reservation group or a proximity placement group, not both.
        "placement": d.topology == "multinode" and not d.is_reserved,
        "infiniband": d.fast_network == "infiniband",
    }
