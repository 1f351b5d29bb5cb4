"""A workload from a YAML spec file and command-line flags (flags win).

Validation names the file, the field, the value and what is allowed, and raises ``UsageError``.
Every spec field is also a flag; the engines' own spellings (``gpu_memory_utilization``,
``max_model_len`` ...) are accepted as aliases.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from llmplan.errors import UsageError, did_you_mean
from llmplan.vocabulary import (
    ENGINES,
    KV_CACHE_DTYPES,
    OBJECTIVES,
    PRECISIONS,
    QUANTIZATIONS,
    TIERS,
    WORKLOAD_KINDS,
)
from llmplan.workload import Load, Workload

# --- field validators: each returns the clean value or raises ValueError("must ... (got x)")


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"must be a positive integer (got {value!r})")
    return value


def _positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"must be a positive number (got {value!r})")
    return float(value)


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"must be a number in (0, 1] (got {value!r})")
    return float(value)


def _choice(choices: Sequence[str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in choices:
            raise ValueError(f"must be one of {', '.join(choices)} (got {value!r})")
        return value.lower()

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string (got {value!r})")
    return value.strip()


def _text_list(choices: Sequence[str] | None = None) -> Callable[[Any], tuple[str, ...]]:
    def check(value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not items:
            raise ValueError(f"must be a non-empty list of strings (got {value!r})")
        out: list[str] = []
        for item in items:
            if not isinstance(item, str) or not item.strip():
                raise ValueError(f"must be a list of strings (got {item!r})")
            text = item.strip()
            if choices is not None and text.lower() not in choices:
                raise ValueError(f"must be one of {', '.join(choices)} (got {text!r})")
            out.append(text.lower() if choices is not None else text)
        return tuple(dict.fromkeys(out))

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false (got {value!r})")
    return value


_FIELDS: dict[str, Callable[[Any], Any]] = {
    "model": _text,
    "context": _positive_int,
    "concurrency": _positive_int,
    "precision": _choice(PRECISIONS),
    "quantization": _choice(QUANTIZATIONS),
    "kv_cache_dtype": _choice(KV_CACHE_DTYPES),
    "engine": _choice(ENGINES),
    "memory_fraction": _fraction,
    "max_batched_tokens": _positive_int,
    "workload": _choice(WORKLOAD_KINDS),
    "tiers": _text_list(TIERS),
    "clouds": _text_list(),
    "regions": _text_list(),
    "gpus": _text_list(),
    "max_nodes": _positive_int,
    "allow_spot": _boolean,
    "objective": _choice(OBJECTIVES),
}
_LOAD_FIELDS: dict[str, Callable[[Any], Any]] = {
    "requests_per_second": _positive_number,
    "tokens_per_second": _positive_number,
    "prompt_tokens": _positive_int,
    "output_tokens": _positive_int,
    "ttft_ms": _positive_number,
    "tpot_ms": _positive_number,
}
# Spellings users bring from the engines' own flags.
_ALIASES = {
    "gpu_memory_utilization": "memory_fraction",
    "mem_fraction_static": "memory_fraction",
    "max_model_len": "context",
    "max_num_batched_tokens": "max_batched_tokens",
    "kind": "workload",
    "tier": "tiers",
    "cloud": "clouds",
    "region": "regions",
    "gpu": "gpus",
    "quantisation": "quantization",
}
_LOAD_ALIASES = {"rps": "requests_per_second"}
# Spec keys of a training job (``task: finetune`` and a ``training:`` mapping).
TRAINING_KEYS = ("task", "training")


def _validate(where: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        name = _ALIASES.get(str(key), str(key))
        if name == "load":
            clean["load"] = _validate_load(where, value)
            continue
        if name in TRAINING_KEYS:
            # Validated with the flags in llmplan.commands.training_spec, which knows the job.
            clean[name] = value
            continue
        check = _FIELDS.get(name)
        if check is None:
            allowed = [*_FIELDS, "load", *TRAINING_KEYS]
            raise UsageError(f"{where}: unknown key '{key}'{did_you_mean(str(key), allowed)}")
        if value is None:
            continue
        try:
            clean[name] = check(value)
        except ValueError as exc:
            raise UsageError(f"{where}: {key}: {exc}") from None
    return clean


def _validate_load(where: str, raw: Any) -> Load:
    if not isinstance(raw, Mapping):
        raise UsageError(f"{where}: load: must be a mapping (got {raw!r})")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = _LOAD_ALIASES.get(str(key), str(key))
        check = _LOAD_FIELDS.get(name)
        if check is None:
            hint = did_you_mean(str(key), _LOAD_FIELDS)
            raise UsageError(f"{where}: load: unknown key '{key}'{hint}")
        try:
            values[name] = check(value)
        except ValueError as exc:
            raise UsageError(f"{where}: load.{key}: {exc}") from None
    return Load(**values)


def read_spec_file(path: str) -> dict[str, Any]:
    """Parse and validate a YAML spec file into clean field values (not yet a Workload)."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise UsageError(f"{path}{line}: malformed YAML ({problem})") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise UsageError(
            f"{path}: must be a mapping of workload fields (got {type(data).__name__})"
        )
    return _validate(path, data)


