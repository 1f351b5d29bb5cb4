"""Live Azure prices: the public Retail Prices API (no credentials, plain urllib).

* One query per region and batch of sizes: ``serviceName eq 'Virtual Machines'``, the region's
  ``armRegionName``, the sizes' ``armSkuName`` and ``priceType`` Consumption or Reservation
  (DevTestConsumption is left out). Values are case-sensitive since api-version
  2023-01-01-preview. Pages are followed through ``NextPageLink``; a full page that comes back
  without one (a known API incident) is continued with ``$skip``.
* Rows are told apart the way Azure names them: Windows by a ``productName`` ending in
  "Windows" (Linux and Windows share the meter name); spot and low priority by ``skuName``.
  Low Priority (legacy Batch) is not a tier here.
* A Reservation row's price is the total for the whole term although its unit says "1 Hour":
  hourly = total / 8760 (1 year) or / 26280 (3 years).
* With a subscription (``AZURE_SUBSCRIPTION_ID`` and an azure-identity credential),
  azure-mgmt-compute's resource SKUs say which sizes each region offers and which are restricted
  for that subscription. Without one, every size priced by the API is kept.

``LLMPLAN_AZURE_PRICES_URL`` replaces the API base URL (the tests use a local fake).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

from llmplan.errors import PricingError
from llmplan.providers.base import Progress
from llmplan.providers.live import (
    Budget,
    TransientError,
    add_region,
    chunks,
    drop_unknown_types,
    env_endpoint,
    is_loopback,
    new_document,
    now_utc,
    price_row,
    require_complete,
    retry,
    unpriced_row,
    warn,
)

DEFAULT_URL = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
RESERVATION_HOURS = {"1 Year": ("reserved-1y", 8760), "3 Years": ("reserved-3y", 26280)}
#: Page sizes the API has used; a page this full without a NextPageLink may be truncated.
FULL_PAGES = (100, 1000)
SKUS_PER_QUERY = 10  # keeps the $filter (and so the URL) short
MAX_PAGES = 500


class _HTTPTransient(TransientError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def prices_url() -> str:
    return env_endpoint("LLMPLAN_AZURE_PRICES_URL", DEFAULT_URL)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def build_filter(region: str, skus: Sequence[str]) -> str:
    sku_terms = " or ".join(f"armSkuName eq {_quote(s)}" for s in skus)
    return (f"serviceName eq 'Virtual Machines' and armRegionName eq {_quote(region)} and "
            f"(priceType eq 'Consumption' or priceType eq 'Reservation') and ({sku_terms})")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (moment - now_utc()).total_seconds())


def get_json(url: str, budget: Budget) -> dict[str, Any]:
    """One GET of a JSON object; throttling, 5xx, time-outs and bad bodies are transient."""
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": "llmplan"})
    try:
        with urllib.request.urlopen(request, timeout=budget.read_timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise _HTTPTransient(f"HTTP {exc.code} {exc.reason}",
                                 _retry_after(exc.headers.get("Retry-After"))) from exc
        detail = exc.read(300).decode("utf-8", "replace").strip().replace("\n", " ")
        raise PricingError(f"HTTP {exc.code} {exc.reason} for {url}: {detail}") from exc
    except TimeoutError as exc:
        raise _HTTPTransient("timed out") from exc
    except urllib.error.URLError as exc:
        raise _HTTPTransient(f"cannot connect: {exc.reason}") from exc
    except (ConnectionError, OSError) as exc:  # reset or truncated mid-body
        raise _HTTPTransient(f"connection failed: {exc}") from exc
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise _HTTPTransient(f"malformed JSON body ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Items"), list):
        raise _HTTPTransient("malformed response: no Items list")
    return data


def fetch_items(region: str, skus: Sequence[str], budget: Budget) -> list[dict[str, Any]]:
    """Every price row for ``skus`` in ``region``, following NextPageLink to the end."""
    query = urllib.parse.urlencode({"api-version": API_VERSION,
                                    "$filter": build_filter(region, skus)},
                                   quote_via=urllib.parse.quote)
    first = f"{prices_url()}?{query}"
    items: list[dict[str, Any]] = []
    url: str | None = first
    for _page in range(MAX_PAGES):
        if url is None:
            return items
        data = retry(f"azure: Retail Prices API for {region}",
                     lambda page_url=url: get_json(page_url, budget), budget,  # type: ignore[misc]
                     retry_after=lambda e: getattr(e, "retry_after", None))
        items.extend(i for i in data["Items"] if isinstance(i, dict))
        url = data.get("NextPageLink") or None
        if url is None and len(data["Items"]) in FULL_PAGES:
            # The API has been seen to drop NextPageLink on a full page: ask for what follows;
            # an empty answer ends the loop.
            url = f"{first}&$skip={len(items)}"
    raise PricingError(f"azure: Retail Prices API for {region}: more than {MAX_PAGES} pages")


def classify(item: Mapping[str, Any]) -> str | None:
    """The tier of one Retail Prices row, or None when it is not a Linux price we use."""
    if item.get("serviceName") != "Virtual Machines":
        return None
    product = str(item.get("productName", ""))
    sku_name = str(item.get("skuName", ""))
    meter = str(item.get("meterName", ""))
    kind = item.get("type")
    if kind == "Reservation":
        entry = RESERVATION_HOURS.get(str(item.get("reservationTerm")))
        return entry[0] if entry else None
    if kind != "Consumption" or product.rstrip().endswith("Windows"):
        return None
    if "Low Priority" in sku_name or "Low Priority" in meter:
        return None
    if str(item.get("unitOfMeasure", "")).strip() != "1 Hour":
        return None
    return "spot" if ("Spot" in sku_name or "Spot" in meter) else "on-demand"


def hourly(item: Mapping[str, Any], tier: str) -> float:
    price = float(item.get("retailPrice", item.get("unitPrice", 0)) or 0)
    if item.get("type") == "Reservation":
        return price / RESERVATION_HOURS[str(item["reservationTerm"])][1]
    return price


def best_rows(items: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(size, tier) -> the row to use: primary meter region first, then the newest."""
    chosen: dict[tuple[str, str], Mapping[str, Any]] = {}
    for item in items:
        if item.get("currencyCode", "USD") != "USD":
            continue
        tier = classify(item)
        if tier is None:
            continue
        key = (str(item.get("armSkuName")), tier)
        rank = (bool(item.get("isPrimaryMeterRegion", True)), str(item.get("effectiveStartDate")))
        old = chosen.get(key)
        if old is None or rank > (bool(old.get("isPrimaryMeterRegion", True)),
                                  str(old.get("effectiveStartDate"))):
            chosen[key] = item
    return chosen


