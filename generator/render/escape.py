"""Escaping for the two contexts rendered values land in: HCL (strings, heredocs) and POSIX shell.

Every value that comes from the user or the plan goes through one of these; templates never
interpolate a raw string.
"""

from __future__ import annotations

import re
import shlex

_HCL_SIMPLE_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def template_escape(text: str) -> str:
    """Make Terraform's template sequences literal: ``${`` -> ``$${`` and ``%{`` -> ``%%{``.

    Applies inside quoted strings and heredocs alike (both are templates in HCL).
    """
    return text.replace("${", "$${").replace("%{", "%%{")


def hcl_string(value: object) -> str:
    """A quoted HCL string literal that evaluates to exactly ``str(value)``.

    JSON's escapes are not all HCL's (HCL has no ``\\b``/``\\f``), so control characters other
    than newline, CR and tab become ``\\uNNNN``.
    """
    out = []
    for ch in str(value):
        if ch in _HCL_SIMPLE_ESCAPES:
            out.append(_HCL_SIMPLE_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + template_escape("".join(out)) + '"'


def heredoc(body: str, marker: str = "EOT") -> str:
    """An HCL heredoc holding ``body`` (already template-escaped where it must be literal).

    The closing marker is chosen so no line of the body can close it early, whatever a model
    name with newlines put there.
    """
    lines = {line.strip() for line in body.splitlines()}
    name, n = marker, 0
    while name in lines:
        n += 1
        name = f"{marker}{n}"
    text = body if body.endswith("\n") else body + "\n"
    return f"<<{name}\n{text}{name}"


def sh(value: object) -> str:
    """One shell word, for a script that is itself a Terraform template."""
    return template_escape(shlex.quote(str(value)))


def sh_from_tf(expr: str) -> str:
    """A shell word holding the run-time value of the Terraform expression ``expr``.

    Single quotes inside the value are closed, escaped and reopened by Terraform's ``replace()``,
    so a variable the user sets cannot break out of the quoted word.
    """
    return "'${replace(" + expr + ", \"'\", \"'\\\\''\")}'"


_LABEL_BAD = re.compile(r"[^a-z0-9_-]+")


def gcp_label(value: str) -> str:
    """A GCP label value: lowercase letters, digits, ``_`` and ``-``, at most 63 characters."""
    return _LABEL_BAD.sub("-", value.lower()).strip("-")[:63] or "none"


_NAME_BAD = re.compile(r"[^a-z0-9-]+")


def resource_name(value: str, limit: int = 40) -> str:
    """A name every cloud accepts for VMs and groups: lowercase, digits and ``-``, letter first."""
    name = _NAME_BAD.sub("-", value.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = "llm-" + name
    return name[:limit].rstrip("-") or "llm"
