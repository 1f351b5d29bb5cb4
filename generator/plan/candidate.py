"""A candidate plan (offering x shape x replicas x tier) and the ranked set of them.

Data and ordering only; building them is :mod:`llmplan.plan.select`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from llmplan.providers.base import HOURS_PER_MONTH, Offering, Price
from llmplan.sizing.memory import SizingResult
from llmplan.sizing.throughput import Speed


@dataclass(frozen=True)
class Shape:
    """How one replica sits on the hardware: TP x PP GPUs over ``nodes_per_replica`` nodes."""

    tensor_parallel: int
    pipeline_parallel: int
    nodes_per_replica: int
    replicas_per_node: int


@dataclass(frozen=True)
class Candidate:
    offering: Offering
    shape: Shape
    tier: str
    price: Price
    sizing: SizingResult
    nodes: int
    replicas: int
    # Speed of one replica at its batch (None only for callers that build candidates by hand).
    speed: Speed | None = None
    # Replicas the target load alone needs (None without a load).
    replicas_for_load: int | None = None
    # Requests in flight the workload puts on the whole plan (concurrency, or the load's
    # in-flight requests by Little's law); 0 means "the sizing's concurrency per replica".
    demand: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        """Output tokens/s of one replica at its batch."""
        return self.speed.output_tokens_per_s if self.speed else 0.0

    @property
    def usd_per_million_tokens(self) -> float:
        """$ per million output tokens at this tier, every replica busy at its batch."""
        if self.speed is None:
            return math.inf
        return self.speed.usd_per_million_tokens(self.hourly_usd / self.replicas)

    @property
    def hourly_usd(self) -> float:
        return self.price.hourly_usd * self.nodes

    @property
    def monthly_usd(self) -> float:
        return self.hourly_usd * HOURS_PER_MONTH

    @property
    def max_concurrency(self) -> float:
        return self.sizing.max_concurrency * self.replicas

    @property
    def headroom(self) -> float:
        """Capacity over demand for the whole plan (1.0 = exactly full)."""
        demand = self.demand or self.sizing.concurrency * self.replicas
        return self.max_concurrency / demand

    @property
    def gpus_used(self) -> int:
        return self.replicas * self.shape.tensor_parallel * self.shape.pipeline_parallel

    def sort_key(self) -> tuple[float, float, int, str, str, str]:
        # Cheapest first; at equal price the one with more headroom, then fewer nodes.
        return (
            round(self.hourly_usd, 6),
            -self.headroom,
            self.nodes,
            self.offering.instance_type,
            self.offering.region,
            self.tier,
        )

    def rank_key(self, objective: str = "cost") -> tuple[float, ...] | tuple[object, ...]:
        """Order for ``--objective``: total $/hour, TPOT, or $ per million output tokens."""
        if objective == "latency":
            tpot = self.speed.tpot_ms if self.speed else math.inf
            return (round(tpot, 6), *self.sort_key())
        if objective == "cost-per-token":
            return (round(self.usd_per_million_tokens, 6), *self.sort_key())
        return self.sort_key()

    def to_json(self) -> dict[str, Any]:
        o = self.offering
        return {
            "cloud": o.cloud,
            "region": o.region,
            "instance_type": o.instance_type,
            "gpu": o.gpu,
            "gpu_count": o.gpu_count,
            "nodes": self.nodes,
            "replicas": self.replicas,
            "tensor_parallel": self.shape.tensor_parallel,
            "pipeline_parallel": self.shape.pipeline_parallel,
            "data_parallel_per_node": self.shape.replicas_per_node,
            "tier": self.tier,
            "hourly_usd": round(self.hourly_usd, 4),
            "monthly_usd": round(self.monthly_usd, 2),
            "max_concurrency": round(self.max_concurrency, 2),
            "headroom": round(self.headroom, 3),
            "kv_tokens_per_replica": self.sizing.kv_tokens,
            "precision": self.sizing.precision.weights,
            "quantization": self.sizing.precision.method,
            "kv_cache_dtype": self.sizing.precision.kv_cache,
            "memory_fraction": self.sizing.memory_fraction,
            "replicas_for_load": self.replicas_for_load,
            **self._speed_json(),
            "weights_gib_per_gpu": round(self.sizing.weights_bytes_per_gpu / 1024**3, 2),
            "fast_network": o.fast_network,
            "price_source": self.price.source,
            "price_as_of": self.price.as_of,
            "price_origin": self.price.origin,
        }

    def _speed_json(self) -> dict[str, Any]:
        s = self.speed
        if s is None:
            return {}
        usd = self.usd_per_million_tokens
        return {
            "batch_per_replica": s.batch,
            "tokens_per_second": round(s.output_tokens_per_s, 1),
            "tpot_ms": round(s.tpot_ms, 2),
            "ttft_ms": round(s.ttft_ms, 1),
            "usd_per_million_tokens": round(usd, 4) if math.isfinite(usd) else None,
        }


@dataclass
class Selection:
    candidates: list[Candidate]
    rejected: dict[str, str] = field(default_factory=dict)
    considered_tiers: tuple[str, ...] = ()
    objective: str = "cost"
    # Output tokens/s the load asks for (None without a load), and the lengths speeds assume.
    required_tokens_per_s: float | None = None
    prompt_tokens: int = 0
    output_tokens: int = 0

    def best_per_cloud(self) -> dict[str, Candidate]:
        best: dict[str, Candidate] = {}
        for c in self.candidates:
            best.setdefault(c.offering.cloud, c)
        return best

    def best_per_cloud_and_tier(self) -> dict[tuple[str, str], Candidate]:
        best: dict[tuple[str, str], Candidate] = {}
        for c in self.candidates:
            best.setdefault((c.offering.cloud, c.tier), c)
        return best
