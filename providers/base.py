"""The one small interface every cloud plugin implements, and the catalog format they share.

A provider turns a price *document* (the embedded snapshot, the local cache or a live fetch, all in
one JSON format) into :class:`Offering` records. Prices carry where they came from and when.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from llmplan.vocabulary import TIERS, PriceSource, Tier

__all__ = ["CATALOG_FORMAT", "HOURS_PER_MONTH", "TIERS", "Catalog", "LiveProvider", "Offering",
           "Price", "PriceSource", "Progress", "Provider", "Tier"]

HOURS_PER_MONTH = 730.0
# Live fetch progress: (what, done, total), for a progress bar on stderr.
Progress = Callable[[str, int, int], None]
CATALOG_FORMAT = 1


@dataclass(frozen=True)
class Price:
    """One hourly price for one instance type, region and tier, with its provenance."""

    hourly_usd: float
    source: PriceSource
    as_of: str
    origin: str = ""

    @property
    def monthly_usd(self) -> float:
        return self.hourly_usd * HOURS_PER_MONTH


@dataclass(frozen=True)
class Offering:
    """One instance type in one region, its hardware, and its price per tier."""

    cloud: str
    region: str
    instance_type: str
    gpu: str
    gpu_count: int
    gpu_memory_gib: float
    vcpus: int
    memory_gib: float
    interconnect: str
    fast_network: str | None
    prices: Mapping[str, Price] = field(default_factory=dict)
    unpriced: Mapping[str, str] = field(default_factory=dict)

    def price(self, tier: str) -> Price | None:
        return self.prices.get(tier)


@dataclass(frozen=True)
class Catalog:
    """All offerings of one cloud from one price document."""

    cloud: str
    source: PriceSource
    as_of: str
    offerings: tuple[Offering, ...]


@runtime_checkable
class Provider(Protocol):
    """What the core asks of a cloud plugin."""

    name: str

    def catalog(self, document: Mapping[str, Any] | None = None) -> Catalog:
        """Offerings from ``document`` (a catalog JSON), or from the embedded snapshot."""
        ...

    def snapshot_document(self) -> Mapping[str, Any]:
        """The embedded snapshot, in the shared catalog format."""
        ...


@runtime_checkable
class LiveProvider(Protocol):
    """A provider that can also fetch live prices (the built-in three; optional for plugins)."""

    name: str

    def fetch_live(self, regions: Sequence[str] = (), instance_types: Sequence[str] = (),
                   progress: Progress | None = None, *, quick: bool = False) -> dict[str, Any]: ...

    def live_endpoint(self) -> str: ...

    def auto_live_status(self) -> str | None: ...
