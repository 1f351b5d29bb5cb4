"""Reading resource values that come from either reader: HCL evaluation or plan JSON.

Nested blocks are lists of dicts in both; what is not known statically is an
:class:`~llmplan.terraform.values.Unknown` (HCL), an
:class:`~llmplan.terraform.plan_json.UnknownAfterApply` (plan JSON) or an uninterpolated ``${``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmplan.terraform.plan_json import UnknownAfterApply
from llmplan.terraform.values import Unknown, as_bool, as_int


def is_unresolved(value: Any) -> bool:
    if isinstance(value, Unknown | UnknownAfterApply):
        return True
    return isinstance(value, str) and "${" in value


def dig(values: Any, *path: str | int) -> Any:
    """``values[a][0][b]`` with missing steps as None (nested blocks are lists of dicts)."""
    current = values
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, list) or len(current) <= step:
                return None
            current = current[step]
        else:
            if not isinstance(current, Mapping):
                return None
            current = current.get(step)
    return current


def shown(value: Any) -> str:
    if isinstance(value, Unknown):
        return value.source or "unknown"
    return str(value)


def known_int(value: Any) -> int | None:
    return None if value is None or is_unresolved(value) else as_int(value)


def is_true(value: Any) -> bool:
    return not is_unresolved(value) and as_bool(value) is True


def lower_text(value: Any) -> str:
    return value.lower() if isinstance(value, str) and not is_unresolved(value) else ""
