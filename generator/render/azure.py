"""Azure decisions for the templates: image, disk, spot and reservation settings, placement."""

from __future__ import annotations

from typing import Any

from llmplan.render.deployment import Deployment, labels
from llmplan.render.roles import boot_roles

# Ubuntu-HPC (Microsoft's HPC image): NVIDIA driver, CUDA, InfiniBand/OFED, Docker and the NVIDIA
# container toolkit preinstalled, so no driver extension (and extension operations stay off). It is
# also one of the images ND H100 v5 supports for InfiniBand (MS Learn, ND H100 v5 size page), and a
# first-party image without a purchase plan, so no plan block or terms acceptance.
IMAGE = {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc", "sku": "2204", "version": "latest"}

# NCCL topology files the HPC image copies to /opt/microsoft (Azure/azhpc-images
# common/setup_sku_customizations.sh); without one NCCL pairs GPUs and HCAs from a generic graph.
TOPOLOGY_FILES = {"_H100_v5": "ndv5-topo.xml", "_A100_v4": "ndv4-topo.xml"}


def boot_vars(d: Deployment) -> dict[str, dict[str, str]]:
    base = {"hf_token_secret": "var.hf_token_secret", "engine_image": "var.engine_image",
            "key_vault_name": "var.key_vault_name",
            "identity_client_id": "azurerm_user_assigned_identity.llm.client_id"}
    if d.topology == "multinode":
        # One boot script for every node of a scale set: rank and head are found at boot
        # (boot_discovery), these are only the starting values it overrides.
        return {"node": {**base, "node_rank": "0", "head_address": '""'}}
    return boot_roles(d, base, "")


def boot_discovery(d: Deployment) -> str | None:
    """The boot-script part that finds this node's rank and the head (multi-node scale sets)."""
    return "azure/cluster.sh.j2" if d.topology == "multinode" else None


def topology_file(instance_type: str) -> str | None:
    for suffix, name in TOPOLOGY_FILES.items():
        if instance_type.endswith(suffix):
            return f"/opt/microsoft/{name}"
    return None


def container_options(d: Deployment) -> tuple[str, ...]:
    """``docker run`` options that let NCCL inside the engine container use InfiniBand."""
    if d.topology != "multinode" or d.fast_network != "infiniband":
        return ()
    # RDMA from a container needs the verbs devices and unlimited locked memory for its
    # registrations; host networking (already used for multi-node) shows it the IPoIB ports.
    opts = ["--device", "/dev/infiniband", "--cap-add", "IPC_LOCK", "--ulimit", "memlock=-1",
            "-v", "/opt/microsoft:/opt/microsoft:ro",
            # The HPC image names the InfiniBand HCAs mlx5_ib<N> and the accelerated-networking
            # VF mlx5_an0 (azhpc-images azure_persistent_rdma_naming): the prefix keeps NCCL's
            # data path on InfiniBand; its bootstrap stays on the Ethernet NIC the nodes share.
            "-e", "NCCL_IB_DISABLE=0", "-e", "NCCL_IB_HCA=mlx5_ib",
            "-e", "NCCL_SOCKET_IFNAME=eth0",
            # What the image's /etc/nccl.conf sets on the host for ND v4/v5, which the
            # container does not see.
            "-e", "NCCL_IB_PCI_RELAXED_ORDERING=1"]
    topo = topology_file(d.instance_type)
    if topo:
        opts += ["-e", f"NCCL_TOPO_FILE={topo}"]
    return tuple(opts)


def context(d: Deployment) -> dict[str, Any]:
    ports = d.launch.ports
    port_range = str(ports[0]) if len(ports) == 1 else f"{min(ports)}-{max(ports)}"
    return {
        "tags": labels(d),
        "image": IMAGE,
        "port_range": port_range,
        # Azure only lets a Uniform scale set use a capacity reservation with
        # single_placement_group = false, and InfiniBand needs one placement group: a multi-node
        # plan keeps InfiniBand and goes without the capacity guarantee.
        "capacity_reservation": d.is_reserved and d.topology != "multinode",
        "infiniband": d.fast_network == "infiniband",
    }
