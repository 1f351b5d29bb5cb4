"""The Jinja2 environment the templates render in, and its HCL/shell filters.

Templates only lay out: every value reaches them already decided, and passes through one of the
filters here (or :mod:`llmplan.render.escape`) on its way into HCL or a shell script.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from llmplan.render.escape import gcp_label, hcl_string, sh, template_escape

if TYPE_CHECKING:
    import jinja2


def _template_source(name: str) -> str:
    return resources.files("llmplan.templates").joinpath(name).read_text(encoding="utf-8")


@cache
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        {
            "hcl": hcl_string,
            "sh": sh,
            "tpl": template_escape,
            "label": gcp_label,
            "num": _number,
            "hcl_map": hcl_map,
        }
    )
    return env


def hcl_map(values: Mapping[str, object], indent: int = 2) -> str:
    """An HCL object literal with quoted keys, ``=`` aligned the way ``terraform fmt`` does."""
    pad = " " * indent
    width = max((len(hcl_string(k)) for k in values), default=0)
    lines = [f"{pad}  {hcl_string(k).ljust(width)} = {hcl_string(v)}" for k, v in values.items()]
    return "{\n" + "\n".join(lines) + "\n" + pad + "}"


def _number(value: float, digits: int = 4) -> str:
    """An HCL number literal, rounded (prices) without a trailing ``.0`` for integers."""
    rounded = round(float(value), digits)
    return str(int(rounded)) if rounded == int(rounded) else repr(rounded)
