"""Static evaluation of Terraform expressions: what can be known without running Terraform.

Evaluates python-hcl2 rule nodes against a :class:`Scope` (one module's variables, locals and
resources). Literals, ``var.*`` (defaults and tfvars), ``local.*``, ``path.*``, references to
other resources' *configured* attributes, string templates and heredocs, conditionals, operators,
``for`` expressions, splats and the common functions all evaluate; everything else (data
sources, module outputs, computed attributes, ``timestamp()``) is an :class:`Unknown`.

Evaluation never raises to its caller: :meth:`Evaluator.value` turns every failure into an
Unknown. Internally a Terraform error (a missing key, a wrong type) raises :class:`EvalError`, so
``try()`` and ``can()`` behave as in Terraform.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from llmplan.terraform.context import Ctx, EvalError, Scope, source_of
from llmplan.terraform.functions import FUNCTIONS
from llmplan.terraform.syntax import Block, object_key_literal
from llmplan.terraform.templates import TemplateRenderer, heredoc_body
from llmplan.terraform.values import Unknown, as_text, is_known

MAX_DEPTH = 48


class _Namespace:
    """A root name like ``var`` or ``aws_instance``: resolves attribute and index access."""

    def attr(self, name: str) -> Any:
        raise EvalError(f"no attribute {name}")

    def index(self, key: Any) -> Any:
        raise EvalError("not indexable")


class Evaluator:
    """Evaluates expressions of one module scope; caches locals and referenced attributes."""

    def __init__(self, scope: Scope, functions: Mapping[str, Callable[..., Any]] | None = None):
        self.scope = scope
        self.templates = TemplateRenderer(self)
        self.functions: Mapping[str, Callable[..., Any]] = functions or FUNCTIONS
        self._locals: dict[str, Any] = {}
        self._active: set[object] = set()
        self._depth = 0
        self._ref_cache: dict[tuple[int, str], Any] = {}

    # --- public entry points

    def value(self, node: Any, env: Mapping[str, Any] | None = None) -> Any:
        """The value of ``node``, or an Unknown; never raises."""
        ctx = Ctx(dict(env or {}))
        try:
            return self.eval(node, ctx)
        except (EvalError, RecursionError, ArithmeticError, TypeError, ValueError,
                AttributeError, IndexError, KeyError):
            return Unknown(source_of(node))

    def block_values(self, block: Block, env: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A block's attributes and nested blocks (lists of dicts, as in plan JSON)."""
        return self._block(block, Ctx(dict(env or {})))

    def render(self, text: str, env: Mapping[str, Any] | None = None,
               isolated: bool = False) -> str:
        """A template (heredoc or templatefile body) with what can be resolved resolved."""
        return self.render_template(text, Ctx(dict(env or {}), isolated))

    def render_template(self, text: str, ctx: Ctx) -> str:
        return self.templates.render(text, ctx)

    # --- blocks

    def _block(self, block: Block, ctx: Ctx) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, attr in block.attributes.items():
            out[name] = self.safe(attr.node, ctx)
        for child in block.blocks:
            if child.type == "dynamic" and child.labels:
                out.setdefault(child.labels[0], [])
                expanded = self._dynamic(child, ctx)
                if isinstance(expanded, Unknown):
                    out[child.labels[0]] = expanded
                elif isinstance(out[child.labels[0]], list):
                    out[child.labels[0]].extend(expanded)
                continue
            if child.type in ("lifecycle", "provisioner", "connection", "timeouts"):
                continue
            existing = out.setdefault(child.type, [])
            if isinstance(existing, list):
                existing.append(self._block(child, ctx))
        return out

    def _dynamic(self, block: Block, ctx: Ctx) -> list[dict[str, Any]] | Unknown:
        iterator = block.labels[0]
        it_attr = block.attributes.get("iterator")
        if it_attr is not None:
            iterator = source_of(it_attr.node)
        content = block.child("content")
        for_each = block.attributes.get("for_each")
        if content is None or for_each is None:
            return []
        collection = self.safe(for_each.node, ctx)
        if isinstance(collection, Unknown) or not isinstance(collection, list | dict):
            return Unknown(source_of(for_each.node))
        items: list[dict[str, Any]] = []
        for key, value in _pairs(collection):
            inner = ctx.with_names(**{iterator: {"key": key, "value": value}})
            items.append(self._block(content, inner))
        return items

    def safe(self, node: Any, ctx: Ctx) -> Any:
        try:
            return self.eval(node, ctx)
        except (EvalError, RecursionError, ArithmeticError, TypeError, ValueError,
                AttributeError, IndexError, KeyError):
            return Unknown(source_of(node))

    # --- expressions

    def eval(self, node: Any, ctx: Ctx) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise EvalError("expression nested too deeply")
            handler = _HANDLERS.get(node.lark_name())
            if handler is None:
                return Unknown(source_of(node))
            return handler(self, node, ctx)
        finally:
            self._depth -= 1

    def _expr_term(self, node: Any, ctx: Ctx) -> Any:
        return self.eval(node.expression, ctx)

    def _literal(self, node: Any, ctx: Ctx) -> Any:
        token = str(node.token.value)
        return {"true": True, "false": False, "null": None}.get(token, token)

    def _int(self, node: Any, ctx: Ctx) -> Any:
        return int(str(node.token.value))

    def _float(self, node: Any, ctx: Ctx) -> Any:
        return float(str(node.token.value))

    def _identifier(self, node: Any, ctx: Ctx) -> Any:
        return self._root(str(node.token.value), ctx)

    def _root(self, name: str, ctx: Ctx) -> Any:
        if name in ctx.env:
            return ctx.env[name]
        if ctx.isolated:
            raise EvalError(f"{name} is not a template variable")
        scope = self.scope
        if name == "var":
            return _VarNamespace(self)
        if name == "local":
            return _LocalNamespace(self)
        if name == "path":
            here = str(scope.directory)
            return {"module": here, "root": here, "cwd": here}
        if name == "terraform":
            return {"workspace": "default"}
        if name == "data":
            return _DataNamespace(self)
        if name in ("count", "each", "self", "module"):
            return Unknown(name)
        return _ResourceTypeNamespace(self, "resource", name)

    def _string(self, node: Any, ctx: Ctx) -> Any:
        from hcl2.utils import process_escape_sequences

        parts: list[str] = []
        for part in node.string_parts:
            content = part.content
            kind = content.lark_name()
            if kind == "STRING_CHARS":
                parts.append(process_escape_sequences(str(content.value)))
            elif kind == "ESCAPED_INTERPOLATION":
                parts.append("${")
            elif kind == "ESCAPED_DIRECTIVE":
                parts.append("%{")
            elif kind == "interpolation":
                parts.append(self.interpolate(content.expression, ctx))
            else:
                # A %{ } directive inside a quoted string: render the whole string as a template.
                inner = str(node.serialize())[1:-1]
                return process_escape_sequences(self.render_template(inner, ctx))
        return "".join(parts)

    def interpolate(self, node: Any, ctx: Ctx) -> str:
        value = self.safe(node, ctx)
        if isinstance(value, Unknown):
            return f"${{{value.source or source_of(node)}}}"
        text = as_text(value)
        if text is None:
            if value is None:
                return ""
            return f"${{{source_of(node)}}}"
        return text

    def _heredoc(self, node: Any, ctx: Ctx) -> Any:
        return self.render_template(heredoc_body(str(node.heredoc.value)), ctx)

    def _tuple(self, node: Any, ctx: Ctx) -> Any:
        return [self.eval(e, ctx) for e in node.elements]

    def _object(self, node: Any, ctx: Ctx) -> Any:
        out: dict[str, Any] = {}
        for element in node.elements:
            key_node = element.key
            literal = object_key_literal(key_node)
            if literal is not None:
                key: Any = literal
            elif key_node.lark_name() == "object_elem_key":
                key = self.eval(key_node.value, ctx)
            else:
                key = self.eval(key_node.expression, ctx)
            if isinstance(key, Unknown) or (isinstance(key, str) and "${" in key):
                # An object with a key we cannot know: its shape is unknown.
                return Unknown(source_of(node))
            out[str(as_text(key) if not isinstance(key, str) else key)] = self.safe(
                element.expression, ctx)
        return out

    def _get_attr(self, node: Any, ctx: Ctx) -> Any:
        base_node, get_attr = node.children[0], node.children[1]
        base = self.eval(base_node, ctx)
        return self.attr(base, str(get_attr.identifier.token.value))

    def attr(self, base: Any, name: str) -> Any:
        if isinstance(base, Unknown):
            return Unknown(f"{base.source}.{name}" if base.source else name)
        if isinstance(base, _Namespace):
            return base.attr(name)
        if isinstance(base, dict):
            if name not in base:
                raise EvalError(f"no key {name}")
            return base[name]
        raise EvalError(f"cannot read .{name} of {type(base).__name__}")

    def _index(self, node: Any, ctx: Ctx) -> Any:
        base = self.eval(node.children[0], ctx)
        index_rule = node.children[1]
        if index_rule.lark_name() == "short_index":
            key: Any = int(str(index_rule.index.value if hasattr(index_rule.index, "value")
                               else index_rule.index))
        else:
            key = self.eval(index_rule.index_expression, ctx)
        return self.index(base, key)

    def index(self, base: Any, key: Any) -> Any:
        if isinstance(base, Unknown):
            return Unknown(base.source)
        if isinstance(base, _Namespace):
            return base.index(key)
        if isinstance(key, Unknown):
            return Unknown(str(key))
        if isinstance(base, list):
            if isinstance(key, bool) or not isinstance(key, int | float | str):
                raise EvalError("list index must be a number")
            position = int(float(key))
            if not 0 <= position < len(base):
                raise EvalError("index out of range")
            return base[position]
        if isinstance(base, dict):
            text = as_text(key)
            if text is None or text not in base:
                raise EvalError(f"no key {key!r}")
            return base[text]
        raise EvalError("not indexable")

    def _splat(self, node: Any, ctx: Ctx) -> Any:
        base = self.eval(node.children[0], ctx)
        if isinstance(base, Unknown):
            return base
        items = base if isinstance(base, list) else ([] if base is None else [base])
        steps = node.children[1].children[1:]
        out = []
        for item in items:
            value = item
            for step in steps:
                if step is None or not hasattr(step, "lark_name"):
                    continue
                if step.lark_name() == "get_attr":
                    value = self.attr(value, str(step.identifier.token.value))
                elif step.lark_name() == "braces_index":
                    value = self.index(value, self.eval(step.index_expression, ctx))
            out.append(value)
        return out

    def _conditional(self, node: Any, ctx: Ctx) -> Any:
        condition = self.safe(node.condition, ctx)
        if isinstance(condition, bool):
            return self.eval(node.if_true if condition else node.if_false, ctx)
        # Unknown condition: the result is known only if both branches agree.
        yes = self.safe(node.if_true, ctx)
        no = self.safe(node.if_false, ctx)
        if is_known(yes) and is_known(no) and yes == no:
            return yes
        return Unknown(source_of(node))

    def _binary(self, node: Any, ctx: Ctx) -> Any:
        op = str(node.binary_term.binary_operator.token.value).strip()
        left = self.safe(node.expr_term, ctx)
        if op == "&&" and left is False:
            return False
        if op == "||" and left is True:
            return True
        right = self.safe(node.binary_term.expr_term, ctx)
        if op in ("&&", "||"):
            if isinstance(left, bool) and isinstance(right, bool):
                return (left and right) if op == "&&" else (left or right)
            if op == "&&" and right is False:
                return False
            if op == "||" and right is True:
                return True
            return Unknown(source_of(node))
        if not (is_known(left) and is_known(right)):
            return Unknown(source_of(node))
        if op == "==":
            return _equal(left, right)
        if op == "!=":
            return not _equal(left, right)
        func = _ARITH.get(op)
        if func is None:
            return Unknown(source_of(node))
        return func(_number(left), _number(right))

    def _unary(self, node: Any, ctx: Ctx) -> Any:
        op = node.operator.strip()
        value = self.eval(node.expr_term, ctx)
        if isinstance(value, Unknown):
            return value
        if op == "!":
            if not isinstance(value, bool):
                raise EvalError("! needs a bool")
            return not value
        return -_number(value)

    def _call(self, node: Any, ctx: Ctx) -> Any:
        name = "::".join(str(i.token.value) for i in node.identifiers)
        func = self.functions.get(name)
        if func is None:
            return Unknown(source_of(node))
        args_rule = node.arguments
        arg_nodes = list(args_rule.arguments) if args_rule is not None else []
        if name in ("try", "can"):
            return func(self, ctx, arg_nodes)
        args = [self.eval(a, ctx) for a in arg_nodes]
        if args_rule is not None and args_rule.has_ellipsis and args:
            tail = args.pop()
            if isinstance(tail, Unknown):
                return Unknown(source_of(node))
            args.extend(tail if isinstance(tail, list) else [tail])
        return func(self, ctx, args)

    def _for(self, node: Any, ctx: Ctx) -> Any:
        intro = node.for_intro
        collection = self.eval(intro.iterable, ctx)
        if isinstance(collection, Unknown) or not is_known_shape(collection):
            return Unknown(source_of(node))
        first = str(intro.first_iterator.token.value)
        second = intro.second_iterator
        is_object = node.lark_name() == "for_object_expr"
        out_list: list[Any] = []
        out_map: dict[str, Any] = {}
        for key, value in _pairs(collection):
            names = {first: value} if second is None else {
                first: key, str(second.token.value): value}
            inner = ctx.with_names(**names)
            if node.condition is not None:
                keep = self.eval(node.condition.condition_expr, inner)
                if isinstance(keep, Unknown):
                    return Unknown(source_of(node))
                if not keep:
                    continue
            if not is_object:
                out_list.append(self.eval(node.value_expr, inner))
                continue
            k = self.eval(node.key_expr, inner)
            if isinstance(k, Unknown):
                return Unknown(source_of(node))
            v = self.eval(node.value_expr, inner)
            text = str(as_text(k))
            if node.ellipsis is not None:
                out_map.setdefault(text, []).append(v)
            else:
                out_map[text] = v
        return out_map if is_object else out_list

