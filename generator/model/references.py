"""Model references as written in someone else's Terraform: ids, mirrors, GCP label spellings."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from llmplan.errors import LlmplanError
from llmplan.model.registry import list_models, load_model, registry_entry


def resolve_model(ref: Any) -> tuple[Any, str]:
    """(architecture or None, label) for a model reference as written in Terraform; the label
    names the model for messages (or says why it is unknown).

    Exact registry ids and aliases first; then the same model name under another
    organisation (mirrors such as ``unsloth/Meta-Llama-3.1-8B-Instruct``) or spelled as a GCP
    label value, only when exactly one bundled model matches.
    """
    if not isinstance(ref, str) or not ref.strip() or "${" in ref:
        return None, "model unknown"
    text = ref.strip().strip("'\"")
    if text.startswith(("/", "./", "s3://", "gs://")) or Path(text).exists():
        return None, f"model {text} is a path, not a known model id"
    try:
        arch = load_model(text)
        return arch, arch.model_id
    except LlmplanError:
        pass
    except Exception:  # noqa: BLE001 - a broken registry entry must not stop the check
        return None, f"model {text} could not be loaded"
    match = _by_name().get(_squash(text.replace("__", "/").rsplit("/", 1)[-1]))
    if match:
        try:
            return load_model(match), f"{text} (sized as {match})"
        except Exception:  # noqa: BLE001
            return None, f"model {text} could not be loaded"
    return None, f"model {text} is not in the bundled registry"


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@cache
def _by_name() -> dict[str, str]:
    """Squashed model name (no org) -> registry id, for names only one model has."""
    seen: dict[str, set[str]] = {}
    for model_id in list_models():
        entry = registry_entry(model_id)
        for name in [model_id, *(entry.get("aliases") or [])]:
            seen.setdefault(_squash(str(name).rsplit("/", 1)[-1]), set()).add(model_id)
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}
