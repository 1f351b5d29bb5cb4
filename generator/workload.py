"""What to serve and how hard: the :class:`Workload` every stage of the pipeline reads.

Only the data; reading it from a YAML spec file and from command-line flags is
:mod:`llmplan.commands.spec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmplan.vocabulary import (
    EngineName,
    KvCacheDtype,
    Objective,
    PrecisionName,
    QuantizationName,
    Tier,
    WorkloadKind,
)


@dataclass(frozen=True)
class Load:
    """An optional target load: requests/s of given token lengths, and latency targets."""

    requests_per_second: float | None = None
    tokens_per_second: float | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    ttft_ms: float | None = None
    tpot_ms: float | None = None

    @property
    def is_set(self) -> bool:
        return self.requests_per_second is not None or self.tokens_per_second is not None


@dataclass(frozen=True)
class Workload:
    """What to serve and how hard; ``None`` means "the engine's or model's default".

    ``kind`` is the spec's ``workload:`` key (realtime or batch).
    """

    model: str
    context: int = 4096
    concurrency: int = 1
    precision: PrecisionName | None = None
    quantization: QuantizationName | None = None
    kv_cache_dtype: KvCacheDtype = "auto"
    engine: EngineName = "vllm"
    memory_fraction: float | None = None
    max_batched_tokens: int | None = None
    kind: WorkloadKind = "realtime"
    tiers: tuple[Tier, ...] = ()
    clouds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    gpus: tuple[str, ...] = ()
    max_nodes: int = 4
    allow_spot: bool = False
    objective: Objective = "cost"
    load: Load = field(default_factory=Load)
