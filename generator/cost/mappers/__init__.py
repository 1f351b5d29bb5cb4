"""The per-resource-type cost mappings, one module per cloud, merged into one registry."""

from __future__ import annotations

from llmplan.cost.mappers import aws, azure, gcp
from llmplan.cost.usage import NOT_PRICED, Mapper

MAPPERS: dict[str, Mapper] = {**aws.MAPPERS, **gcp.MAPPERS, **azure.MAPPERS}


def priced_types() -> frozenset[str]:
    """Every resource type cost has an answer for: a price, or a reason it has none."""
    return frozenset(MAPPERS) | frozenset(NOT_PRICED)
