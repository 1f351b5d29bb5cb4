"""Priced resources from a Terraform folder: the shared HCL reader, local modules followed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmplan.cost.mappers import priced_types
from llmplan.cost.usage import FREE_TYPES
from llmplan.cost.values import is_unresolved, shown
from llmplan.terraform.plan_json import ResourceValues

if TYPE_CHECKING:
    from llmplan.terraform.evaluation import Evaluation, Resource

MAX_MODULE_DEPTH = 6


@dataclass
class Loaded:
    """Resources read from one side (a folder or a plan), with reading problems."""

    resources: list[ResourceValues]
    warnings: list[str] = field(default_factory=list)
    label: str = ""


_PROVIDER_OF = {"aws": "aws", "google": "google", "azurerm": "azurerm"}


_REFERENCE = re.compile(r"(?<![\w.])([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][\w-]*)")


def read_folder(path: str | Path, var_files: Sequence[Path] = (),
                overrides: Mapping[str, Any] | None = None) -> Loaded:
    from llmplan.terraform.evaluation import Evaluation
    from llmplan.terraform.module import Module

    directory = Path(path)
    if directory.is_file():
        directory = directory.parent
    loaded = Loaded([], label=str(path))
    evaluation = Evaluation(Module(directory), var_files, overrides)
    _read_module(evaluation, "", {}, loaded, 0)
    loaded.warnings += [f"{f.file}:{f.line}: {f.message}" for f in evaluation.failures]
    return loaded


def _read_module(evaluation: Evaluation, prefix: str, inherited: Mapping[str, Any], loaded: Loaded,
                 depth: int) -> None:
    from llmplan.terraform.evaluation import Evaluation
    from llmplan.terraform.module import Module

    module = evaluation.module
    regions = dict(inherited)
    for provider in ("aws", "google"):
        for block in module.provider_blocks(provider):
            alias = evaluation.value(block.attributes["alias"].node) \
                if "alias" in block.attributes else None
            key = f"{provider}.{alias}" if isinstance(alias, str) else provider
            for attr in ("region", "zone"):
                value = evaluation.value(block.attributes[attr].node) \
                    if attr in block.attributes else None
                if isinstance(value, str) and not is_unresolved(value):
                    regions[key] = value
                    break
    wanted = sorted(priced_types() | FREE_TYPES | {"azurerm_capacity_reservation_group"})
    for path in module.files:
        failure = module.parsed(path).failure
        if failure is not None:
            loaded.warnings.append(f"{failure.file}:{failure.line}: {failure.message}")
    records = evaluation.resources(wanted)
    for record in records:
        provider = _provider_key(record, evaluation)
        multiplicity, unknown, address = 1, "", record.address
        if not record.instances_known:
            unknown = _why_count_unknown(record, evaluation)
            if unknown.startswith("="):
                # More instances than the reader expands: the first record stands for all.
                if record.key != 0:
                    continue
                multiplicity, unknown = int(unknown[1:]), ""
                address = address.rsplit("[", 1)[0] + "[*]"
        loaded.resources.append(ResourceValues(
            address=prefix + address,
            type=record.type,
            name=record.name,
            values=record.values,
            provider_region=regions.get(provider),
            references=frozenset(prefix + ref for ref in _hcl_references(record.values)),
            file=record.file,
            line=record.line,
            multiplicity=multiplicity,
            unknown_count=unknown,
            module=prefix,
        ))
    if depth >= MAX_MODULE_DEPTH:
        return
    for call in evaluation.module_calls():
        source = call.values.get("source")
        if not isinstance(source, str) or not source.startswith(("./", "../")):
            if call.values.get("source") is not None:
                loaded.warnings.append(
                    f"{call.file}:{call.line}: {call.address} (source {shown(source)}) "
                    "not read: only local modules are followed")
            continue
        inputs = {k: v for k, v in call.values.items() if k not in (
            "source", "version", "count", "for_each", "providers", "depends_on")}
        child = Evaluation(Module(module.directory / source, module.root), (), inputs)
        _read_module(child, f"{prefix}{call.address}.", regions, loaded, depth + 1)


def _provider_key(record: Resource, evaluation: Evaluation) -> str:
    prefix = record.type.split("_", 1)[0]
    attr = record.block.attributes.get("provider")
    if attr is not None:
        from llmplan.terraform.evaluation import expression_text

        return str(expression_text(attr)).strip()
    return _PROVIDER_OF.get(prefix, prefix)


def _why_count_unknown(record: Resource, evaluation: Evaluation) -> str:
    """Why the instances are not known, or ``=N`` when ``count`` is known but over the cap."""
    from llmplan.terraform.values import as_int

    attr = record.block.attributes.get("count")
    if attr is not None:
        number = as_int(evaluation.value(attr.node))
        if number is not None:
            return f"={number}"
        from llmplan.terraform.evaluation import expression_text

        return f"count is not known statically ({expression_text(attr)})"
    attr = record.block.attributes.get("for_each")
    if attr is not None:
        from llmplan.terraform.evaluation import expression_text

        return f"for_each is not known statically ({expression_text(attr)})"
    return "the number of instances is not known statically"


def _hcl_references(value: Any) -> set[str]:
    from llmplan.terraform.values import Unknown

    found: set[str] = set()
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, Unknown):
            text = current.source
        elif isinstance(current, str) and "${" in current:
            text = current
        elif isinstance(current, Mapping):
            stack.extend(current.values())
            continue
        elif isinstance(current, list):
            stack.extend(current)
            continue
        else:
            continue
        for match in _REFERENCE.finditer(text):
            if match.group(1) not in ("var", "local", "data", "module", "path", "each", "count"):
                found.add(f"{match.group(1)}.{match.group(2)}")
    return found
