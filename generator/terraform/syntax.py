"""HCL syntax: files into blocks and attributes with line numbers, never raising on bad input.

python-hcl2 8.x turns text into a tree of rule objects that keep Lark's line numbers; its dict
output does not (``with_meta`` is declared but not implemented in 8.1), so this module walks the
tree itself. Attribute values stay unevaluated rule nodes: :mod:`llmplan.terraform.evaluator`
turns them into values once variables are known.

The same walk finds duplicate keys in object literals, which HCL keeps silently (last one wins)
and python-hcl2's dict output hides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ParseFailure:
    """Why a file could not be read as HCL, and where."""

    file: str
    line: int
    message: str


@dataclass(frozen=True)
class DuplicateKey:
    """A key written twice in one object literal or block body: HCL keeps the last silently."""

    file: str
    line: int
    key: str
    first_line: int


@dataclass
class Attribute:
    name: str
    node: Any  # python-hcl2 expression rule, evaluated later
    file: str
    line: int


@dataclass
class Block:
    type: str
    labels: tuple[str, ...]
    attributes: dict[str, Attribute]
    blocks: list[Block]
    file: str
    line: int
    end_line: int

    def children(self, block_type: str) -> list[Block]:
        return [b for b in self.blocks if b.type == block_type]

    def child(self, block_type: str) -> Block | None:
        return next((b for b in self.blocks if b.type == block_type), None)


@dataclass
class HclFile:
    """One parsed ``.tf`` or ``.tfvars`` file; ``failure`` is set when it did not parse."""

    path: str
    text: str
    blocks: list[Block] = field(default_factory=list)
    attributes: dict[str, Attribute] = field(default_factory=dict)
    duplicates: list[DuplicateKey] = field(default_factory=list)
    failure: ParseFailure | None = None


def _line(node: Any) -> int:
    meta = getattr(node, "_meta", None)
    return int(getattr(meta, "line", 0) or 0)


def _end_line(node: Any) -> int:
    meta = getattr(node, "_meta", None)
    return int(getattr(meta, "end_line", 0) or 0)


def _name(node: Any) -> str:
    return str(node.token.value) if node.lark_name() == "identifier" else ""


def _label(node: Any) -> str:
    if node.lark_name() == "identifier":
        return _name(node)
    # A string label: the text between the quotes (labels cannot interpolate).
    return "".join(str(p.content.value) for p in node.string_parts if hasattr(p.content, "value"))


def read_text(path: str | Path) -> tuple[str | None, str]:
    """The file's text, or None and why it could not be read."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            return None, f"file larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, not read"
        return p.read_text(encoding="utf-8-sig"), ""
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except OSError as exc:
        return None, f"cannot read ({exc.strerror or exc})"


def parse_file(path: str | Path) -> HclFile:
    text, why = read_text(path)
    if text is None:
        return HclFile(str(path), "", failure=ParseFailure(str(path), 1, why))
    return parse_text(text, str(path))


def parse_text(text: str, path: str = "<string>") -> HclFile:
    """Parse HCL text; a syntax error becomes ``failure`` (with its line), never an exception."""
    import hcl2

    try:
        tree = hcl2.parses(text)
    except RecursionError:
        return HclFile(path, text, failure=ParseFailure(path, 1, "nesting too deep to parse"))
    except Exception as exc:  # noqa: BLE001 - lark raises many types; each becomes one finding
        return HclFile(path, text, failure=_failure(path, exc, text))
    result = HclFile(path, text)
    try:
        _read_body(tree.body, path, result, top=True)
    except Exception as exc:  # noqa: BLE001 - a tree shape we do not know is still a finding
        return HclFile(path, text, failure=ParseFailure(path, 1, f"unsupported HCL ({exc})"))
    return result


def check_syntax(path: str | Path) -> ParseFailure | None:
    """Only whether a file parses: about a third faster than :func:`parse_file`, for files
    whose content nothing will evaluate."""
    import hcl2

    text, why = read_text(path)
    if text is None:
        return ParseFailure(str(path), 1, why)
    try:
        hcl2.parses_to_tree(text)
    except RecursionError:
        return ParseFailure(str(path), 1, "nesting too deep to parse")
    except Exception as exc:  # noqa: BLE001 - lark raises many types; each becomes one finding
        return _failure(str(path), exc, text)
    return None


