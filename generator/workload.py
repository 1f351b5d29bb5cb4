"""What to serve and how hard (:class:`Workload`), and what to train and how (:class:`Training`).

Only the data; reading them from a YAML spec file and from command-line flags is
:mod:`llmplan.commands.spec` and :mod:`llmplan.commands.training_spec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmplan.vocabulary import (
    AttentionKernel,
    EngineName,
    KvCacheDtype,
    LoraTargets,
    Objective,
    OffloadName,
    OptimizerName,
    PrecisionName,
    QuantizationName,
    ShardingName,
    Tier,
    TrainingMethod,
    TrainingPrecision,
    TrainingTask,
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


@dataclass(frozen=True)
class Training:
    """A fine-tuning or pre-training job (``--task finetune|pretrain``).

    ``None`` means "decide": ``sharding`` and ``activation_checkpointing`` take the least that
    fits, ``mfu`` the default from published runs, ``spot_interruptions_per_day`` the default in
    ``data/training.json``. ``tokens`` is the whole job; without it, ``dataset_tokens x epochs``.
    """

    task: TrainingTask = "finetune"
    method: TrainingMethod = "full"
    lora_rank: int = 16
    lora_targets: LoraTargets = "all-linear"
    optimizer: OptimizerName = "adamw"
    precision: TrainingPrecision = "mixed"
    micro_batch: int = 1
    seq_len: int = 2048
    grad_accum: int = 1
    sharding: ShardingName | None = None
    activation_checkpointing: bool | None = None
    offload: OffloadName = "none"
    attention: AttentionKernel = "flash"
    tokens: float | None = None
    dataset_tokens: float | None = None
    epochs: float = 1.0
    mfu: float | None = None
    checkpoint_interval_minutes: float = 60.0
    spot_interruptions_per_day: float | None = None
    restart_minutes: float | None = None

    @property
    def is_lora(self) -> bool:
        return self.method in ("lora", "qlora")

    @property
    def total_tokens(self) -> float | None:
        """Tokens the job trains on: ``tokens``, else ``dataset_tokens x epochs``, else None."""
        if self.tokens is not None:
            return self.tokens
        if self.dataset_tokens is not None:
            return self.dataset_tokens * self.epochs
        return None