def is_known_shape(value: Any) -> bool:
    return isinstance(value, list | dict)


def _pairs(collection: list[Any] | dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    if isinstance(collection, dict):
        yield from collection.items()
    else:
        yield from enumerate(collection)


def _number(value: Any) -> float | int:
    if isinstance(value, bool):
        raise EvalError("not a number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        number = float(value)
        return int(number) if number.is_integer() and "." not in value else number
    raise EvalError("not a number")


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, int | float) and isinstance(right, str):
        return as_text(left) == right
    if isinstance(right, int | float) and isinstance(left, str):
        return as_text(right) == left
    return bool(left == right)


def _divide(a: float, b: float) -> float | int:
    result = a / b
    return int(result) if float(result).is_integer() else result


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": _divide,
    "%": operator.mod, "<": operator.lt, ">": operator.gt, "<=": operator.le,
    ">=": operator.ge,
}


class _VarNamespace(_Namespace):
    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def attr(self, name: str) -> Any:
        return self.evaluator.scope.variable(name)


class _LocalNamespace(_Namespace):
    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def attr(self, name: str) -> Any:
        ev = self.evaluator
        if name in ev._locals:
            return ev._locals[name]
        attr = ev.scope.local(name)
        if attr is None:
            return Unknown(f"local.{name}")
        key = ("local", name)
        if key in ev._active:
            return Unknown(f"local.{name}")  # a cycle; Terraform rejects it, we stay quiet
        ev._active.add(key)
        try:
            value = ev.safe(attr.node, Ctx())
        finally:
            ev._active.discard(key)
        ev._locals[name] = value
        return value


