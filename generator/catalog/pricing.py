"""Which prices a run uses (snapshot, cache or live) and the note that says so on stderr.

``--pricing``:

* ``snapshot`` - the embedded snapshot shipped with llmplan.
* ``cache`` - the local cache filled by ``llmplan catalog refresh``; fails with one line when a
  cloud has no usable cache (stale caches are used, and the note says how old they are).
* ``live`` - the clouds' APIs now (the result is cached); fails with one line when it cannot.
* ``auto`` (default) - per cloud: a fresh cache (``LLMPLAN_CACHE_MAX_AGE_DAYS``, default 7), else
  live where it is configured, else the snapshot. "Configured" is checked without network or
  SDK imports: AWS credentials in the environment or ~/.aws, Google Application Default
  Credentials, and for Azure (whose prices need no credentials) ``LLMPLAN_AZURE_LIVE=1`` - so
  that ``plan`` on a machine without network, or in CI, never waits on one. Before a live
  attempt the endpoints of all such clouds are probed at once with one short deadline
  (``LLMPLAN_PROBE_SECONDS``, default 0.6 s); the fetch itself uses short time-outs and few
  retries; any live failure is one warning line and the snapshot. A successful live fetch is
  written to the cache, so the next runs for a week read the cache instead.

Instance-role credentials (EC2 instance profiles, the GCE metadata server) cannot be seen
without a network call, so ``auto`` does not count them; ``--pricing live`` and ``catalog
refresh`` use each SDK's full credential chain.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TextIO

from llmplan.catalog.plugins import get_provider, provider_names
from llmplan.errors import LlmplanError, PricingError, UsageError
from llmplan.providers.base import Catalog, LiveProvider, Progress, Provider
from llmplan.vocabulary import PRICING_MODES

#: How long ``auto`` waits to learn whether the live endpoints answer at all (all clouds at once);
#: short enough that ``plan`` on a black-holed network still returns in about a second.
PROBE_SECONDS = 0.6


@dataclass(frozen=True)
class PricedCatalogs:
    catalogs: tuple[Catalog, ...]
    notes: tuple[str, ...]

    def summary(self) -> dict[str, str]:
        """The ``prices`` object of JSON output: one source and the oldest as-of date."""
        sources = sorted({c.source for c in self.catalogs})
        dates = sorted(c.as_of for c in self.catalogs if c.as_of)
        return {"source": ",".join(sources), "as_of": dates[0] if dates else ""}


def _live_provider(provider: Provider) -> LiveProvider:
    if not isinstance(provider, LiveProvider):
        raise PricingError(f"{provider.name}: this cloud plugin has no live pricing")
    return provider


def select_clouds(requested: Sequence[str]) -> list[str]:
    names = provider_names()
    if not requested:
        return names
    for name in requested:
        get_provider(name)  # raises a did-you-mean for unknown clouds
    return [n.lower() for n in requested]


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._drawn = False

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            fraction = min(1.0, done / total) if total else 0.0
            filled = int(self.width * fraction)
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {done}/{total} {label[:40]:<40}")
            self.stream.flush()
            self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * (self.width + 60) + "\r")
            self.stream.flush()
            self._drawn = False


def _age(as_of: str, now: datetime | None = None) -> str:
    from llmplan.catalog.cache import describe_age

    moment_now = now or datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError:
        return "age unknown"
    if len(as_of) == 10:  # a date only: count whole days, not hours since its midnight
        days = (moment_now.date() - moment.date()).days
        return "from today" if days <= 0 else f"{days} day{'s' if days > 1 else ''} old"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return describe_age(moment, moment_now)


def _parse_as_of(document: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(document["as_of"]).replace("Z", "+00:00"))


def _env_seconds(name: str, default: float) -> float:
    import os

    try:
        return max(0.05, float(os.environ.get(name) or default))
    except ValueError:
        return default


def probe(urls: Sequence[str], timeout: float | None = None) -> dict[str, str | None]:
    """For each URL: None when a TCP connection to its host opens within ``timeout``, else why not.

    All URLs are tried at once, each in a daemon thread, because name resolution has no time-out
    of its own: a broken resolver or a black-holed network costs ``timeout`` once, not per cloud.
    """
    if timeout is None:
        timeout = _env_seconds("LLMPLAN_PROBE_SECONDS", PROBE_SECONDS)
    outcome: dict[str, str | None] = {}
    lock = threading.Lock()

    def attempt(url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname or "", port), timeout=timeout).close()
            result = None
        except OSError as exc:
            result = exc.strerror or str(exc) or type(exc).__name__
        with lock:
            outcome[url] = result

    workers = [threading.Thread(target=attempt, args=(u,), daemon=True) for u in set(urls)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + timeout
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return {u: outcome[u] if u in outcome else
                f"no answer from {urllib.parse.urlsplit(u).hostname} within {timeout:g} s"
                for u in urls}


class _Loader:
    def __init__(self, regions: Sequence[str], progress: Progress | None,
                 warn_fn: Callable[[str], None]) -> None:
        self.regions = list(regions)
        self.progress = progress
        self.warn = warn_fn
        self.reachable: dict[str, str | None] = {}

    def auto_candidates(self, providers: Sequence[Provider]) -> None:
        """Probe, all at once, the endpoints ``auto`` may need (no fresh cache, live configured)."""
        from llmplan.catalog.cache import read_cache

        urls = []
        for provider in providers:
            if not isinstance(provider, LiveProvider) or provider.auto_live_status() is not None:
                continue
            entry = read_cache(provider.name)  # silent here; auto() reads it again and warns
            if entry is None or not entry.is_fresh(self.regions):
                urls.append(provider.live_endpoint())
        if urls:
            self.reachable = probe(urls)

    def snapshot(self, provider: Provider, why: str = "") -> tuple[Catalog, str]:
        catalog = provider.catalog()
        note = (f"prices: {provider.name} from the embedded snapshot as of {catalog.as_of} "
                f"({_age(catalog.as_of)})")
        return catalog, note + (f"; {why}" if why else "")

    def cache(self, provider: Provider, strict: bool) -> tuple[Catalog, str] | None:
        from llmplan.catalog.cache import cache_path, max_age_days, read_cache

        entry = read_cache(provider.name, self.warn)
        if entry is None:
            if strict:
                raise PricingError(
                    f"--pricing cache: no usable {provider.name} price cache at "
                    f"{cache_path(provider.name)}; run 'llmplan catalog refresh --cloud "
                    f"{provider.name}' or use --pricing auto")
            return None
        limit = max_age_days()
        if not strict and not entry.is_fresh(self.regions, limit):
            return None
        catalog = provider.catalog(entry.document)
        fetched = entry.oldest.strftime("%Y-%m-%d %H:%M UTC")
        stale = "" if entry.age_days() <= limit else f", older than the {limit:g}-day limit"
        return catalog, (f"prices: {provider.name} from the cache fetched {fetched} "
                         f"({_age(entry.document['as_of'])}{stale}; {entry.path})")

    def live(self, provider: Provider, quick: bool) -> tuple[Catalog, str]:
        from llmplan.catalog.cache import write_cache

        fetch = _live_provider(provider).fetch_live
        started = time.monotonic()
        bar = ProgressBar() if self.progress is None else None
        try:
            document = fetch(self.regions, (), self.progress or bar, quick=quick)
        finally:
            if bar is not None:
                bar.close()
        catalog = provider.catalog(document)
        where = ""
        try:
            fetched_regions = self.regions or list(document.get("regions", {}))
            path = write_cache(provider.name, document, _parse_as_of(document), fetched_regions,
                               self.warn)
            where = f"; cached in {path}"
        except OSError as exc:
            self.warn(f"could not write the {provider.name} price cache: {exc}")
        seconds = time.monotonic() - started
        return catalog, (f"prices: {provider.name} live from the cloud's APIs, fetched "
                         f"{document['as_of']} in {seconds:.1f} s{where}")

    def auto(self, provider: Provider) -> tuple[Catalog, str]:
        cached = self.cache(provider, strict=False)
        if cached is not None:
            return cached
        why = "live prices not tried: this cloud plugin has none"
        if isinstance(provider, LiveProvider):
            reason = provider.auto_live_status()
            if reason is None:
                endpoint = provider.live_endpoint()
                unreachable = (self.reachable[endpoint] if endpoint in self.reachable
                               else probe([endpoint])[endpoint])
                if unreachable is None:
                    try:
                        return self.live(provider, quick=True)
                    except LlmplanError as exc:
                        self.warn(f"{exc}; using the embedded snapshot")
                        return self.snapshot(provider)
                self.warn(f"{provider.name} live prices unreachable ({unreachable}); "
                          "using the embedded snapshot")
                return self.snapshot(provider)
            why = f"live not tried: {reason}"
        return self.snapshot(provider, why + self._stale_note(provider.name))

    def _stale_note(self, cloud: str) -> str:
        from llmplan.catalog.cache import max_age_days, read_cache

        entry = read_cache(cloud)  # already warned about if unreadable
        if entry is None:
            return ""
        if not entry.covers(self.regions):
            return "; the cache does not cover the requested regions"
        return (f"; the cache is {entry.age_days():.0f} days old (limit "
                f"{max_age_days():g}, LLMPLAN_CACHE_MAX_AGE_DAYS): run llmplan catalog refresh")


def load_catalogs(
    clouds: Sequence[str], mode: str = "snapshot", regions: Sequence[str] = (),
    *, progress: Progress | None = None,
    warn_fn: Callable[[str], None] = warn,
) -> PricedCatalogs:
    """Catalogs for ``clouds`` from the prices ``mode`` asks for, and one note per cloud."""
    if mode not in PRICING_MODES:
        raise UsageError(f"--pricing: must be one of {', '.join(PRICING_MODES)} (got {mode!r})")
    loader = _Loader(regions, progress, warn_fn)
    if mode == "auto":
        loader.auto_candidates([get_provider(c) for c in clouds])
    catalogs: list[Catalog] = []
    notes: list[str] = []
    for cloud in clouds:
        provider = get_provider(cloud)
        result: tuple[Catalog, str] | None
        if mode == "snapshot":
            result = loader.snapshot(provider)
        elif mode == "cache":
            result = loader.cache(provider, strict=True)
        elif mode == "live":
            result = loader.live(provider, quick=False)
        else:
            result = loader.auto(provider)
        assert result is not None  # strict cache raises instead
        catalogs.append(result[0])
        notes.append(result[1])
    return PricedCatalogs(tuple(catalogs), tuple(notes))


def refresh(cloud: str, regions: Sequence[str] = (), instance_types: Sequence[str] = (),
            progress: Progress | None = None,
            warn_fn: Callable[[str], None] = warn) -> tuple[dict[str, Any], str]:
    """Fetch ``cloud`` live and store it in the cache; the document and the cache path."""
    from llmplan.catalog.cache import write_cache

    provider = get_provider(cloud)
    document = _live_provider(provider).fetch_live(regions, instance_types, progress)
    provider.catalog(document)  # the same checks a later read will make
    fetched_regions = regions or list(document.get("regions", {}))
    path = write_cache(cloud, document, _parse_as_of(document), fetched_regions, warn_fn,
                       instance_types or None)
    return document, str(path)
