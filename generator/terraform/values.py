"""Values of statically evaluated Terraform: plain Python, plus a marker for "not known here".

Known values are what ``terraform show -json`` would print: ``str``, ``int``/``float``, ``bool``,
``None``, ``list`` and ``dict`` (nested blocks are lists of dicts). Anything the reader cannot work
out without running Terraform (a data source, a module output, a variable without a default...) is
an :class:`Unknown` carrying the source text it came from, so messages can quote it.

Inside strings an unknown part is kept as its ``${...}`` source text: a boot script with one
unresolved interpolation is still readable, and a flag value like ``${var.tp}`` is visibly not a
number.
"""

from __future__ import annotations

from typing import Any


class Unknown:
    """A value that static evaluation cannot know; ``source`` is the expression it came from."""

    __slots__ = ("source",)

    def __init__(self, source: str = "") -> None:
        self.source = source

    def __repr__(self) -> str:
        return f"Unknown({self.source!r})"

    def __str__(self) -> str:
        return f"${{{self.source}}}" if self.source else "(unknown)"

    def __eq__(self, other: object) -> bool:
        # Two unknowns are never known to be equal; comparisons with them stay unknown.
        return False

    def __hash__(self) -> int:
        return id(self)


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown)


def is_known(value: Any) -> bool:
    """True when ``value`` holds no Unknown anywhere, nested or as an unresolved string part."""
    if isinstance(value, Unknown):
        return False
    if isinstance(value, str):
        return "${" not in value
    if isinstance(value, list):
        return all(is_known(v) for v in value)
    if isinstance(value, dict):
        return all(is_known(v) for v in value.values())
    return True


def as_text(value: Any) -> str | None:
    """A known scalar as Terraform would interpolate it; None for unknowns and collections."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


def as_int(value: Any) -> int | None:
    """A whole number from an int, an integral float or a numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip().strip("'\"")
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().strip("'\""))
        except ValueError:
            return None
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None
