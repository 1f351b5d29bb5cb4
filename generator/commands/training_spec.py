"""The training job (``--task finetune|pretrain``) from a spec file and flags (flags win).

A spec names it with a top-level ``task:`` and a ``training:`` mapping whose keys are the flags'
names with underscores (``micro_batch: 4``, ``lora_rank: 16``...). Validation names the file or
flag, the value and what is allowed, and raises ``UsageError``, like the workload's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from llmplan.commands.spec import (
    _boolean,
    _choice,
    _positive_int,
    _positive_number,
    read_spec_file,
    workload_from_args,
)
from llmplan.errors import UsageError, did_you_mean
from llmplan.vocabulary import (
    ATTENTION_KERNELS,
    LORA_TARGETS,
    OFFLOADS,
    OPTIMIZERS,
    SHARDINGS,
    TASKS,
    TRAINING_METHODS,
    TRAINING_PRECISIONS,
)
from llmplan.workload import Training, Workload


def _fraction_open(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"must be a number in (0, 1] (got {value!r})")
    return float(value)


def _non_negative(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"must be a number >= 0 (got {value!r})")
    return float(value)


# Spec key -> validator; the flag is ``--`` + the key with dashes.
_TRAINING_FIELDS: dict[str, Callable[[Any], Any]] = {
    "method": _choice(TRAINING_METHODS),
    "lora_rank": _positive_int,
    "lora_targets": _choice(LORA_TARGETS),
    "optimizer": _choice(OPTIMIZERS),
    "precision": _choice(TRAINING_PRECISIONS),
    "micro_batch": _positive_int,
    "seq_len": _positive_int,
    "grad_accum": _positive_int,
    "sharding": _choice(SHARDINGS),
    "activation_checkpointing": _boolean,
    "offload": _choice(OFFLOADS),
    "attention": _choice(ATTENTION_KERNELS),
    "tokens": _positive_number,
    "dataset_tokens": _positive_number,
    "epochs": _positive_number,
    "mfu": _fraction_open,
    "checkpoint_interval_minutes": _positive_number,
    "spot_interruptions_per_day": _non_negative,
    "restart_minutes": _non_negative,
}
_INT_FLAGS = {"lora_rank", "micro_batch", "seq_len", "grad_accum"}
_FLOAT_FLAGS = {
    "tokens",
    "dataset_tokens",
    "epochs",
    "mfu",
    "checkpoint_interval_minutes",
    "spot_interruptions_per_day",
    "restart_minutes",
}
# Flag spellings that differ from ``--`` + the key.
_FLAG_NAMES = {
    "precision": "--train-precision",
    "checkpoint_interval_minutes": "--checkpoint-interval",
}
# Serving-only flags that mean nothing to a training job, and what to use instead.
_SERVING_ONLY = {
    "concurrency": "--micro-batch",
    "context": "--seq-len",
    "precision": "--train-precision (or --method qlora for a 4-bit base)",
    "quantization": "--method qlora",
    "kv_cache_dtype": None,
    "engine": None,
    "memory_fraction": None,
    "max_batched_tokens": "--micro-batch and --seq-len",
}


def flag_name(key: str) -> str:
    return _FLAG_NAMES.get(key, "--" + key.replace("_", "-"))


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """``--task`` and the training job's flags (used by ``size`` and ``plan``)."""
    g = parser.add_argument_group("training (--task finetune|pretrain)")
    g.add_argument("--task", help="|".join(TASKS) + " (default inference)")
    g.add_argument("--method", help="|".join(TRAINING_METHODS) + " (default full)")
    g.add_argument("--lora-rank", dest="lora_rank", help="LoRA rank r (default 16)")
    g.add_argument(
        "--lora-targets", dest="lora_targets",
        help="|".join(LORA_TARGETS) + " (default all-linear: q,k,v,o,gate,up,down)",
    )
    g.add_argument("--optimizer", help="|".join(OPTIMIZERS) + " (default adamw)")
    g.add_argument(
        "--train-precision", dest="precision_training",
        help="mixed (16-bit compute, fp32 master weights and states; default)|bf16 (all bf16, "
        "as torchtune)|fp32",
    )
    g.add_argument("--micro-batch", dest="micro_batch", help="sequences per GPU per step (1)")
    g.add_argument("--seq-len", dest="seq_len", help="tokens per sequence (default 2048)")
    g.add_argument("--grad-accum", dest="grad_accum", help="micro-batches per optimizer step (1)")
    g.add_argument(
        "--sharding", help="|".join(SHARDINGS) + " (default: the least that fits)"
    )
    g.add_argument(
        "--activation-checkpointing", dest="activation_checkpointing",
        action=argparse.BooleanOptionalAction, default=None,
        help="recompute activations in the backward pass (default: only when needed to fit)",
    )
    g.add_argument("--offload", help="|".join(OFFLOADS) + " (optimizer states to host memory)")
    g.add_argument("--attention", help="|".join(ATTENTION_KERNELS) + " (default flash)")
    g.add_argument("--tokens", help="tokens to train on in total, e.g. 1e11")
    g.add_argument("--dataset-tokens", dest="dataset_tokens", help="tokens in the dataset")
    g.add_argument("--epochs", help="passes over --dataset-tokens (default 1)")
    g.add_argument(
        "--mfu", help="model FLOPs utilisation (default: the median of published runs)"
    )
    g.add_argument(
        "--checkpoint-interval", dest="checkpoint_interval_minutes",
        help="minutes between checkpoints, for spot restarts (default 60)",
    )
    g.add_argument(
        "--spot-interruptions-per-day", dest="spot_interruptions_per_day",
        help="interruptions per node per day on spot (default in data/training.json)",
    )
    g.add_argument(
        "--restart-minutes", dest="restart_minutes",
        help="minutes to replace a node and resume after an interruption",
    )


