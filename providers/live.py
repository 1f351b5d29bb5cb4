"""What the three live fetchers share: errors, retry with backoff, progress, and document assembly.

Nothing here imports a cloud SDK; each fetcher imports its SDK inside its fetch function so that the
CLI's start-up never pays for boto3 / google / azure.
"""

from __future__ import annotations

import importlib
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from llmplan.errors import PricingError
from llmplan.providers.base import CATALOG_FORMAT, Progress
from llmplan.providers.document import DocumentProvider

T = TypeVar("T")

#: ``progress(label, done, total)``; called from the fetching thread(s).


class MissingCredentials(PricingError):
    """The SDK's credential chain found nothing: auto falls back, live and refresh fail."""


class TransientError(Exception):
    """A failure worth retrying (throttling, time-out, 5xx, truncated or malformed body)."""


class Budget:
    """How hard a fetch tries: ``quick`` (plan --pricing auto) gives up fast, refresh persists."""

    def __init__(self, quick: bool = False) -> None:
        self.quick = quick
        self.connect_timeout = 2.0 if quick else 5.0
        self.read_timeout = 10.0 if quick else 60.0
        self.attempts = 2 if quick else 5
        # Tests point the clients at local fakes and must not sleep for seconds between tries.
        self.base_delay = _env_float("LLMPLAN_RETRY_BASE_SECONDS", 0.5)
        self.max_delay = 20.0


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


def retry(what: str, call: Callable[[], T], budget: Budget,
          is_transient: Callable[[BaseException], bool] = lambda e: isinstance(e, TransientError),
          describe: Callable[[BaseException], str] = str,
          retry_after: Callable[[BaseException], float | None] = lambda e: None) -> T:
    """``call()`` with exponential backoff and full jitter on transient errors.

    After the last attempt the error becomes one PricingError line naming ``what`` was fetched,
    so nobody ever gets a traceback or a half-fetched catalog.
    """
    for attempt in range(1, budget.attempts + 1):
        try:
            return call()
        except PricingError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified just below
            if not is_transient(exc):
                raise PricingError(f"{what}: {describe(exc)}") from exc
            if attempt == budget.attempts:
                raise PricingError(f"{what}: failed after {attempt} attempts: "
                                   f"{describe(exc)}") from exc
            hint = retry_after(exc)
            delay = min(budget.max_delay, budget.base_delay * 2 ** (attempt - 1))
            pause = min(budget.max_delay, hint) if hint is not None else random.uniform(0, delay)
            time.sleep(pause)
    raise AssertionError("unreachable")


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def env_endpoint(name: str, default: str) -> str:
    return (os.environ.get(name) or default).rstrip("/")


def is_loopback(url: str) -> bool:
    """Plain-HTTP endpoints are only acceptable for local test fakes."""
    return url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))


def new_document(cloud: str, fetched_at: datetime, base: Mapping[str, Any]) -> dict[str, Any]:
    """An empty live document in the shared format; region names are reused from ``base``."""
    return {
        "format": CATALOG_FORMAT, "cloud": cloud, "source": "live", "as_of": iso(fetched_at),
        "sources": {}, "regions": {}, "instance_types": {}, "prices": [], "unpriced": [],
    }


def add_region(doc: dict[str, Any], region: str, base: Mapping[str, Any], geo: str) -> None:
    known = base.get("regions", {}).get(region)
    doc["regions"][region] = dict(known) if isinstance(known, Mapping) else {"geo": geo,
                                                                              "name": region}


def price_row(itype: str, region: str, tier: str, hourly: float, source: str,
              as_of: str, **extra: Any) -> dict[str, Any]:
    return {"instance_type": itype, "region": region, "tier": tier,
            "hourly_usd": round(hourly, 6), "source": source, "as_of": as_of, **extra}


def unpriced_row(itype: str, region: str, tier: str, reason: str) -> dict[str, Any]:
    return {"instance_type": itype, "region": region, "tier": tier, "reason": reason}


def drop_unknown_types(doc: dict[str, Any]) -> None:
    """Keep only rows whose instance type has specs, so the document validates."""
    known = doc["instance_types"]
    for key in ("prices", "unpriced"):
        doc[key] = [r for r in doc[key] if r["instance_type"] in known]
    # A spec with no row at all is noise in a live document (sizes the region does not sell).
    used = {r["instance_type"] for key in ("prices", "unpriced") for r in doc[key]}
    doc["instance_types"] = {k: v for k, v in known.items() if k in used}


def chunks(items: Iterable[T], size: int) -> list[list[T]]:
    out: list[list[T]] = []
    for item in items:
        if not out or len(out[-1]) == size:
            out.append([])
        out[-1].append(item)
    return out


def require_complete(cloud: str, doc: Mapping[str, Any]) -> None:
    """A live fetch that priced nothing is a failure, not an empty catalog."""
    if not doc.get("prices"):
        raise PricingError(f"{cloud}: the live APIs returned no usable prices for the "
                           "requested instance types and regions")


class LiveDocumentProvider(DocumentProvider):
    """A document provider that can also fetch its catalog live (``llmplan catalog refresh``).

    ``live_module`` names a module with ``fetch(regions, instance_types, progress, *, base,
    quick)``, ``endpoint()`` and ``auto_status()``; it is imported only when live prices are
    wanted, and imports its SDK only inside ``fetch``.
    """

    live_module = ""

    def _live(self) -> Any:
        return importlib.import_module(self.live_module)

    def fetch_live(self, regions: Sequence[str] = (), instance_types: Sequence[str] = (),
                   progress: Progress | None = None, *, quick: bool = False) -> dict[str, Any]:
        """A live catalog document; the snapshot's regions and types unless told otherwise."""
        base = self.snapshot_document()
        regions = list(regions) or list(base.get("regions", {}))
        instance_types = list(instance_types) or list(base.get("instance_types", {}))
        try:
            document: dict[str, Any] = self._live().fetch(regions, instance_types, progress,
                                                          base=base, quick=quick)
        except PricingError:
            raise
        except Exception as exc:  # noqa: BLE001 - an SDK surprise is still one line, never a
            # traceback, and ``auto`` falls back on it like on any other live failure
            if os.environ.get("LLMPLAN_DEBUG"):
                raise
            raise PricingError(f"{self.name}: live prices failed: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
        return document

    def live_endpoint(self) -> str:
        """The URL the first live request goes to (probed before ``auto`` tries live)."""
        return str(self._live().endpoint())

    def auto_live_status(self) -> str | None:
        """None when ``--pricing auto`` may try live prices; else why not (cheap, no SDK)."""
        status: str | None = self._live().auto_status()
        return status
