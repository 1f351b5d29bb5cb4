"""``terraform show -json`` plans: each resource's values before and after, enough alone for a diff.

A plan's ``resource_changes[]`` carries, per resource instance, ``change.actions`` and the
``before`` / ``after`` values (nested blocks as lists of dicts, unknown-after-apply values absent
and flagged in ``after_unknown``). Its ``configuration`` section says what each resource refers to
(an autoscaling group's launch template is ``aws_launch_template.x.id``, unknown until apply) and
how each provider's region is set. This module turns both into :class:`ResourceValues` records,
the same shape :mod:`llmplan.cost.reader` builds from Terraform folders.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from llmplan.errors import UsageError

Side = Literal["before", "after"]
_INDEX = re.compile(r"\[[^\]]*\]")
MAX_PLAN_BYTES = 256 * 1024 * 1024


@dataclass
class ResourceValues:
    """One resource instance to price: its values, default region and what it refers to."""

    address: str
    type: str
    name: str
    values: Mapping[str, Any]
    provider_region: Any = None  # the provider block's region (a string when known)
    references: frozenset[str] = frozenset()  # resource addresses (no index) it refers to
    file: str = ""
    line: int = 0
    multiplicity: int = 1  # instances this record stands for (count beyond the reader's cap)
    unknown_count: str = ""  # why the number of instances is not known, if it is not
    module: str = ""  # "module.a." prefix of its module, "" at the root
    action: str = ""  # plan action of this instance ("create", "update", ...)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanChange:
    address: str
    type: str
    name: str
    module_address: str
    provider_name: str
    actions: tuple[str, ...]
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    after_unknown: Mapping[str, Any]

    @property
    def config_address(self) -> str:
        """The address in ``configuration``: module instance keys and the index removed."""
        prefix = _INDEX.sub("", self.module_address) + "." if self.module_address else ""
        return f"{prefix}{self.type}.{self.name}"

    @property
    def action(self) -> str:
        actions = set(self.actions)
        if actions == {"delete", "create"}:
            return "replace"
        return self.actions[0] if self.actions else "no-op"


@dataclass
class Plan:
    path: str
    terraform_version: str
    changes: list[PlanChange]
    references: dict[str, frozenset[str]]  # config address -> referenced config addresses
    provider_keys: dict[str, str]  # config address -> provider config key
    provider_regions: dict[str, Any]  # provider config key -> region value

    def side(self, which: Side) -> list[ResourceValues]:
        """The managed resources as they are ``before`` the plan or will be ``after`` it."""
        out: list[ResourceValues] = []
        for change in self.changes:
            values = change.before if which == "before" else change.after
            if values is None:
                continue
            if which == "after" and change.after_unknown:
                values = _mark_unknown(dict(values), change.after_unknown)
            config = change.config_address
            key = self.provider_keys.get(config, change.provider_name.rsplit("/", 1)[-1])
            out.append(ResourceValues(
                address=change.address,
                type=change.type,
                name=change.name,
                values=values,
                provider_region=self.provider_regions.get(key),
                references=self.references.get(config, frozenset()),
                file=self.path,
                module=(change.module_address + ".") if change.module_address else "",
                action=change.action,
            ))
        return out


class UnknownAfterApply:
    """A value the plan says is known only after apply (``after_unknown``)."""

    def __repr__(self) -> str:
        return "(known after apply)"


def _mark_unknown(values: dict[str, Any], unknown: Mapping[str, Any]) -> dict[str, Any]:
    for key, flag in unknown.items():
        if flag is True and values.get(key) is None:
            values[key] = UnknownAfterApply()
        elif isinstance(flag, list) and isinstance(values.get(key), list):
            items = values[key]
            for i, sub in enumerate(flag):
                if i < len(items) and isinstance(sub, dict) and isinstance(items[i], dict):
                    items[i] = _mark_unknown(dict(items[i]), sub)
    return values


def looks_like_plan(path: str | Path) -> bool:
    """A ``.json`` file (a plan) rather than a Terraform folder or ``.tf`` file."""
    p = Path(path)
    return p.is_file() and p.suffix.lower() == ".json"


def load_plan(path: str | Path) -> Plan:
    """Read a ``terraform show -json`` file; a file that is not one raises :class:`UsageError`."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_PLAN_BYTES:
            raise UsageError(f"{p}: plan file larger than {MAX_PLAN_BYTES >> 20} MiB")
        data = json.loads(p.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise UsageError(f"{p}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{p}: not a JSON plan ({exc})") from None
    return parse_plan(data, str(p))


def parse_plan(data: Any, path: str = "<plan>") -> Plan:
    if not isinstance(data, dict) or "format_version" not in data:
        raise UsageError(f"{path}: not `terraform show -json` output (no format_version)")
    version = str(data.get("format_version", ""))
    if version.split(".", 1)[0] != "1":
        raise UsageError(f"{path}: plan format_version {version} is not supported (1.x only)")
    if "resource_changes" not in data and "planned_values" not in data:
        raise UsageError(
            f"{path}: no resource_changes; give `terraform show -json PLANFILE` output, "
            "not state"
        )
    changes: list[PlanChange] = []
    for item in data.get("resource_changes") or []:
        if not isinstance(item, dict) or item.get("mode", "managed") != "managed":
            continue
        change = item.get("change") or {}
        before, after = change.get("before"), change.get("after")
        actions = tuple(str(a) for a in change.get("actions") or ())
        if "delete" in actions and "create" not in actions:
            after = None
        if "create" in actions and "delete" not in actions:
            before = None
        changes.append(PlanChange(
            address=str(item.get("address", "")),
            type=str(item.get("type", "")),
            name=str(item.get("name", "")),
            module_address=str(item.get("module_address") or ""),
            provider_name=str(item.get("provider_name") or ""),
            actions=actions,
            before=before if isinstance(before, dict) else None,
            after=after if isinstance(after, dict) else None,
            after_unknown=_mapping(change.get("after_unknown")),
        ))
    references: dict[str, frozenset[str]] = {}
    provider_keys: dict[str, str] = {}
    configuration = data.get("configuration") or {}
    for prefix, resource in _config_resources(configuration.get("root_module") or {}, ""):
        address = f"{prefix}{resource.get('type')}.{resource.get('name')}"
        refs = {_resource_of(r, prefix) for r in _references(resource.get("expressions") or {})}
        references[address] = frozenset(r for r in refs if r)
        if resource.get("provider_config_key"):
            provider_keys[address] = str(resource["provider_config_key"])
    variables = {k: v.get("value") for k, v in (data.get("variables") or {}).items()
                 if isinstance(v, dict)}
    regions: dict[str, Any] = {}
    for key, provider in (configuration.get("provider_config") or {}).items():
        region = _expression_value(
            ((provider or {}).get("expressions") or {}).get("region"), variables)
        if region is not None:
            regions[str(key)] = region
    return Plan(path, str(data.get("terraform_version", "")), changes, references,
                provider_keys, regions)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _config_resources(module: Mapping[str, Any], prefix: str
                      ) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for resource in module.get("resources") or []:
        if isinstance(resource, dict) and resource.get("mode", "managed") == "managed":
            yield prefix, resource
    for name, call in (module.get("module_calls") or {}).items():
        if isinstance(call, dict):
            yield from _config_resources(call.get("module") or {}, f"{prefix}module.{name}.")


def _references(expressions: Any) -> Iterator[str]:
    if isinstance(expressions, dict):
        for key, value in expressions.items():
            if key == "references" and isinstance(value, list):
                yield from (str(v) for v in value)
            else:
                yield from _references(value)
    elif isinstance(expressions, list):
        for value in expressions:
            yield from _references(value)


def _resource_of(reference: str, prefix: str) -> str:
    """``aws_launch_template.x.id`` -> ``aws_launch_template.x`` (var/local/data -> "")."""
    parts = _INDEX.sub("", reference).split(".")
    if len(parts) < 2 or parts[0] in ("var", "local", "data", "module", "each", "count",
                                      "path", "self", "terraform"):
        return ""
    return f"{prefix}{parts[0]}.{parts[1]}"


def _expression_value(expression: Any, variables: Mapping[str, Any]) -> Any:
    if not isinstance(expression, dict):
        return None
    if "constant_value" in expression:
        return expression["constant_value"]
    for reference in expression.get("references") or []:
        if str(reference).startswith("var."):
            name = str(reference).split(".")[1]
            if variables.get(name) is not None:
                return variables[name]
    return None
