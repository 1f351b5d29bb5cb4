"""One Terraform module: the ``.tf`` files of a folder, each parsed only when a lookup needs it."""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import cached_property
from pathlib import Path

from llmplan.terraform.files import is_terraform, is_tfvars
from llmplan.terraform.syntax import (
    Attribute,
    Block,
    HclFile,
    parse_file,
    parse_text,
    read_text,
)

_BLOCK_HEAD = re.compile(r'^\s*(resource|data|module|variable)\s+"([^"]+)"(?:\s+"([^"]+)")?',
                         re.M)


class Module:
    """One Terraform module: the ``.tf`` files of a folder, each parsed only when needed."""

    def __init__(self, directory: str | Path, root: str | Path | None = None) -> None:
        # Absolute, so path.module and file() resolve the same from any working directory.
        self.directory = Path(directory).resolve()
        self.root = Path(root).resolve() if root is not None else self.directory
        self._parsed: dict[Path, HclFile] = {}

    @cached_property
    def files(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.iterdir() if p.is_file() and is_terraform(p))
        except OSError:
            return []

    @cached_property
    def texts(self) -> dict[Path, str]:
        """Raw text of every ``.tf`` file (cheap): lookups search it before parsing anything."""
        out: dict[Path, str] = {}
        for path in self.files:
            text, _ = read_text(path)
            out[path] = text or ""
        return out

    @cached_property
    def tfvars_files(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.iterdir() if p.is_file() and is_tfvars(p))
        except OSError:
            return []

    def parsed(self, path: Path) -> HclFile:
        if path not in self._parsed:
            text = self.texts.get(path)
            self._parsed[path] = parse_text(text, str(path)) if text is not None \
                else parse_file(path)
        return self._parsed[path]

    def remember(self, parsed: HclFile) -> None:
        """Reuse a parse done elsewhere (the check parses requested files first)."""
        self._parsed[Path(parsed.path)] = parsed

    @cached_property
    def _heads(self) -> dict[tuple[str, str, str], Path]:
        heads: dict[tuple[str, str, str], Path] = {}
        for path, text in self.texts.items():
            for match in _BLOCK_HEAD.finditer(text):
                heads.setdefault((match.group(1), match.group(2), match.group(3) or ""), path)
        return heads

    def find_block(self, kind: str, first: str, second: str = "") -> Block | None:
        path = self._heads.get((kind, first, second))
        if path is None:
            return None
        for block in self.parsed(path).blocks:
            if block.type == kind and block.labels[:2] == ((first, second) if second
                                                             else (first,)):
                return block
        return None

    def blocks(self, kind: str, first_labels: Collection[str] | None = None,
               text: re.Pattern[str] | None = None) -> list[Block]:
        """Top-level blocks of ``kind`` (optionally only those whose first label is listed, and
        only from files whose text matches ``text``: files that cannot match are not parsed)."""
        wanted_files = {p for (k, first, _), p in self._heads.items()
                        if k == kind and (first_labels is None or first in first_labels)
                        and (text is None or text.search(self.texts.get(p, "")))}
        out: list[Block] = []
        for path in self.files:
            if path not in wanted_files:
                continue
            for block in self.parsed(path).blocks:
                if block.type == kind and block.labels and (
                        first_labels is None or block.labels[0] in first_labels):
                    out.append(block)
        return out

    def local_attribute(self, name: str) -> Attribute | None:
        pattern = re.compile(rf"\b{re.escape(name)}\s*=")
        for path, text in self.texts.items():
            if "locals" not in text or not pattern.search(text):
                continue
            for block in self.parsed(path).blocks:
                if block.type == "locals" and name in block.attributes:
                    return block.attributes[name]
        return None

    def provider_blocks(self, name: str) -> list[Block]:
        out: list[Block] = []
        for path, text in self.texts.items():
            if f'provider "{name}"' in text:
                out += [b for b in self.parsed(path).blocks
                        if b.type == "provider" and b.labels[:1] == (name,)]
        return out


