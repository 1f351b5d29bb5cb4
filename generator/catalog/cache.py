"""The local price cache: one catalog document per cloud, written atomically, checked when read.

A cache file is a catalog document (docs/catalog-format.md, ``source: cache``) plus a ``cache``
block: when each region was fetched, a completeness marker and a checksum of the rest. A file
that fails any check is ignored with one warning line, never used half-read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llmplan import __version__
from llmplan.errors import UsageError

DEFAULT_MAX_AGE_DAYS = 7.0
_CACHE_KEY = "cache"


def cache_dir() -> Path:
    """``$LLMPLAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/llmplan``, else ``~/.cache/llmplan``."""
    override = os.environ.get("LLMPLAN_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "llmplan"


def cache_path(cloud: str) -> Path:
    return cache_dir() / f"{cloud}.json"


def max_age_days() -> float:
    raw = os.environ.get("LLMPLAN_CACHE_MAX_AGE_DAYS", "")
    if not raw:
        return DEFAULT_MAX_AGE_DAYS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise UsageError(f"LLMPLAN_CACHE_MAX_AGE_DAYS: must be a number of days >= 0 (got {raw!r})")
    return value


@dataclass(frozen=True)
class CacheEntry:
    cloud: str
    path: Path
    document: dict[str, Any]
    fetched: Mapping[str, datetime]  # region -> when its prices were fetched

    @property
    def oldest(self) -> datetime:
        return min(self.fetched.values())

    def age_days(self, now: datetime | None = None) -> float:
        moment = now or datetime.now(timezone.utc)
        return (moment - self.oldest).total_seconds() / 86400

    def covers(self, regions: Iterable[str]) -> bool:
        return all(r in self.fetched for r in regions)

    def is_fresh(self, regions: Iterable[str] = (), max_days: float | None = None) -> bool:
        limit = max_age_days() if max_days is None else max_days
        return self.covers(regions) and self.age_days() <= limit


def describe_age(moment: datetime, now: datetime | None = None) -> str:
    seconds = max(0.0, ((now or datetime.now(timezone.utc)) - moment).total_seconds())
    if seconds < 120:
        return "just now"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes old"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} hours old"
    return f"{seconds / 86400:.0f} days old"


def _checksum(doc: Mapping[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != _CACHE_KEY}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _parse_time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"fetch time {text!r} is not a string")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"fetch time {text!r} has no time zone")
    return moment


def _problem(cloud: str, doc: Any) -> str | tuple[dict[str, Any], dict[str, datetime]]:
    """Why ``doc`` is not a usable cache of ``cloud``, or the document and its fetch times."""
    from llmplan.providers.document import validate_document

    if not isinstance(doc, dict):
        return "not a JSON object"
    meta = doc.get(_CACHE_KEY)
    if not isinstance(meta, dict):
        return "no cache block (not written by llmplan catalog refresh)"
    if meta.get("complete") is not True:
        return "marked incomplete (a refresh did not finish)"
    if meta.get("checksum") != _checksum(doc):
        return "checksum mismatch (the file was truncated or edited)"
    problems = validate_document(doc, cloud)
    if problems:
        return problems[0]
    fetched_raw = meta.get("fetched")
    if not isinstance(fetched_raw, dict) or not fetched_raw:
        return "no fetch times"
    try:
        fetched = {str(r): _parse_time(t) for r, t in fetched_raw.items()}
    except ValueError as exc:
        return str(exc)
    return doc, fetched


def read_cache(cloud: str, warn: Callable[[str], None] | None = None) -> CacheEntry | None:
    """The cached document of ``cloud``; None (with a warning if it exists but is bad)."""
    path = cache_path(cloud)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        _warn(warn, f"ignoring the {cloud} price cache {path}: {exc.strerror or exc}")
        return None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        _warn(warn, f"ignoring the {cloud} price cache {path}: not valid JSON ({exc})")
        return None
    result = _problem(cloud, raw)
    if isinstance(result, str):
        _warn(warn, f"ignoring the {cloud} price cache {path}: {result}")
        return None
    doc, fetched = result
    return CacheEntry(cloud=cloud, path=path, document=doc, fetched=fetched)


def _warn(warn: Callable[[str], None] | None, message: str) -> None:
    if warn is not None:
        warn(message)


def _merge(new: dict[str, Any], old: Mapping[str, Any], fetched_now: set[str],
           types: set[str] | None) -> None:
    """Keep what an earlier refresh fetched and this one did not (rows carry their own dates):
    other regions, and with ``types`` (a refresh of some instance types) the other types."""

    def replaced(row: Mapping[str, Any]) -> bool:
        if row.get("region") not in fetched_now:
            return False
        # Parts rows (GCP components) have no instance type: a partial refresh keeps them.
        return types is None or row.get("instance_type") in types

    for key in ("prices", "unpriced", "components"):
        kept = [r for r in old.get(key, []) if not replaced(r)]
        if kept or key in new:
            new[key] = kept + list(new.get(key, []))
    for key in ("regions", "sources", "instance_types"):
        merged = dict(old.get(key, {}))
        merged.update(new.get(key, {}))
        new[key] = merged


def write_cache(cloud: str, document: Mapping[str, Any], fetched_at: datetime,
                regions: Iterable[str], warn: Callable[[str], None] | None = None,
                instance_types: Iterable[str] | None = None) -> Path:
    """Store a complete live document, merged with what is already cached; atomic.

    ``instance_types`` names the types a partial refresh fetched (None: all of them).
    """
    types = set(instance_types) if instance_types else None
    doc = {k: v for k, v in document.items() if k != _CACHE_KEY}
    doc = json.loads(json.dumps(doc))  # a deep copy that is also known to serialise
    fresh_regions = set(regions) | {r["region"] for r in doc.get("prices", [])}
    fetched = {r: fetched_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
               for r in sorted(fresh_regions)}
    old = read_cache(cloud, warn)
    if old is not None:
        _merge(doc, old.document, fresh_regions, types)
        for region, moment in old.fetched.items():
            if region not in fresh_regions or types is not None:
                # With only some types refreshed, a region is as old as its oldest rows.
                fetched[region] = min(fetched.get(region, "~"),
                                      moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    doc["source"] = "cache"
    doc["as_of"] = min(fetched.values())
    doc[_CACHE_KEY] = {"complete": True, "fetched": dict(sorted(fetched.items())),
                       "written_by": f"llmplan {__version__}"}
    doc[_CACHE_KEY]["checksum"] = _checksum(doc)
    path = cache_path(cloud)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename: readers see the old file or the new one, never half.
    fd, tmp = tempfile.mkstemp(prefix=f".{cloud}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1, sort_keys=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