def _attr(key: str) -> str:
    # ``--train-precision`` cannot share ``precision`` with the serving flag.
    return "precision_training" if key == "precision" else key


def _coerce(key: str, text: str) -> Any:
    try:
        if key in _INT_FLAGS:
            return int(text)
        if key in _FLOAT_FLAGS:
            return float(text)
    except ValueError:
        kind = "an integer" if key in _INT_FLAGS else "a number"
        raise UsageError(f"{flag_name(key)}: must be {kind} (got {text!r})") from None
    return text


def _validate_training(where: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise UsageError(f"{where}: training: must be a mapping (got {raw!r})")
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        check = _TRAINING_FIELDS.get(name)
        if check is None:
            hint = did_you_mean(str(key), _TRAINING_FIELDS)
            raise UsageError(f"{where}: training: unknown key '{key}'{hint}")
        try:
            clean[name] = check(value)
        except ValueError as exc:
            raise UsageError(f"{where}: training.{key}: {exc}") from None
    return clean


def _task(where: str, value: Any) -> str:
    try:
        return str(_choice(TASKS)(value))
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None


def spec_from_args(args: argparse.Namespace) -> tuple[Workload, Training | None]:
    """The workload and, for ``--task finetune|pretrain``, the training job."""
    path = getattr(args, "spec", None)
    file_values = read_spec_file(path) if path else {}
    task = "inference"
    if file_values.get("task") is not None:
        task = _task(f"{path}: task", file_values["task"])
    if getattr(args, "task", None) is not None:
        task = _task("--task", args.task)
    workload = workload_from_args(args, file_values)
    if task == "inference":
        if file_values.get("training") is not None:
            raise UsageError(f"{path}: training: needs task: finetune or pretrain")
        given = [
            flag_name(k) for k in _TRAINING_FIELDS if getattr(args, _attr(k), None) is not None
        ]
        if given:
            raise UsageError(f"{given[0]}: needs --task finetune or --task pretrain")
        return workload, None
    _refuse_serving_flags(args)
    values: dict[str, Any] = {}
    if file_values.get("training") is not None:
        values.update(_validate_training(f"{path}", file_values["training"]))
    for key, check in _TRAINING_FIELDS.items():
        value = getattr(args, _attr(key), None)
        if value is None:
            continue
        value = _coerce(key, value) if isinstance(value, str) else value
        try:
            values[key] = check(value)
        except ValueError as exc:
            raise UsageError(f"{flag_name(key)}: {exc}") from None
    training = Training(task=task, **values)  # type: ignore[arg-type]
    _check_job(training)
    return workload, training


def _refuse_serving_flags(args: argparse.Namespace) -> None:
    for key, instead in _SERVING_ONLY.items():
        if getattr(args, key, None) is None:
            continue
        flag = {"memory_fraction": "--gpu-memory-utilization",
                "max_batched_tokens": "--max-num-batched-tokens"}.get(key, flag_name(key))
        hint = f"; use {instead}" if instead else ""
        raise UsageError(f"{flag}: applies to serving, not to a training job{hint}")
    for name in ("requests_per_second", "tokens_per_second", "prompt_tokens", "output_tokens",
                 "ttft_ms", "tpot_ms"):
        if getattr(args, f"load.{name}", None) is not None:
            raise UsageError(f"--{name.replace('_', '-')}: applies to serving, not to training")


def _check_job(training: Training) -> None:
    if training.task == "pretrain" and training.method != "full":
        raise UsageError(
            f"--method {training.method}: pre-training trains every weight (use --method full)"
        )
    if training.method == "qlora" and training.precision == "fp32":
        raise UsageError("--train-precision fp32: QLoRA computes in 16-bit over a 4-bit base")
    if training.tokens is not None and training.dataset_tokens is not None:
        raise UsageError("--tokens and --dataset-tokens: give one (tokens = dataset x epochs)")

