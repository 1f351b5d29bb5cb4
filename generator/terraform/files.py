"""Which files a check or cost run reads: ``.tf``/``.tfvars`` under the paths given, grouped by
the module folder each belongs to."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

SKIP_DIRS = {".git", ".terraform", ".terragrunt-cache", "node_modules", "__pycache__", ".venv"}


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
