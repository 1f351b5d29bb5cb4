"""Terraform string templates (heredoc bodies, ``templatefile()`` files): ``${...}``
interpolations and ``%{ if }`` / ``%{ for }`` directives, rendered by hand because python-hcl2
keeps heredocs and template files as plain text.

Each ``${...}`` is parsed as an HCL expression and evaluated by the evaluator the renderer is
given (an :class:`~llmplan.terraform.context.ExpressionHost`); what stays unknown is kept as its
``${...}`` text, and a directive whose condition or collection is unknown becomes one
``${if ...}``/``${for ...}`` marker rather than a guess at which branch runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from llmplan.terraform.context import Ctx
from llmplan.terraform.syntax import parse_expression
from llmplan.terraform.values import Unknown

if TYPE_CHECKING:
    from llmplan.terraform.context import ExpressionHost


class TemplateRenderer:
    """Renders templates, evaluating their expressions with ``host``."""

    def __init__(self, host: ExpressionHost) -> None:
        self.host = host

    def render(self, text: str, ctx: Ctx) -> str:
        pieces = list(_template_pieces(text))
        out, _ = self._render(pieces, 0, ctx, stop=())
        return out

    def _render(self, pieces: list[tuple[str, str]], i: int, ctx: Ctx,
                stop: tuple[str, ...]) -> tuple[str, int]:
        out: list[str] = []
        while i < len(pieces):
            kind, body = pieces[i]
            if kind == "directive":
                word = body.split(None, 1)[0] if body.split() else ""
                if word in stop:
                    return "".join(out), i
                if word == "if":
                    text, i = self._render_if(pieces, i, ctx)
                    out.append(text)
                    continue
                if word == "for":
                    text, i = self._render_for(pieces, i, ctx)
                    out.append(text)
                    continue
                out.append(f"%{{{body}}}")
            elif kind == "interp":
                node = parse_expression(body)
                out.append(self.host.interpolate(node, ctx) if node is not None
                           else f"${{{body}}}")
            else:
                out.append(body)
            i += 1
        return "".join(out), i

    def _render_if(self, pieces: list[tuple[str, str]], i: int, ctx: Ctx) -> tuple[str, int]:
        condition_text = pieces[i][1].split(None, 1)[1] if len(pieces[i][1].split()) > 1 else ""
        node = parse_expression(condition_text)
        condition = self.host.safe(node, ctx) if node is not None else Unknown(condition_text)
        yes, i = self._render(pieces, i + 1, ctx, stop=("else", "endif"))
        no = ""
        if i < len(pieces) and pieces[i][1].split()[0] == "else":
            no, i = self._render(pieces, i + 1, ctx, stop=("endif",))
        i += 1  # past endif
        if isinstance(condition, bool):
            return (yes if condition else no), i
        # An unknown condition hides which branch runs: say so rather than guess.
        return f"${{if {condition_text}}}", i

    def _render_for(self, pieces: list[tuple[str, str]], i: int, ctx: Ctx) -> tuple[str, int]:
        header = pieces[i][1]
        start = i + 1
        _, end = self._render(pieces, start, ctx, stop=("endfor",))
        names_part, _, coll_text = header[len("for"):].partition(" in ")
        names = [n.strip() for n in names_part.split(",") if n.strip()]
        node = parse_expression(coll_text)
        collection = self.host.safe(node, ctx) if node is not None else Unknown(coll_text)
        if isinstance(collection, Unknown) or not isinstance(collection, list | dict) or not names:
            return f"${{for {coll_text}}}", end + 1
        out = []
        for key, value in _pairs(collection):
            bound = {names[0]: value} if len(names) == 1 else {names[0]: key, names[1]: value}
            text, _ = self._render(pieces, start, ctx.with_names(**bound), stop=("endfor",))
            out.append(text)
        return "".join(out), end + 1


_HEREDOC = re.compile(r"<<(-?)([A-Za-z][\w.-]*)\r?\n(.*?)\r?\n?[ \t]*\2\s*\Z", re.S)


def heredoc_body(token: str) -> str:
    """A heredoc's text from its raw token (python-hcl2 8.1 escapes quotes when unquoting)."""
    match = _HEREDOC.match(token)
    if match is None:
        return token
    body = match.group(3)
    if match.group(1):  # <<- strips the indentation common to all non-blank lines
        lines = body.split("\n")
        indents = [len(ln) - len(ln.lstrip(" \t")) for ln in lines if ln.strip()]
        cut = min(indents) if indents else 0
        body = "\n".join(ln[cut:] for ln in lines)
    return body


def _pairs(collection: list[Any] | dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    if isinstance(collection, dict):
        yield from collection.items()
    else:
        yield from enumerate(collection)


def _template_pieces(text: str) -> Iterator[tuple[str, str]]:
    """Split a template into ("text"|"interp"|"directive", body) pieces, honouring ``~``."""
    i, n = 0, len(text)
    buf: list[str] = []
    strip_next = False
    while i < n:
        if text.startswith("$${", i) or text.startswith("%%{", i):
            buf.append(text[i + 1:i + 3])
            i += 3
            continue
        if text.startswith("${", i) or text.startswith("%{", i):
            end = _closing_brace(text, i + 2)
            if end < 0:
                buf.append(text[i:])
                break
            body = text[i + 2:end]
            chunk = "".join(buf)
            if strip_next:
                chunk = chunk.lstrip()
            if body.startswith("~"):
                chunk = chunk.rstrip()
                body = body[1:]
            strip_next = body.endswith("~")
            if strip_next:
                body = body[:-1]
            if chunk:
                yield "text", chunk
            buf = []
            yield ("interp" if text[i] == "$" else "directive"), body.strip()
            i = end + 1
            continue
        buf.append(text[i])
        i += 1
    chunk = "".join(buf)
    if strip_next:
        chunk = chunk.lstrip()
    if chunk:
        yield "text", chunk


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing a template sequence opened just before ``start``; -1 if none."""
    depth, i, n = 0, start, len(text)
    quote = False
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                quote = False
        elif ch == '"':
            quote = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1
