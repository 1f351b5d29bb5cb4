"""The shared Terraform reader: ``.tf``/``.tfvars`` files in, evaluated resource records out.

Used by ``llmplan check`` and ``llmplan cost``. Nothing here runs Terraform or reaches a cloud:
values are what the source says, after static evaluation (see :mod:`llmplan.terraform.evaluator`).

API
---
- :func:`parse_file` / :func:`parse_text` -> :class:`HclFile`: blocks and attributes with line
  numbers, duplicate keys, or a :class:`ParseFailure` (never an exception).
- :func:`group_paths` -> ``{module directory: requested files}`` for files and folders given on a
  command line (``.tfvars`` files belong to the nearest folder above them holding ``.tf`` files).
- :class:`Module`: one folder of ``.tf`` files, parsed lazily (only the files a lookup needs).
- :class:`Evaluation`: a module with one set of variable values: defaults, then
  ``terraform.tfvars``, ``*.auto.tfvars``, then any extra ``-var-file`` in order, then overrides.
  ``resources(types)`` gives :class:`Resource` records, expanded over ``count``/``for_each``.
- :class:`Resource`: ``mode`` (resource/data/module), ``type``, ``name``, ``address``, ``file``,
  ``line``, ``values`` (plan-JSON shaped: nested blocks are lists of dicts; unknowns are
  :class:`Unknown`), ``lines`` (attribute/block name -> line).
- :class:`VarOrigin` (``Evaluation.origins``): where each variable's value came from, and
  ``Evaluation.used_variables``: which variables an evaluation read.
- :func:`expression_text`: an attribute's HCL source, to say why a value is unknown.

Plans (``terraform show -json``) are read by :mod:`llmplan.terraform.plan_json` (the cost
command's reader), into records of the same shape: ``values`` dicts with nested blocks as
lists of dicts.
Not evaluated here: ``.tf.json`` files, child modules (a module call is one record whose
``values`` are its inputs; a caller may evaluate the child with ``Evaluation(Module(dir),
overrides=inputs)``), and override files' merge semantics.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from llmplan.terraform.evaluator import Evaluator
from llmplan.terraform.syntax import (
    Attribute,
    Block,
    DuplicateKey,
    HclFile,
    ParseFailure,
    parse_file,
    parse_text,
    read_text,
)
from llmplan.terraform.values import Unknown, as_int, is_known, is_unknown

__all__ = [
    "Attribute", "Block", "DuplicateKey", "Evaluation", "HclFile", "Module", "ParseFailure",
    "Resource", "Unknown", "VarOrigin", "expression_text", "group_paths", "is_known",
    "is_unknown", "parse_file", "parse_text", "scan_files",
]

SKIP_DIRS = {".git", ".terraform", ".terragrunt-cache", "node_modules", "__pycache__", ".venv"}
MAX_INSTANCES = 64  # count/for_each expansion cap: a bigger fleet is reported as one record


def is_terraform(path: Path) -> bool:
    return path.suffix == ".tf"


def is_tfvars(path: Path) -> bool:
    return path.suffix == ".tfvars"


def is_auto_tfvars(path: Path) -> bool:
    return path.name == "terraform.tfvars" or path.name.endswith(".auto.tfvars")


def scan_files(paths: Sequence[str | Path]) -> list[Path]:
    """Every ``.tf``/``.tfvars`` file named or found under the folders named, sorted, unique."""
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
                for name in sorted(filenames):
                    candidate = Path(dirpath) / name
                    if is_terraform(candidate) or is_tfvars(candidate):
                        found[candidate] = None
        elif is_terraform(path) or is_tfvars(path):
            found[path] = None
    return list(found)


def _has_tf(directory: Path) -> bool:
    try:
        return any(p.suffix == ".tf" for p in directory.iterdir() if p.is_file())
    except OSError:
        return False


def module_dir_of(path: Path, max_up: int = 3) -> Path:
    """The module a file belongs to: its folder, or for a ``.tfvars`` the nearest one above
    holding ``.tf`` files (``presets/x.tfvars`` belongs to the folder above ``presets``)."""
    directory = path.parent
    if is_terraform(path):
        return directory
    probe = directory
    for _ in range(max_up + 1):
        if _has_tf(probe):
            return probe
        if (probe / ".git").exists() or probe.parent == probe:
            break
        probe = probe.parent
    return directory


def group_paths(files: Sequence[Path]) -> dict[Path, list[Path]]:
    """Requested files grouped by the module directory they belong to, in a stable order."""
    groups: dict[Path, list[Path]] = {}
    for path in files:
        groups.setdefault(module_dir_of(path), []).append(path)
    return groups


_BLOCK_HEAD = re.compile(r'^\s*(resource|data|module|variable)\s+"([^"]+)"(?:\s+"([^"]+)")?',
                         re.M)


class Module:
    """One Terraform module: the ``.tf`` files of a folder, each parsed only when needed."""

    def __init__(self, directory: str | Path, root: str | Path | None = None) -> None:
        # Absolute, so path.module and file() resolve the same from any working directory.
        self.directory = Path(directory).resolve()
        self.root = Path(root).resolve() if root is not None else self.directory
        self._parsed: dict[Path, HclFile] = {}

    @cached_property
    def files(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.iterdir() if p.is_file() and is_terraform(p))
        except OSError:
            return []

    @cached_property
    def texts(self) -> dict[Path, str]:
        """Raw text of every ``.tf`` file (cheap): lookups search it before parsing anything."""
        out: dict[Path, str] = {}
        for path in self.files:
            text, _ = read_text(path)
            out[path] = text or ""
        return out

    @cached_property
    def tfvars_files(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.iterdir() if p.is_file() and is_tfvars(p))
        except OSError:
            return []

    def parsed(self, path: Path) -> HclFile:
        if path not in self._parsed:
            text = self.texts.get(path)
            self._parsed[path] = parse_text(text, str(path)) if text is not None \
                else parse_file(path)
        return self._parsed[path]

    def remember(self, parsed: HclFile) -> None:
        """Reuse a parse done elsewhere (the check parses requested files first)."""
        self._parsed[Path(parsed.path)] = parsed

    @cached_property
    def _heads(self) -> dict[tuple[str, str, str], Path]:
        heads: dict[tuple[str, str, str], Path] = {}
        for path, text in self.texts.items():
            for match in _BLOCK_HEAD.finditer(text):
                heads.setdefault((match.group(1), match.group(2), match.group(3) or ""), path)
        return heads

    def find_block(self, kind: str, first: str, second: str = "") -> Block | None:
        path = self._heads.get((kind, first, second))
        if path is None:
            return None
        for block in self.parsed(path).blocks:
            if block.type == kind and block.labels[:2] == ((first, second) if second
                                                             else (first,)):
                return block
        return None

    def blocks(self, kind: str, first_labels: Collection[str] | None = None,
               text: re.Pattern[str] | None = None) -> list[Block]:
        """Top-level blocks of ``kind`` (optionally only those whose first label is listed, and
        only from files whose text matches ``text``: files that cannot match are not parsed)."""
        wanted_files = {p for (k, first, _), p in self._heads.items()
                        if k == kind and (first_labels is None or first in first_labels)
                        and (text is None or text.search(self.texts.get(p, "")))}
        out: list[Block] = []
        for path in self.files:
            if path not in wanted_files:
                continue
            for block in self.parsed(path).blocks:
                if block.type == kind and block.labels and (
                        first_labels is None or block.labels[0] in first_labels):
                    out.append(block)
        return out

    def local_attribute(self, name: str) -> Attribute | None:
        pattern = re.compile(rf"\b{re.escape(name)}\s*=")
        for path, text in self.texts.items():
            if "locals" not in text or not pattern.search(text):
                continue
            for block in self.parsed(path).blocks:
                if block.type == "locals" and name in block.attributes:
                    return block.attributes[name]
        return None

    def provider_blocks(self, name: str) -> list[Block]:
        out: list[Block] = []
        for path, text in self.texts.items():
            if f'provider "{name}"' in text:
                out += [b for b in self.parsed(path).blocks
                        if b.type == "provider" and b.labels[:1] == (name,)]
        return out


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
    from llmplan.terraform.evaluator import source_of

    return source_of(attr.node)
