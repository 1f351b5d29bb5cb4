"""A module evaluated with one set of variable values, and the resource records it yields.

Variable precedence is Terraform's: defaults, then ``terraform.tfvars``, ``*.auto.tfvars``, then
each extra ``-var-file`` in order, then overrides (a module call's arguments).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmplan.terraform.evaluator import Evaluator
from llmplan.terraform.module import Module
from llmplan.terraform.syntax import Attribute, Block, ParseFailure, parse_file
from llmplan.terraform.values import Unknown, as_int

MAX_INSTANCES = 64  # count/for_each expansion cap: a bigger fleet is reported as one record


@dataclass
class Resource:
    """One instance of a resource, data source or module call, with its evaluated values."""

    mode: str
    type: str
    name: str
    address: str
    file: str
    line: int
    values: dict[str, Any]
    lines: dict[str, int]
    block: Block = field(repr=False)
    key: Any = None
    instances_known: bool = True

    def line_of(self, name: str) -> int:
        return self.lines.get(name, self.line)


class _ConstScope:
    """The scope of ``.tfvars`` values: constants only."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.root = directory

    def variable(self, name: str) -> Any:
        return Unknown(f"var.{name}")

    def local(self, name: str) -> Attribute | None:
        return None

    def block(self, mode: str, type_: str, name: str) -> Block | None:
        return None


@dataclass(frozen=True)
class VarOrigin:
    """Where a variable's value came from: a ``.tfvars`` line or the variable's default."""

    file: str
    line: int
    kind: str  # "tfvars" | "default"


class Evaluation:
    """A module evaluated with one set of variable values (Terraform's precedence order)."""

    def __init__(self, module: Module, var_files: Sequence[Path] = (),
                 overrides: Mapping[str, Any] | None = None) -> None:
        self.module = module
        self.directory = module.directory
        self.root = module.root
        self.var_files = list(var_files)
        self.overrides = dict(overrides or {})
        self.failures: list[ParseFailure] = []
        self.used_variables: set[str] = set()
        self.files_read: set[Path] = set()  # template/script files file()/templatefile() read
        self._values, self.origins = self._tfvars()
        self._defaults: dict[str, Any] = {}
        self.evaluator = Evaluator(self)

    # --- Scope protocol

    def variable(self, name: str) -> Any:
        self.used_variables.add(name)
        if name in self.overrides:
            return self.overrides[name]
        if name in self._values:
            return self._values[name]
        if name not in self._defaults:
            self._defaults[name] = self._default(name)
        return self._defaults[name]

    def local(self, name: str) -> Attribute | None:
        return self.module.local_attribute(name)

    def block(self, mode: str, type_: str, name: str) -> Block | None:
        return self.module.find_block(mode, type_, name)

    # --- variables

    def _default(self, name: str) -> Any:
        block = self.module.find_block("variable", name)
        if block is None or "default" not in block.attributes:
            return Unknown(f"var.{name}")
        attr = block.attributes["default"]
        self.origins.setdefault(name, VarOrigin(attr.file, attr.line, "default"))
        return Evaluator(_ConstScope(self.directory)).value(attr.node)

    def _tfvars(self) -> tuple[dict[str, Any], dict[str, VarOrigin]]:
        auto = [p for p in self.module.tfvars_files if p.name == "terraform.tfvars"]
        auto += sorted(p for p in self.module.tfvars_files if p.name.endswith(".auto.tfvars"))
        values: dict[str, Any] = {}
        origins: dict[str, VarOrigin] = {}
        for path in [*auto, *self.var_files]:
            parsed = parse_file(path)
            if parsed.failure is not None:
                self.failures.append(parsed.failure)
                continue
            const = Evaluator(_ConstScope(path.parent))
            for name, attr in parsed.attributes.items():
                values[name] = const.value(attr.node)
                origins[name] = VarOrigin(str(path), attr.line, "tfvars")
        return values, origins

    # --- evaluation

    def value(self, node: Any, env: Mapping[str, Any] | None = None) -> Any:
        return self.evaluator.value(node, env)

    def render(self, text: str, env: Mapping[str, Any] | None = None) -> str:
        return self.evaluator.render(text, env)

    def resources(self, types: Collection[str] | None = None, mode: str = "resource",
                  text: re.Pattern[str] | None = None) -> list[Resource]:
        """Records for every instance of the blocks of ``mode`` (and ``types``, if given; and
        only from files whose text matches ``text``, if given)."""
        out: list[Resource] = []
        for block in self.module.blocks(mode, types, text):
            out.extend(self.instances(block))
        return out

    def module_calls(self, text: re.Pattern[str] | None = None) -> list[Resource]:
        return self.resources(None, mode="module", text=text)

    def instances(self, block: Block) -> Iterator[Resource]:
        """``block`` expanded over ``count``/``for_each`` (unknown counts give one record)."""
        mode = block.type
        type_ = "module" if mode == "module" else block.labels[0]
        name = block.labels[0] if mode == "module" else (block.labels[1]
                                                          if len(block.labels) > 1 else "")
        prefix = {"resource": "", "data": "data.", "module": "module."}[mode]
        base = f"{prefix}{type_}.{name}" if mode != "module" else f"module.{name}"
        for key, env, known in self._expansion(block):
            suffix = "" if key is None else (f"[{key}]" if isinstance(key, int) else f'["{key}"]')
            values = self.evaluator.block_values(block, env)
            lines = {n: a.line for n, a in block.attributes.items()}
            for child in block.blocks:
                child_name = child.labels[0] if child.type == "dynamic" and child.labels \
                    else child.type
                lines.setdefault(child_name, child.line)
            yield Resource(mode, type_, name, base + suffix, block.file, block.line, values,
                           lines, block, key, known)

    def _expansion(self, block: Block) -> Iterator[tuple[Any, dict[str, Any], bool]]:
        if "count" in block.attributes:
            count = self.value(block.attributes["count"].node)
            number = as_int(count)
            if number is None:
                yield None, {"count": {"index": Unknown("count.index")}}, False
                return
            for i in range(min(number, MAX_INSTANCES)):
                yield i, {"count": {"index": i}}, number <= MAX_INSTANCES
            return
        if "for_each" in block.attributes:
            collection = self.value(block.attributes["for_each"].node)
            if isinstance(collection, list):
                collection = {str(v): v for v in collection if not isinstance(v, Unknown)} \
                    if all(isinstance(v, str | int) for v in collection) else Unknown("")
            if not isinstance(collection, dict):
                yield None, {"each": {"key": Unknown("each.key"),
                                      "value": Unknown("each.value")}}, False
                return
            for i, (key, value) in enumerate(collection.items()):
                if i >= MAX_INSTANCES:
                    break
                yield key, {"each": {"key": key, "value": value}}, len(collection) <= MAX_INSTANCES
            return
        yield None, {}, True


def expression_text(attr: Attribute) -> str:
    """An attribute's value as HCL source (for messages about computed values)."""
    from llmplan.terraform.context import source_of

    return source_of(attr.node)
