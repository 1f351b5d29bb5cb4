"""A fake of the Azure Retail Prices API and of ARM's Compute resource SKUs, on 127.0.0.1.

The Retail Prices fake answers ``GET /api/retail/prices?api-version=...&$filter=...`` with pages
of ``Items`` and a ``NextPageLink`` (``$skip``), in the documented item shape: Linux and Windows
rows share the meter name and differ by ``productName``; Spot and Low Priority are their own
``skuName``; Reservation rows carry the *total* for the term; a non-primary meter region row and
DevTest rows are there to be ignored. The ARM fake answers
``GET /subscriptions/{id}/providers/Microsoft.Compute/skus`` with ``value`` / ``nextLink``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from fakes.http import FakeServer, Response, query, truncated

PATH = "/api/retail/prices"


def _series(sku: str) -> str:
    return " ".join(sku.split("_")[1:]).replace("Standard ", "")


def retail_items(sku: str, region: str, od: float, *, padding: int = 0,
                 zero_spot: bool = False) -> list[dict[str, Any]]:
    """Every Retail Prices row Azure publishes for one size in one region."""
    size = sku.removeprefix("Standard_").replace("_", " ")
    product = f"Virtual Machines {_series(sku)} Series"
    common = {"currencyCode": "USD", "tierMinimumUnits": 0.0, "armRegionName": region,
              "location": region, "effectiveStartDate": "2026-10-01T00:00:00Z",
              "serviceName": "Virtual Machines", "serviceId": "DZH313Z7MMC8",
              "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "isPrimaryMeterRegion": True,
              "armSkuName": sku, "productId": "DZH318Z0BQ4", "meterId": f"fake-{sku}-{region}"}

    def row(kind: str, price: float, sku_name: str, product_name: str, **extra: Any) -> dict[str, Any]:
        return {**common, "type": kind, "retailPrice": price, "unitPrice": price,
                "skuName": sku_name, "meterName": sku_name, "productName": product_name,
                "skuId": f"DZH318Z0BQ4/{len(sku_name)}", **extra}

    items = [
        row("Consumption", od, size, product),
        row("Consumption", round(od * 1.25, 4), size, f"{product} Windows"),
        row("Consumption", 0.0 if zero_spot else round(od * 0.2, 4), f"{size} Spot", product),
        row("Consumption", round(od * 0.26, 4), f"{size} Spot", f"{product} Windows"),
        row("Consumption", round(od * 0.15, 4), f"{size} Low Priority", product),
        row("DevTestConsumption", round(od * 0.9, 4), size, product),
        row("Reservation", round(od * 0.6 * 8760, 2), size, product, reservationTerm="1 Year"),
        row("Reservation", round(od * 0.4 * 26280, 2), size, product, reservationTerm="3 Years"),
        # A secondary meter region of the same size, at another price, to be passed over.
        {**row("Consumption", round(od * 1.5, 4), size, product), "isPrimaryMeterRegion": False,
         "effectiveStartDate": "2026-11-01T00:00:00Z"},
    ]
    for n in range(padding):
        items.append(row("Consumption", round(od * 1.3 + n, 4), f"{size} Windows Pad{n}",
                         f"{product} Windows"))
    return items


class FakeAzure(FakeServer):
    def __init__(self, skus: Iterable[str], regions: Iterable[str],
                 on_demand: Mapping[tuple[str, str], float] | None = None,
                 specs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__()
        self.skus = list(skus)
        self.specs = dict(specs or {})
        self.regions = list(regions)
        self.on_demand = dict(on_demand or {})
        self.page_size = 100
        self.padding = 0
        self.zero_spot: set[tuple[str, str]] = set()
        # ARM side: region -> size -> restriction reason code (None = unrestricted)
        self.arm_offered: dict[str, dict[str, str | None]] = {
            r: {s: None for s in self.skus} for r in self.regions}

    def price(self, sku: str, region: str) -> float:
        return self.on_demand.get((sku, region), 2.0 + self.skus.index(sku))

    @property
    def prices_url(self) -> str:
        return self.url + PATH

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Response:
        head = {"Content-Type": "application/json; charset=utf-8"}
        if path.startswith("/subscriptions/"):
            return self._arm(path, head)
        fault = self.take_fault("prices")
        if fault == "throttle":
            return 429, {**head, "Retry-After": "0"}, b'{"Error": "Too Many Requests"}'
        if fault in ("500", "503"):
            return int(fault), head, b'{"Error": "Internal Server Error"}'
        if fault == "drop":
            return 0, {}, b""
        params = query(path)
        text = (params.get("$filter") or [""])[0]
        regions = re.findall(r"armRegionName eq '([^']*)'", text)
        skus = re.findall(r"armSkuName eq '([^']*)'", text)
        kinds = re.findall(r"priceType eq '([^']*)'", text)
        items: list[dict[str, Any]] = []
        for region in regions:
            if region not in self.regions:
                continue
            for sku in skus:
                if sku in self.skus:
                    items += retail_items(sku, region, self.price(sku, region),
                                          padding=self.padding,
                                          zero_spot=(sku, region) in self.zero_spot)
        if kinds:
            items = [i for i in items if i["type"] in kinds]
        skip = int((params.get("$skip") or ["0"])[0])
        page = items[skip:skip + self.page_size]
        next_link = None
        if skip + self.page_size < len(items):
            rest = {k: v[0] for k, v in params.items() if k != "$skip"}
            next_link = f"{self.prices_url}?{urlencode(rest)}&$skip={skip + self.page_size}"
        if fault == "no-next-link":
            next_link = None
        payload = json.dumps({"BillingCurrency": "USD", "CustomerEntityId": "Default",
                              "CustomerEntityType": "Retail", "Items": page,
                              "NextPageLink": next_link, "Count": len(page)}).encode()
        if fault == "malformed":
            return 200, head, truncated(payload)
        return 200, head, payload

    def _capabilities(self, sku: str) -> list[dict[str, str]]:
        spec = self.specs.get(sku)
        if not spec:
            return []
        return [{"name": "vCPUs", "value": str(spec["vcpus"])},
                {"name": "MemoryGB", "value": f"{spec['memory_gib']:g}"},
                {"name": "GPUs", "value": str(spec["gpu_count"])},
                {"name": "PremiumIO", "value": "True"}]

    def _arm(self, path: str, head: dict[str, str]) -> Response:
        fault = self.take_fault("arm")
        if fault in ("500", "503"):
            return int(fault), head, json.dumps({"error": {"code": "InternalServerError",
                                                           "message": "boom"}}).encode()
        if fault == "403":
            return 403, head, json.dumps({"error": {"code": "AuthorizationFailed",
                                                    "message": "no access"}}).encode()
        if not urlsplit(path).path.endswith("/providers/Microsoft.Compute/skus"):
            return 404, head, b'{"error": {"code": "NotFound", "message": "no such path"}}'
        text = (query(path).get("$filter") or [""])[0]
        region = (re.findall(r"location eq '([^']*)'", text) or [""])[0]
        value = []
        for sku, reason in self.arm_offered.get(region, {}).items():
            restrictions = []
            if reason:
                restrictions.append({"type": "Location", "values": [region],
                                     "restrictionInfo": {"locations": [region]},
                                     "reasonCode": reason})
            value.append({"resourceType": "virtualMachines", "name": sku, "tier": "Standard",
                          "size": sku.removeprefix("Standard_"), "locations": [region],
                          "capabilities": self._capabilities(sku),
                          "restrictions": restrictions})
        value.append({"resourceType": "disks", "name": "Premium_LRS", "locations": [region],
                      "capabilities": [], "restrictions": []})
        return 200, head, json.dumps({"value": value}).encode()
