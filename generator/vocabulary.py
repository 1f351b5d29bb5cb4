"""The words llmplan's inputs and outputs are made of, each spelled once as a ``Literal`` type.

A leaf module: everything may import it, it imports nothing of llmplan. Tuples of the allowed
values are derived from the types (``get_args``), so a new value is added in one place.
"""

from __future__ import annotations

from typing import Literal, TypeVar, get_args

_Word = TypeVar("_Word", bound=str)

Tier = Literal["on-demand", "spot", "reserved-1y", "reserved-3y"]
TIERS: tuple[Tier, ...] = get_args(Tier)
RESERVED_TIERS: tuple[Tier, ...] = ("reserved-1y", "reserved-3y")

EngineName = Literal["vllm", "sglang", "tgi", "trtllm"]
ENGINES: tuple[EngineName, ...] = get_args(EngineName)

# Clouds are plugins (a third party may add one), so a cloud name is any string; these are the
# ones llmplan ships, in the order it lists them.
BUILTIN_CLOUDS: tuple[str, ...] = ("aws", "gcp", "azure")

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

PricingMode = Literal["auto", "live", "cache", "snapshot"]
PRICING_MODES: tuple[PricingMode, ...] = get_args(PricingMode)
PriceSource = Literal["snapshot", "cache", "live"]

WorkloadKind = Literal["realtime", "batch"]
WORKLOAD_KINDS: tuple[WorkloadKind, ...] = get_args(WorkloadKind)

PrecisionName = Literal["fp32", "bf16", "fp16", "fp8", "int8", "int4"]
PRECISIONS: tuple[PrecisionName, ...] = get_args(PrecisionName)
QuantizationName = Literal["awq", "gptq", "fp8", "w8a8", "mxfp4", "bitsandbytes"]
QUANTIZATIONS: tuple[QuantizationName, ...] = get_args(QuantizationName)
KvCacheDtype = Literal["auto", "fp8"]
KV_CACHE_DTYPES: tuple[KvCacheDtype, ...] = get_args(KvCacheDtype)
Objective = Literal["cost", "latency", "cost-per-token"]
OBJECTIVES: tuple[Objective, ...] = get_args(Objective)

OutputFormat = Literal["table", "json", "markdown"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = get_args(OutputFormat)

# Training (``--task finetune|pretrain``); inference is the serving pipeline everything else sizes.
Task = Literal["inference", "finetune", "pretrain"]
TASKS: tuple[Task, ...] = get_args(Task)
TrainingTask = Literal["finetune", "pretrain"]
TrainingMethod = Literal["full", "lora", "qlora"]
TRAINING_METHODS: tuple[TrainingMethod, ...] = get_args(TrainingMethod)
OptimizerName = Literal["adamw", "adamw-8bit", "sgd", "adafactor"]
OPTIMIZERS: tuple[OptimizerName, ...] = get_args(OptimizerName)
ShardingName = Literal["none", "zero1", "zero2", "zero3", "fsdp"]
SHARDINGS: tuple[ShardingName, ...] = get_args(ShardingName)
OffloadName = Literal["none", "cpu"]
OFFLOADS: tuple[OffloadName, ...] = get_args(OffloadName)
# mixed: 16-bit compute with fp32 master weights and optimizer states; bf16: everything in bf16
# (torchtune's recipes); fp32: everything in fp32.
TrainingPrecision = Literal["mixed", "bf16", "fp32"]
TRAINING_PRECISIONS: tuple[TrainingPrecision, ...] = get_args(TrainingPrecision)
LoraTargets = Literal["all-linear", "attention", "qv"]
LORA_TARGETS: tuple[LoraTargets, ...] = get_args(LoraTargets)
AttentionKernel = Literal["flash", "eager"]
ATTENTION_KERNELS: tuple[AttentionKernel, ...] = get_args(AttentionKernel)


def narrow(value: object, choices: tuple[_Word, ...]) -> _Word | None:
    """``value`` as the member of ``choices`` it spells (any case, outer spaces ignored), else
    None: how free text read from Terraform or a file becomes one of these words."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return next((c for c in choices if c == text), None)