def resource_skus(regions: Sequence[str], types: Sequence[str], credential: Any,
                  budget: Budget) -> dict[str, dict[str, Any]] | None:
    """Region -> size -> {"restricted": reason | None, "capabilities": {...}}; None if unusable."""
    subscription = os.environ.get("AZURE_SUBSCRIPTION_ID")
    if not subscription:
        return None
    try:
        from azure.core.exceptions import AzureError
        from azure.mgmt.compute import ComputeManagementClient
    except ImportError:
        warn("azure: AZURE_SUBSCRIPTION_ID is set but azure-mgmt-compute is not installed; "
             "region availability not checked (pip install 'llmplan[azure]')")
        return None
    if credential is None:
        try:
            from azure.identity import DefaultAzureCredential
        except ImportError:
            warn("azure: azure-identity is not installed; region availability not checked")
            return None
        credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    arm = os.environ.get("LLMPLAN_AZURE_ARM_ENDPOINT") or None
    client = ComputeManagementClient(credential, subscription, base_url=arm,
                                     connection_timeout=budget.connect_timeout,
                                     read_timeout=budget.read_timeout,
                                     retry_total=budget.attempts - 1)
    wanted = set(types)
    found: dict[str, dict[str, Any]] = {}
    try:
        for region in regions:
            sizes: dict[str, Any] = {}
            # azure-core refuses bearer tokens over plain HTTP; only a local fake may use it.
            extra: dict[str, Any] = {"enforce_https": False} if arm and is_loopback(arm) else {}
            for sku in client.resource_skus.list(filter=f"location eq '{region}'", **extra):
                if sku.resource_type != "virtualMachines" or sku.name not in wanted:
                    continue
                reason = None
                for r in sku.restrictions or []:
                    if r.type == "Location" and r.reason_code:
                        # a str enum in the SDK: its value is the API's own code
                        reason = str(getattr(r.reason_code, "value", r.reason_code))
                caps = {c.name: c.value for c in sku.capabilities or []}
                sizes[str(sku.name)] = {"restricted": reason, "capabilities": caps}
            found[region] = sizes
    except AzureError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        warn(f"azure: resource SKUs unavailable ({first}); region availability not checked")
        return None
    return found


