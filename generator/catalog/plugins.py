"""Find cloud provider plugins through the ``llmplan.providers`` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from llmplan.errors import UsageError, did_you_mean
from llmplan.providers.base import Provider
from llmplan.vocabulary import BUILTIN_CLOUDS

ENTRY_POINT_GROUP = "llmplan.providers"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name.lower(), ep)
    return found


def provider_names() -> list[str]:
    """Every installed cloud, the built-in three first."""
    names = list(_entry_points())
    builtin = [n for n in BUILTIN_CLOUDS if n in names]
    return builtin + sorted(n for n in names if n not in builtin)


@cache
def get_provider(name: str) -> Provider:
    ep = _entry_points().get(name.lower())
    if ep is None:
        raise UsageError(
            f"unknown cloud '{name}'{did_you_mean(name, provider_names())}; "
            f"installed: {', '.join(provider_names())}"
        )
    loaded = ep.load()
    if not isinstance(loaded, Provider):
        raise UsageError(
            f"cloud plugin '{name}' ({ep.value}) does not implement the provider "
            "interface (name, catalog, snapshot_document)"
        )
    return loaded
