"""The leaf of static evaluation: the names an expression sees, the error ``try()`` catches, and
what templates and functions may ask of an evaluator (as Protocols, so they need not import it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from llmplan.terraform.syntax import Attribute, Block


class EvalError(Exception):
    """An expression Terraform itself would reject (``try()`` moves on past it)."""


class Scope(Protocol):
    """What the evaluator needs from a module."""

    directory: Path
    root: Path

    def variable(self, name: str) -> Any: ...

    def local(self, name: str) -> Attribute | None: ...

    def block(self, mode: str, type_: str, name: str) -> Block | None: ...


@dataclass(frozen=True)
class Ctx:
    """Names visible to an expression beyond the module's: iterators, template variables."""

    env: Mapping[str, Any] = field(default_factory=dict)
    isolated: bool = False  # templatefile(): only the variables passed in are visible

    def with_names(self, **names: Any) -> Ctx:
        return Ctx({**self.env, **names}, self.isolated)


def source_of(node: Any) -> str:
    """An expression's HCL text, for Unknown markers and messages."""
    try:
        text = node.serialize()
    except Exception:  # noqa: BLE001 - only used for display
        return "?"
    if isinstance(text, str) and text.startswith("${") and text.endswith("}"):
        return text[2:-1]
    return str(text)


class ExpressionHost(Protocol):
    """What template rendering and the built-in functions need from an evaluator."""

    scope: Scope

    def eval(self, node: Any, ctx: Ctx) -> Any:
        """The value of ``node``; a Terraform error raises :class:`EvalError`."""
        ...

    def safe(self, node: Any, ctx: Ctx) -> Any:
        """The value of ``node``, or an Unknown; never raises."""
        ...

    def interpolate(self, node: Any, ctx: Ctx) -> str:
        """``node``'s value as template text (its ``${...}`` source when unknown)."""
        ...

    def render_template(self, text: str, ctx: Ctx) -> str:
        """A template with what can be resolved resolved."""
        ...