def fetch(regions: Sequence[str], instance_types: Sequence[str], progress: Progress | None,
          *, base: Mapping[str, Any], quick: bool = False,
          credential: Any = None) -> dict[str, Any]:
    """A live catalog document (format 1, ``source: live``) for ``regions`` x ``instance_types``."""
    budget = Budget(quick)
    fetched_at = now_utc()
    day = fetched_at.date().isoformat()
    source = f"azure-retail-prices-{day.replace('-', '')}"
    known = base.get("instance_types", {})
    types = [t for t in instance_types if t in known]
    for t in instance_types:
        if t not in known:
            # The price API says nothing about GPUs; specs come from the curated snapshot.
            warn(f"azure: skipping {t}: no GPU specs for it in the embedded catalog")
    doc = new_document("azure", fetched_at, base)
    doc["sources"][source] = {
        "url": prices_url() + f"?api-version={API_VERSION}", "date": day,
        "note": "Linux Consumption (on-demand), Spot meters, Reservation totals / hours in term",
    }
    doc["instance_types"] = {t: dict(known[t]) for t in types}
    batches = chunks(types, SKUS_PER_QUERY)
    total = len(regions) * len(batches)
    done = 0
    for region in regions:
        add_region(doc, region, base, _geo(region))
        for batch in batches:
            rows = best_rows(fetch_items(region, batch, budget))
            for (sku, tier), item in sorted(rows.items()):
                if sku not in doc["instance_types"]:
                    continue
                price = hourly(item, tier)
                if price > 0:
                    doc["prices"].append(price_row(sku, region, tier, price, source, day,
                                                   meter=item.get("meterName")))
                else:
                    doc["unpriced"].append(unpriced_row(
                        sku, region, tier, "the Retail Prices API lists $0.00"))
            done += 1
            if progress is not None:
                progress(f"azure {region}", done, total)
    _apply_availability(doc, resource_skus(regions, types, credential, budget))
    drop_unknown_types(doc)
    require_complete("azure", doc)
    return doc


def _apply_availability(doc: dict[str, Any], skus: dict[str, dict[str, Any]] | None) -> None:
    if skus is None:
        return
    kept, moved = [], []
    for row in doc["prices"]:
        offered = skus.get(row["region"])
        info = offered.get(row["instance_type"]) if offered is not None else None
        if offered is not None and info is None:
            continue  # the region does not offer this size to anyone
        if info is not None and info["restricted"]:
            moved.append(unpriced_row(row["instance_type"], row["region"], row["tier"],
                                      f"restricted for this subscription: {info['restricted']}"))
            continue
        kept.append(row)
    doc["prices"], doc["unpriced"] = kept, doc["unpriced"] + moved
    for sizes in skus.values():
        for name, info in sizes.items():
            spec = doc["instance_types"].get(name)
            caps = info["capabilities"]
            if spec is None:
                continue
            if caps.get("vCPUs"):
                spec["vcpus"] = int(caps["vCPUs"])
            if caps.get("MemoryGB"):
                spec["memory_gib"] = float(caps["MemoryGB"])


def _geo(region: str) -> str:
    words = {"eu": ("europe", "uk", "france", "germany", "sweden", "switzerland", "norway",
                    "italy", "poland", "spain"),
             "asia": ("asia", "japan", "korea", "india", "australia", "singapore"),
             "sa": ("brazil",), "me": ("uae", "qatar", "israel"), "af": ("southafrica",)}
    for geo, names in words.items():
        if any(n in region for n in names):
            return geo
    return "us"


def auto_status() -> str | None:
    """None when ``--pricing auto`` may fetch Azure live; else why it does not."""
    if os.environ.get("LLMPLAN_AZURE_LIVE", "").lower() in ("1", "true", "yes"):
        return None
    return "auto fetches Azure live only with LLMPLAN_AZURE_LIVE=1"


def endpoint() -> str:
    return prices_url()