class _ResourceTypeNamespace(_Namespace):
    def __init__(self, evaluator: Evaluator, mode: str, type_: str) -> None:
        self.evaluator, self.mode, self.type = evaluator, mode, type_

    def attr(self, name: str) -> Any:
        block = self.evaluator.scope.block(self.mode, self.type, name)
        prefix = "data." if self.mode == "data" else ""
        if block is None:
            return Unknown(f"{prefix}{self.type}.{name}")
        return _ResourceRef(self.evaluator, block, f"{prefix}{self.type}.{name}")


class _DataNamespace(_Namespace):
    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def attr(self, name: str) -> Any:
        return _ResourceTypeNamespace(self.evaluator, "data", name)


class _ResourceRef(_Namespace):
    """Another resource's configured attributes; computed ones (``id``, ``arn``) are unknown."""

    def __init__(self, evaluator: Evaluator, block: Block, address: str) -> None:
        self.evaluator, self.block, self.address = evaluator, block, address

    def index(self, key: Any) -> Any:
        return self  # every count/for_each instance shares the configuration

    def attr(self, name: str) -> Any:
        ev = self.evaluator
        cache_key = (id(self.block), name)
        if cache_key in ev._ref_cache:
            return ev._ref_cache[cache_key]
        if cache_key in ev._active:
            return Unknown(f"{self.address}.{name}")
        ev._active.add(cache_key)
        try:
            value = self._resolve(name)
        finally:
            ev._active.discard(cache_key)
        ev._ref_cache[cache_key] = value
        return value

    def _resolve(self, name: str) -> Any:
        ev, block = self.evaluator, self.block
        ctx = Ctx({"count": Unknown("count"), "each": Unknown("each")})
        if name == "rendered" and block.type == "data":
            return self._rendered(ctx)
        attr = block.attributes.get(name)
        if attr is not None:
            return ev.safe(attr.node, ctx)
        children = [b for b in block.blocks if b.type == name]
        if children:
            return [ev._block(b, ctx) for b in children]
        return Unknown(f"{self.address}.{name}")

    def _rendered(self, ctx: Ctx) -> Any:
        # data.template_file / data.cloudinit_config: what the boot script will contain.
        ev, block = self.evaluator, self.block
        kind = self.address.removeprefix("data.").split(".", 1)[0]
        if kind == "template_file" and "template" in block.attributes:
            template = ev.safe(block.attributes["template"].node, ctx)
            variables = ev.safe(block.attributes["vars"].node, ctx) \
                if "vars" in block.attributes else {}
            if isinstance(template, str) and isinstance(variables, dict):
                return ev.render_template(template, Ctx(variables, isolated=True))
        if kind == "cloudinit_config":
            parts = [ev.safe(p.attributes["content"].node, ctx)
                     for p in block.children("part") if "content" in p.attributes]
            texts = [p for p in parts if isinstance(p, str)]
            if texts:
                return "\n".join(texts)
        return Unknown(f"{self.address}.rendered")


_HANDLERS: dict[str, Callable[[Evaluator, Any, Ctx], Any]] = {
    "expr_term": Evaluator._expr_term,
    "literal_value": Evaluator._literal,
    "keyword": Evaluator._literal,
    "int_lit": Evaluator._int,
    "float_lit": Evaluator._float,
    "identifier": Evaluator._identifier,
    "string": Evaluator._string,
    "heredoc_template": Evaluator._heredoc,
    "heredoc_template_trim": Evaluator._heredoc,
    "tuple": Evaluator._tuple,
    "object": Evaluator._object,
    "get_attr_expr_term": Evaluator._get_attr,
    "index_expr_term": Evaluator._index,
    "attr_splat_expr_term": Evaluator._splat,
    "full_splat_expr_term": Evaluator._splat,
    "conditional": Evaluator._conditional,
    "binary_op": Evaluator._binary,
    "unary_op": Evaluator._unary,
    "function_call": Evaluator._call,
    "for_tuple_expr": Evaluator._for,
    "for_object_expr": Evaluator._for,
}
