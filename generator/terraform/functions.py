"""The Terraform functions static evaluation implements; any other call is an Unknown.

Each takes ``(evaluator, ctx, args)``. Arguments are already-evaluated values, except for ``try``
and ``can``, which get the unevaluated nodes so that an error in one argument moves on to the
next, as in Terraform. A function given an Unknown returns an Unknown (``coalesce``, ``merge``
and ``lookup`` look further when they can).

File functions read only inside the scan root (the repository being checked), at most 1 MiB.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmplan.terraform.context import Ctx, EvalError, ExpressionHost
from llmplan.terraform.values import Unknown, as_text, is_known

MAX_READ_BYTES = 1024 * 1024

Func = Callable[[ExpressionHost, Ctx, list[Any]], Any]


def _eval_error(message: str) -> Exception:
    return EvalError(message)


def _unknown_in(args: list[Any]) -> Unknown | None:
    for arg in args:
        if isinstance(arg, Unknown):
            return arg
    return None


def strict(fn: Callable[..., Any]) -> Func:
    """Wrap a pure function of known arguments: any Unknown argument makes the result unknown."""

    def call(ev: ExpressionHost, ctx: Ctx, args: list[Any]) -> Any:
        unknown = _unknown_in(args)
        if unknown is not None and fn not in _STRUCTURE_TOLERANT:
            return Unknown(unknown.source)
        if any(isinstance(a, str) and "${" in a for a in args) and fn not in _TEXT_TOLERANT:
            return Unknown(f"{fn.__name__.strip('_')}(...)")
        return fn(*args)

    return call


def _read(ev: ExpressionHost, path_value: Any) -> str | None:
    if not isinstance(path_value, str) or "${" in path_value:
        return None
    path = Path(path_value)
    if not path.is_absolute():
        path = Path(ev.scope.directory) / path
    try:
        resolved = path.resolve()
        root = Path(ev.scope.root).resolve()
        if root not in resolved.parents and resolved != root:
            return None  # outside the repository being checked: not ours to read
        if not resolved.is_file() or resolved.stat().st_size > MAX_READ_BYTES:
            return None
        text = resolved.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    files_read = getattr(ev.scope, "files_read", None)
    if isinstance(files_read, set):
        files_read.add(resolved)  # so a scan of the folder does not read it a second time
    return text


def _file(ev: ExpressionHost, ctx: Ctx, args: list[Any]) -> Any:
    text = _read(ev, args[0]) if args else None
    return text if text is not None else Unknown("file(...)")


def _filebase64(ev: ExpressionHost, ctx: Ctx, args: list[Any]) -> Any:
    text = _read(ev, args[0]) if args else None
    if text is None:
        return Unknown("filebase64(...)")
    return base64.b64encode(text.encode()).decode()


def _templatefile(ev: ExpressionHost, ctx: Ctx, args: list[Any]) -> Any:
    text = _read(ev, args[0]) if args else None
    if text is None:
        return Unknown("templatefile(...)")
    variables = args[1] if len(args) > 1 else {}
    if not isinstance(variables, dict):
        variables = {}
    return ev.render_template(text, Ctx(variables, isolated=True))


def _try(ev: ExpressionHost, ctx: Ctx, nodes: list[Any]) -> Any:
    for node in nodes:
        try:
            value = ev.eval(node, ctx)
        except (EvalError, TypeError, ValueError, KeyError, IndexError, AttributeError):
            continue
        return value
    raise _eval_error("no argument of try() evaluated")


def _can(ev: ExpressionHost, ctx: Ctx, nodes: list[Any]) -> Any:
    try:
        value = ev.eval(nodes[0], ctx)
    except (EvalError, TypeError, ValueError, KeyError, IndexError, AttributeError):
        return False
    return True if is_known(value) else Unknown("can(...)")


def _lookup(ev: ExpressionHost, ctx: Ctx, args: list[Any]) -> Any:
    if len(args) < 2:
        raise _eval_error("lookup needs 2 or 3 arguments")
    mapping, key = args[0], args[1]
    if isinstance(mapping, Unknown) or isinstance(key, Unknown):
        return Unknown("lookup(...)")
    if not isinstance(mapping, dict):
        raise _eval_error("lookup needs a map")
    text = as_text(key)
    if text in mapping:
        return mapping[text]
    if len(args) > 2:
        return args[2]
    raise _eval_error(f"no key {key!r}")


def _coalesce(ev: ExpressionHost, ctx: Ctx, args: list[Any]) -> Any:
    for arg in args:
        if isinstance(arg, Unknown):
            return Unknown("coalesce(...)")
        if arg is not None and arg != "":
            return arg
    raise _eval_error("no non-null argument")


def _merge(ev: ExpressionHost, ctx: Ctx, args: list[Any]) -> Any:
    out: dict[str, Any] = {}
    for arg in args:
        if arg is None:
            continue
        if not isinstance(arg, dict):
            return Unknown("merge(...)")
        out.update(arg)
    return out


def _base64decode(text: str) -> str:
    return base64.b64decode(text).decode("utf-8")


def _base64encode(text: str) -> str:
    return base64.b64encode(str(text).encode()).decode()


def _plain(value: Any) -> Any:
    """Unknowns inside a structure become their ``${...}`` text, so encoders keep the rest."""
    if isinstance(value, Unknown):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _jsonencode(value: Any) -> str:
    return json.dumps(_plain(value), separators=(",", ":"))


def _yamlencode(value: Any) -> str:
    import yaml

    return str(yaml.safe_dump(_plain(value), sort_keys=False))


def _jsondecode(text: str) -> Any:
    return json.loads(text)


def _yamldecode(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def _format(spec: str, *args: Any) -> str:
    values = iter(args)

    def sub(match: re.Match[str]) -> str:
        verb = match.group(2)
        if verb == "%":
            return "%"
        value = next(values)
        if verb in "dfg" and not isinstance(value, int | float):
            raise _eval_error("format: not a number")
        if verb == "d":
            return str(int(value))
        text = as_text(value)
        return text if text is not None else json.dumps(value)

    return re.sub(r"%([-+# 0-9.]*)([a-zA-Z%])", sub, spec)


def _join(sep: str, *lists: Any) -> str:
    items = [x for lst in lists for x in lst]
    return sep.join(str(as_text(x)) for x in items)


def _replace(text: str, old: str, new: str) -> str:
    if len(old) > 1 and old.startswith("/") and old.endswith("/"):
        return re.sub(old[1:-1], re.sub(r"\$(\d)", r"\\\1", new), text)
    return text.replace(old, new)


def _element(lst: list[Any], index: int) -> Any:
    return lst[int(index) % len(lst)]


def _flatten(lst: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in lst:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def _tonumber(value: Any) -> Any:
    if value is None or isinstance(value, int | float):
        return value
    number = float(str(value))
    return int(number) if number.is_integer() else number


def _tobool(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _eval_error("tobool: not a bool")


def _tostring(value: Any) -> Any:
    return None if value is None else as_text(value)


def _distinct(lst: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in lst:
        if item not in out:
            out.append(item)
    return out


def _indent(spaces: int, text: str) -> str:
    return text.replace("\n", "\n" + " " * int(spaces))


def _contains(lst: list[Any], value: Any) -> bool:
    return value in lst


# Functions whose output keeps its meaning with unresolved parts inside (a boot script with one
# unknown line is still a boot script); the rest give up on any unknown input.
_TEXT_TOLERANT: set[Callable[..., Any]] = {
    _base64encode, _indent, _join, _format, _replace, _jsonencode, _yamlencode}
_STRUCTURE_TOLERANT: set[Callable[..., Any]] = {_jsonencode, _yamlencode}

_PURE: dict[str, Callable[..., Any]] = {
    "base64encode": _base64encode,
    "base64decode": _base64decode,
    "jsonencode": _jsonencode,
    "yamlencode": _yamlencode,
    "jsondecode": _jsondecode,
    "yamldecode": _yamldecode,
    "format": _format,
    "join": _join,
    "split": lambda sep, text: text.split(sep),
    "replace": _replace,
    "upper": lambda s: s.upper(),
    "lower": lambda s: s.lower(),
    "title": lambda s: s.title(),
    "trimspace": lambda s: s.strip(),
    "chomp": lambda s: s.rstrip("\r\n"),
    "trim": lambda s, chars: s.strip(chars),
    "trimprefix": lambda s, p: s[len(p):] if s.startswith(p) else s,
    "trimsuffix": lambda s, p: s[: -len(p)] if p and s.endswith(p) else s,
    "startswith": lambda s, p: s.startswith(p),
    "endswith": lambda s, p: s.endswith(p),
    "substr": lambda s, off, n: s[int(off):] if int(n) < 0 else s[int(off):int(off) + int(n)],
    "indent": _indent,
    "length": lambda x: len(x),
    "element": _element,
    "concat": lambda *lists: [x for lst in lists for x in lst],
    "flatten": _flatten,
    "distinct": _distinct,
    "compact": lambda lst: [x for x in lst if x not in (None, "")],
    "contains": _contains,
    "keys": lambda m: sorted(m),
    "values": lambda m: [m[k] for k in sorted(m)],
    "zipmap": lambda ks, vs: dict(zip([str(k) for k in ks], vs, strict=False)),
    "one": lambda lst: (lst[0] if lst else None) if len(lst) <= 1 else _raise("one: >1"),
    "min": lambda *xs: min(xs),
    "max": lambda *xs: max(xs),
    "sum": lambda lst: sum(lst),
    "abs": lambda x: abs(x),
    "ceil": lambda x: -(-x // 1) if isinstance(x, int) else int(-(-x // 1)),
    "floor": lambda x: int(x // 1),
    "tostring": _tostring,
    "tonumber": _tonumber,
    "tobool": _tobool,
    "tolist": lambda x: list(x),
    "toset": lambda x: _distinct(list(x)),
    "tomap": lambda x: dict(x),
    "sensitive": lambda x: x,
    "nonsensitive": lambda x: x,
    "slice": lambda lst, a, b: lst[int(a):int(b)],
    "reverse": lambda lst: list(reversed(lst)),
    "sort": lambda lst: sorted(lst),
    "range": lambda *a: list(range(*[int(x) for x in a])),
}


def _raise(message: str) -> Any:
    raise _eval_error(message)


FUNCTIONS: dict[str, Func] = {name: strict(fn) for name, fn in _PURE.items()}
FUNCTIONS.update({
    "file": _file,
    "filebase64": _filebase64,
    "templatefile": _templatefile,
    "try": _try,
    "can": _can,
    "lookup": _lookup,
    "coalesce": _coalesce,
    "merge": _merge,
})
