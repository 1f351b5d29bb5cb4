"""The bundled model registry, and loading any Hugging Face ``config.json`` from disk.

Registry files live in ``llmplan/data/models/<org>__<name>.json``, one model each. The file name
*is* the index: an id resolves to its file without opening any other, so a CLI start-up that
names a bundled id parses exactly one small JSON file. Aliases are only read, from every file,
when a reference misses the file names (or when listing).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from llmplan.errors import UsageError, did_you_mean
from llmplan.model.architecture import ModelArchitecture, from_config

_SUFFIX = ".json"
_SEPARATOR = "__"  # stands for the "/" of an org/name id, which a file name cannot hold


def _registry_dir() -> Traversable:
    return files("llmplan").joinpath("data", "models")


@cache
def _files_by_id() -> dict[str, str]:
    """Lower-cased model id -> its registry file name, from the file names alone."""
    index: dict[str, str] = {}
    for item in _registry_dir().iterdir():
        name = item.name
        if name.endswith(_SUFFIX) and _SEPARATOR in name:
            org, model = name[: -len(_SUFFIX)].split(_SEPARATOR, 1)
            index[f"{org}/{model}".lower()] = name
    return index


def _read_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(
            f"{where}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})"
        ) from None


@cache
def _entry(file_name: str) -> Mapping[str, Any]:
    where = f"llmplan/data/models/{file_name}"
    data = _read_json(_registry_dir().joinpath(file_name).read_text(encoding="utf-8"), where)
    if not isinstance(data, dict):
        raise UsageError(f"{where}: must hold a JSON object")
    for key, kind in (("id", str), ("source", str), ("config", dict)):
        if not isinstance(data.get(key), kind):
            raise UsageError(f"{where}: {key}: missing or not a {kind.__name__}")
    published = data.get("published_parameters")
    if published is not None and (isinstance(published, bool) or not isinstance(published, int)):
        raise UsageError(f"{where}: published_parameters: must be an integer or null")
    return data


def _aliases(entry: Mapping[str, Any]) -> list[str]:
    aliases = entry.get("aliases") or []
    return [a for a in aliases if isinstance(a, str)]


@cache
def _alias_index() -> dict[str, str]:
    """Lower-cased alias -> registry file name. Opens every file, so only built on a name miss."""
    index: dict[str, str] = {}
    for file in _files_by_id().values():
        for alias in _aliases(_entry(file)):
            index[alias.lower()] = file
    return index


def _registry_file(ref: str) -> str | None:
    key = ref.strip().lower()
    return _files_by_id().get(key) or _alias_index().get(key)


def _entries() -> Iterator[Mapping[str, Any]]:
    for _, file in sorted(_files_by_id().items()):
        yield _entry(file)


def list_models() -> list[str]:
    """Every bundled model id, sorted case-insensitively."""
    return sorted((str(e["id"]) for e in _entries()), key=str.lower)


def registry_entry(ref: str) -> Mapping[str, Any]:
    """The raw registry record (id, aliases, sources, config) for a bundled id or alias."""
    file = _registry_file(ref)
    if file is None:
        raise _unknown(ref)
    return _entry(file)


def served_model_id(ref: str) -> str:
    """The hub id an engine should load for ``ref``, in the registry's spelling.

    An alias (an -Instruct variant sharing its base model's architecture) is served as itself,
    not as the base id the sizing record is filed under. A local config path is served as the
    registry-free reference it is (the engine host must have it), and an unknown id as given.
    """
    if Path(ref).exists():
        return ref
    file = _registry_file(ref)
    if file is None:
        return ref
    entry = _entry(file)
    for name in [str(entry.get("id", "")), *_aliases(entry)]:
        if name.lower() == ref.strip().lower():
            return name
    return ref


def _unknown(ref: str) -> UsageError:
    names = [str(e["id"]) for e in _entries()]
    names += [alias for e in _entries() for alias in _aliases(e)]
    hint = did_you_mean(ref, names)
    if not hint:
        hint = " (not a bundled model id, nor a path to a config.json or a folder holding one)"
    return UsageError(f"unknown model '{ref}'{hint}")


def _from_entry(entry: Mapping[str, Any]) -> ModelArchitecture:
    return from_config(
        entry["config"],
        model_id=str(entry["id"]),
        source=str(entry["source"]),
        published_parameters=entry.get("published_parameters"),
    )


def _from_path(path: Path) -> ModelArchitecture:
    config_file = path / "config.json" if path.is_dir() else path
    if not config_file.is_file():
        raise UsageError(f"{path}: no config.json in this folder")
    try:
        text = config_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{config_file}: cannot be read ({err})") from None
    config = _read_json(text, str(config_file))
    if not isinstance(config, dict):
        raise UsageError(f"{config_file}: must hold a JSON object (a Hugging Face config.json)")
    # A local checkout is usually named after its repository; that is the best id we have.
    model_id = config_file.parent.name or str(config_file)
    return from_config(config, model_id=model_id, source=str(config_file))


def load_model(ref: str) -> ModelArchitecture:
    """A bundled model by id or alias (any case), or any model from a config.json path/folder.

    An existing local path wins over a registry id, as it does for ``from_pretrained``.
    """
    if not ref or not ref.strip():
        raise UsageError("model: must name a model id or a path to a config.json (got '')")
    path = Path(ref).expanduser()
    if path.exists():
        return _from_path(path)
    file = _registry_file(ref)
    if file is None:
        raise _unknown(ref)
    return _from_entry(_entry(file))
