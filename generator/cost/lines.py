"""One priced (or unpriceable) resource instance, and what its GPUs can serve."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CostLine:
    """One priced (or unpriceable) resource instance."""

    address: str
    type: str
    cloud: str = ""
    region: str | None = None
    instance_type: str | None = None
    count: float = 0
    tier: str = ""
    hourly_usd: float | None = None  # all its instances together
    monthly_usd: float | None = None
    unpriced: str = ""  # why it has no price; empty when priced
    notes: list[str] = field(default_factory=list)
    price_source: str = ""
    as_of: str = ""
    gpu: str = ""
    gpu_count: int = 0  # per instance
    file: str = ""
    line: int = 0
    capacity: Capacity | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address, "type": self.type, "cloud": self.cloud,
            "region": self.region, "instance_type": self.instance_type, "count": self.count,
            "tier": self.tier, "gpu": self.gpu or None, "gpu_count": self.gpu_count,
            "hourly": _round(self.hourly_usd), "monthly": _round(self.monthly_usd),
            "unpriced": self.unpriced or None, "notes": self.notes,
            "price_source": self.price_source or None, "as_of": self.as_of or None,
            "capacity": None if self.capacity is None else self.capacity.to_json(),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class Capacity:
    """Max concurrent requests the GPUs of a resource hold for the model they serve."""

    model: str
    context: int
    max_concurrency: float  # all instances together
    replicas: int

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "context": self.context,
                "max_concurrency": round(self.max_concurrency, 1), "replicas": self.replicas}