def build_workload(file_values: Mapping[str, Any], flag_values: Mapping[str, Any]) -> Workload:
    """Merge spec-file values with flags (flags win) into a validated Workload."""
    merged = {**file_values, **{k: v for k, v in flag_values.items() if v is not None}}
    if "model" not in merged:
        raise UsageError("model: required (give --model or a spec file with 'model:')")
    load = merged.pop("load", Load())
    flag_load = {k: v for k, v in flag_values.items() if k.startswith("load.") and v is not None}
    for key in flag_load:
        merged.pop(key, None)
    if flag_load:
        load = replace(load, **{k.removeprefix("load."): v for k, v in flag_load.items()})
    if "workload" in merged:
        # The spec's ``workload:`` key is the dataclass's ``kind``.
        merged["kind"] = merged.pop("workload")
    known = {f.name for f in fields(Workload)}
    return Workload(load=load, **{k: v for k, v in merged.items() if k in known})


# --- command-line side


def add_workload_arguments(parser: argparse.ArgumentParser, *, planning: bool = True) -> None:
    """The flags every spec field has; ``planning`` adds the cloud/tier/load ones."""
    parser.add_argument("spec", nargs="?", help="workload spec YAML file")
    g = parser.add_argument_group("workload")
    g.add_argument(
        "--model", help="registry id, or a path to a config.json or a folder holding one"
    )
    g.add_argument("--precision", help="|".join(PRECISIONS))
    g.add_argument("--quantization", help="|".join(QUANTIZATIONS))
    g.add_argument("--kv-cache-dtype", dest="kv_cache_dtype", help="auto|fp8")
    g.add_argument("--context", help="max tokens per request (prompt + output)")
    g.add_argument("--concurrency", help="requests in flight")
    g.add_argument("--engine", help="|".join(ENGINES))
    g.add_argument(
        "--gpu-memory-utilization",
        "--memory-fraction",
        dest="memory_fraction",
        help="engine memory fraction (engine default when absent)",
    )
    g.add_argument("--max-num-batched-tokens", dest="max_batched_tokens")
    g.add_argument("--workload", help="realtime|batch")
    if not planning:
        return
    p = parser.add_argument_group("planning")
    p.add_argument("--tier", dest="tiers", help="on-demand,spot,reserved-1y,reserved-3y")
    p.add_argument("--clouds", "--cloud-filter", dest="clouds", help="comma-separated clouds")
    p.add_argument("--region", dest="regions", help="comma-separated regions")
    p.add_argument("--gpu", dest="gpus", help="comma-separated GPU types to consider")
    p.add_argument("--max-nodes", dest="max_nodes")
    p.add_argument("--allow-spot", dest="allow_spot", action="store_true", default=None)
    p.add_argument("--objective", help="|".join(OBJECTIVES))
    load = parser.add_argument_group("load")
    load.add_argument("--rps", dest="load.requests_per_second", help="requests per second")
    load.add_argument("--tokens-per-second", dest="load.tokens_per_second")
    load.add_argument("--prompt-tokens", dest="load.prompt_tokens")
    load.add_argument("--output-tokens", dest="load.output_tokens")
    load.add_argument("--ttft-ms", dest="load.ttft_ms")
    load.add_argument("--tpot-ms", dest="load.tpot_ms")


_NUMERIC_FLAGS = {
    "context",
    "concurrency",
    "max_batched_tokens",
    "max_nodes",
    "load.prompt_tokens",
    "load.output_tokens",
}
_FLOAT_FLAGS = {
    "memory_fraction",
    "load.requests_per_second",
    "load.tokens_per_second",
    "load.ttft_ms",
    "load.tpot_ms",
}


def _flag_name(name: str) -> str:
    special = {
        "memory_fraction": "--gpu-memory-utilization",
        "max_batched_tokens": "--max-num-batched-tokens",
        "tiers": "--tier",
        "regions": "--region",
        "gpus": "--gpu",
        "load.requests_per_second": "--rps",
    }
    return special.get(name, "--" + name.removeprefix("load.").replace("_", "-"))


def _coerce_flag(name: str, text: str) -> Any:
    try:
        if name in _NUMERIC_FLAGS:
            return int(text)
        if name in _FLOAT_FLAGS:
            return float(text)
    except ValueError:
        kind = "an integer" if name in _NUMERIC_FLAGS else "a number"
        raise UsageError(f"{_flag_name(name)}: must be {kind} (got {text!r})") from None
    return text


def workload_from_args(
    args: argparse.Namespace, file_values: Mapping[str, Any] | None = None
) -> Workload:
    """The Workload described by a spec file (if any) and the flags on top of it.

    Commands that serve only (``generate``) refuse a spec whose ``task`` is a training job.
    """
    if file_values is None:
        file_values = read_spec_file(args.spec) if getattr(args, "spec", None) else {}
        task = file_values.get("task")
        if task not in (None, "inference"):
            raise UsageError(
                f"{args.spec}: task: {task!r} is a training job; this command plans serving "
                "(use size or plan for training)"
            )
    flags: dict[str, Any] = {}
    plain: dict[str, Any] = {}
    for name in [*_FIELDS, *(f"load.{k}" for k in _LOAD_FIELDS)]:
        value = getattr(args, name, None)
        if value is None:
            continue
        value = _coerce_flag(name, value) if isinstance(value, str) else value
        if name.startswith("load."):
            check = _LOAD_FIELDS[name.removeprefix("load.")]
        else:
            check = _FIELDS[name]
        try:
            flags[name] = check(value)
        except ValueError as exc:
            raise UsageError(f"{_flag_name(name)}: {exc}") from None
        plain[name] = value
    return build_workload(file_values, flags)
