"""Which prices a run uses (snapshot, cache or live) and the note that says so on stderr."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmplan.clouds import get_provider, provider_names
from llmplan.errors import UsageError
from llmplan.providers.base import Catalog

PRICING_MODES = ("auto", "live", "cache", "snapshot")


@dataclass(frozen=True)
class PricedCatalogs:
    catalogs: tuple[Catalog, ...]
    notes: tuple[str, ...]

    def summary(self) -> dict[str, str]:
        """The ``prices`` object of JSON output: one source and the oldest as-of date."""
        sources = sorted({c.source for c in self.catalogs})
        dates = sorted(c.as_of for c in self.catalogs if c.as_of)
        return {"source": ",".join(sources), "as_of": dates[0] if dates else ""}


def select_clouds(requested: Sequence[str]) -> list[str]:
    names = provider_names()
    if not requested:
        return names
    for name in requested:
        get_provider(name)  # raises a did-you-mean for unknown clouds
    return [n.lower() for n in requested]


def load_catalogs(
    clouds: Sequence[str], mode: str = "snapshot", regions: Sequence[str] = ()
) -> PricedCatalogs:
    """Catalogs for ``clouds`` from the prices ``mode`` asks for."""
    if mode not in PRICING_MODES:
        raise UsageError(f"--pricing: must be one of {', '.join(PRICING_MODES)} (got {mode!r})")
    catalogs = []
    notes = []
    for cloud in clouds:
        provider = get_provider(cloud)
        catalog = provider.catalog()
        catalogs.append(catalog)
        notes.append(f"prices: {cloud} from the embedded snapshot as of {catalog.as_of}")
    return PricedCatalogs(tuple(catalogs), tuple(notes))
