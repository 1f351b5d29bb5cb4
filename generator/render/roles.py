"""Node roles of a deployment (one role, or a head and its workers) and their boot variables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmplan.render.deployment import Deployment

BootVars = Mapping[str, str]


# Variables every cloud's boot script gets; each cloud may add its own (region, key vault...).
BASE_BOOT_VARS = ("hf_token_secret", "engine_image", "node_rank", "head_address")


def boot_roles(d: Deployment, base: dict[str, str], head_address: str) -> dict[str, dict[str, str]]:
    """The boot script's variables per node role: one role, or a head and its workers.

    ``head_address`` is the HCL expression for a worker's head, written with ``{group}`` where
    the worker's replica group index goes.
    """
    if d.topology != "multinode":
        return {"single": {**base, "node_rank": "0", "head_address": '""'}}
    w = d.workers_per_group
    return {
        "head": {**base, "node_rank": "0", "head_address": '""'},
        "worker": {
            **base,
            "node_rank": f"count.index % {w} + 1",
            "head_address": head_address.format(group=f"floor(count.index / {w})"),
        },
    }