def _failure(path: str, exc: Exception, text: str = "") -> ParseFailure:
    line = int(getattr(exc, "line", 0) or 0) or 1
    if text:
        line = min(line, len(text.splitlines()) or 1)  # the parser sees an extra newline
    kind = type(exc).__name__
    token = getattr(exc, "token", None)
    if kind == "UnexpectedToken" and token is not None:
        expected = sorted(getattr(exc, "expected", []) or [])
        text = str(token).replace("\n", "\\n")[:40]
        if getattr(token, "type", "") == "$END" or not str(token):
            what = "unexpected end of file (an unclosed block, brace or string?)"
        else:
            # Lark's expected-token lists are long and cryptic; only a short one helps.
            hint = f" (expected {', '.join(expected)})" if 0 < len(expected) <= 3 else ""
            what = f"unexpected '{text}'{hint}"
    elif kind == "UnexpectedCharacters":
        char = getattr(exc, "char", "?")
        what = f"unexpected character {char!r}"
    elif kind == "UnexpectedEOF":
        what = "unexpected end of file"
    else:
        what = str(exc).splitlines()[0][:160] if str(exc) else kind
    column = getattr(exc, "column", None)
    where = f" at column {column}" if isinstance(column, int) and column > 0 else ""
    return ParseFailure(path, line, f"HCL syntax error{where}: {what}")


def _read_body(body: Any, path: str, out: HclFile, top: bool) -> tuple[dict[str, Attribute],
                                                                         list[Block]]:
    attributes: dict[str, Attribute] = {}
    blocks: list[Block] = []
    for child in body.children:
        kind = child.lark_name()
        if kind == "attribute":
            name = _name(child.identifier)
            line = _line(child)
            if name in attributes:
                out.duplicates.append(DuplicateKey(path, line, name, attributes[name].line))
            attributes[name] = Attribute(name, child.expression, path, line)
            _scan_objects(child.expression, path, out)
        elif kind == "block":
            labels = child.labels
            sub_attrs, sub_blocks = _read_body(child.body, path, out, top=False)
            blocks.append(Block(
                type=_name(labels[0]),
                labels=tuple(_label(lbl) for lbl in labels[1:]),
                attributes=sub_attrs,
                blocks=sub_blocks,
                file=path,
                line=_line(child),
                end_line=_end_line(child),
            ))
    if top:
        out.attributes = attributes
        out.blocks = blocks
    return attributes, blocks


def _scan_objects(node: Any, path: str, out: HclFile) -> None:
    """Record keys written twice in any object literal under ``node``."""
    stack = [node]
    while stack:
        current = stack.pop()
        children = getattr(current, "children", None)
        if children is None:
            continue
        if current.lark_name() == "object":
            seen: dict[str, int] = {}
            for element in current.elements:
                key = object_key_literal(element.key)
                if key is None:
                    continue
                line = _line(element)
                if key in seen:
                    out.duplicates.append(DuplicateKey(path, line, key, seen[key]))
                seen[key] = line
        stack.extend(c for c in children if c is not None and hasattr(c, "lark_name"))


def object_key_literal(key: Any) -> str | None:
    """The literal text of an object key (``name``, ``"name"``, ``1``), None for expressions."""
    if key.lark_name() != "object_elem_key":
        return None
    value = key.value
    kind = value.lark_name()
    if kind == "identifier":
        return _name(value)
    if kind in ("int_lit", "float_lit"):
        return str(value.token.value)
    if kind == "string":
        parts = value.string_parts
        if all(p.content.lark_name() == "STRING_CHARS" for p in parts):
            return "".join(str(p.content.value) for p in parts)
    if kind in ("literal_value", "keyword"):
        return str(value.token.value)
    return None


_EXPR_PREFIX = "__llmplan_expr = "


@lru_cache(maxsize=4096)
def parse_expression(text: str) -> Any:
    """One expression (the inside of a template's ``${...}``) as a rule node; None if invalid."""
    import hcl2

    # Template expressions may span lines; HCL allows that, the grammar does not everywhere.
    source = re.sub(r"\s*\n\s*", " ", text.strip())
    try:
        tree = hcl2.parses(f"{_EXPR_PREFIX}{source}\n")
    except Exception:  # noqa: BLE001 - an expression we cannot parse stays unknown
        return None
    for child in tree.body.children:
        if child.lark_name() == "attribute":
            return child.expression
    return None
