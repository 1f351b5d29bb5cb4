"""A fake of Google's Cloud Billing Catalog, Compute machine types and OAuth token endpoint.

Reached by the real google-cloud-billing / google-cloud-compute clients (REST transport) through
``LLMPLAN_GCP_BILLING_ENDPOINT`` / ``LLMPLAN_GCP_COMPUTE_ENDPOINT``, with a service-account key
file (``GOOGLE_APPLICATION_CREDENTIALS``) whose ``token_uri`` points here. SKUs use the REST JSON
shape of ``google.cloud.billing.v1.Sku`` (camelCase, ``units`` as a string plus ``nanos``) and
the description styles of the real catalog ("A2 Instance Core running in Americas", "Spot
Preemptible ...", "Commitment v1: ... for 1 Year", "Nvidia Tesla A100 GPU ...").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fakes.http import FakeServer, Response, query, truncated

SERVICE = "6F81-5844-456A"
#: family -> (description name, on-demand $/vCPU-h, $/GiB-h)
FAMILIES = {"a2": ("A2", 0.031611, 0.004237), "g2": ("G2", 0.02, 0.0025),
            "a3": ("A3", 0.03, 0.0027), "a3-mega": ("A3 Mega", 0.031, 0.0028),
            "a3-ultra": ("A3 Ultra", 0.032, 0.0029), "a4": ("A4", 0.033, 0.003)}
#: canonical GPU -> (description text, on-demand $/GPU-h)
GPUS = {"A100-40GB": ("Nvidia Tesla A100", 2.933908), "A100-80GB": ("Nvidia Tesla A100 80GB", 3.93),
        "L4": ("Nvidia L4", 0.56), "H100-80GB": ("Nvidia H100 80GB", 9.8),
        "H100-80GB:mega": ("Nvidia H100 80GB Mega", 10.5), "H200": ("Nvidia H200 141GB", 10.9),
        "B200": ("Nvidia B200", 12.0)}
TIER_FACTOR = {"OnDemand": 1.0, "Preemptible": 0.4, "Commit1Yr": 0.63, "Commit3Yr": 0.45}
SSD_MONTH = 0.08  # $/GiB-month
ACCELERATOR = {"A100-40GB": "nvidia-tesla-a100", "A100-80GB": "nvidia-a100-80gb",
               "L4": "nvidia-l4", "H100-80GB": "nvidia-h100-80gb", "H200": "nvidia-h200-141gb",
               "B200": "nvidia-b200"}


def money(value: float) -> dict[str, Any]:
    units = int(value)
    return {"currencyCode": "USD", "units": str(units), "nanos": round((value - units) * 1e9)}


def sku(sku_id: str, description: str, usage: str, group: str, regions: list[str], price: float,
        unit: str = "h") -> dict[str, Any]:
    return {
        "name": f"services/{SERVICE}/skus/{sku_id}", "skuId": sku_id, "description": description,
        "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": "Compute",
                     "resourceGroup": group, "usageType": usage},
        "serviceRegions": regions,
        "pricingInfo": [{"summary": "", "pricingExpression": {
            "usageUnit": unit, "displayQuantity": 1, "usageUnitDescription": unit,
            "baseUnit": "s", "baseUnitConversionFactor": 3600,
            "tieredRates": [{"startUsageAmount": 0, "unitPrice": money(price)}]},
            "currencyConversionRate": 1, "effectiveTime": "2026-11-01T00:00:00Z"}],
        "serviceProviderName": "Google",
        "geoTaxonomy": {"type": "REGIONAL", "regions": regions},
    }


def _described(kind: str, name: str, usage: str) -> str:
    """Descriptions in the catalog's styles for one part and usage type."""
    term = {"Commit1Yr": "1 Year", "Commit3Yr": "3 Years"}.get(usage)
    if kind in ("Core", "Ram"):
        if term:
            return f"Commitment v1: {name} {'Cpu' if kind == 'Core' else 'Ram'} in Americas for {term}"
        spot = "Spot Preemptible " if usage == "Preemptible" else ""
        return f"{spot}{name} Instance {kind} running in Americas"
    if kind == "GPU":
        if term:
            return f"Commitment v1: {name} GPU in Americas for {term}"
        if usage == "Preemptible":
            return f"{name} GPU attached to Spot Preemptible VMs running in Americas"
        return f"{name} GPU running in Americas"
    return ("SSD backed Local Storage attached to Spot Preemptible VMs"
            if usage == "Preemptible" else "SSD backed Local Storage")


def catalog(regions: Iterable[str], scale: float = 1.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    n = 0
    for region in regions:
        for usage, factor in TIER_FACTOR.items():
            f = factor * scale
            for name, core, ram in FAMILIES.values():
                for kind, price, group in (("Core", core, "CPU"), ("Ram", ram, "RAM")):
                    n += 1
                    out.append(sku(f"F{n:03d}-{n:04X}-{n:04X}", _described(kind, name, usage),
                                   usage, group, [region], price * f,
                                   "h" if kind == "Core" else "GiBy.h"))
            for text, price in GPUS.values():
                n += 1
                out.append(sku(f"G{n:03d}-{n:04X}-{n:04X}", _described("GPU", text, usage), usage,
                               "GPU", [region], price * f))
            if usage in ("OnDemand", "Preemptible"):
                n += 1
                out.append(sku(f"S{n:03d}-{n:04X}-{n:04X}", _described("SSD", "", usage), usage,
                               "LocalSSD", [region], SSD_MONTH * f, "GiBy.mo"))
        # Noise the parser must ignore: other families, Flex-start GPUs, licences.
        out.append(sku(f"N{n:03d}-0000-0001", "N1 Predefined Instance Core running in Americas",
                       "OnDemand", "N1Standard", [region], 0.031611))
        out.append(sku(f"N{n:03d}-0000-0002", "Nvidia H100 80GB GPU running in Americas (DWS "
                       "Defined Duration)", "OnDemand", "GPU", [region], 5.0))
    return out


class FakeGoogle(FakeServer):
    def __init__(self, regions: Iterable[str], machine_types: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.regions = list(regions)
        self.skus = catalog(self.regions)
        self.page_size = 1000
        self.machine_types = machine_types  # name -> snapshot spec
        self.unavailable: set[tuple[str, str]] = set()  # (machine type, region)
        self.tokens = 0

    def service_account(self, directory: Path) -> Path:
        """A service-account key file whose token_uri points at this fake."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        path = directory / "service-account.json"
        path.write_text(json.dumps({
            "type": "service_account", "project_id": "fake-project",
            "private_key_id": "fakekey", "private_key": pem,
            "client_email": "llmplan-test@fake-project.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": f"{self.url}/token",
        }))
        return path

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Response:
        head = {"Content-Type": "application/json; charset=UTF-8"}
        route = urlsplit(path).path
        if route == "/token":
            self.tokens += 1
            return 200, head, json.dumps({"access_token": "fake-token", "expires_in": 3600,
                                          "token_type": "Bearer"}).encode()
        if route == f"/v1/services/{SERVICE}/skus":
            return self._skus(path, head)
        match = re.fullmatch(r"/compute/v1/projects/([^/]+)/aggregated/machineTypes", route)
        if match:
            return self._machine_types(path, head)
        return 404, head, json.dumps({"error": {"code": 404, "message": route,
                                                "status": "NOT_FOUND"}}).encode()

    def _error(self, fault: str, head: dict[str, str]) -> Response | None:
        if fault == "throttle":
            return 429, head, json.dumps({"error": {"code": 429, "message": "Quota exceeded",
                                                    "status": "RESOURCE_EXHAUSTED"}}).encode()
        if fault in ("500", "503"):
            return int(fault), head, json.dumps({"error": {"code": int(fault), "message": "boom",
                                                           "status": "INTERNAL"}}).encode()
        if fault == "403":
            return 403, head, json.dumps({"error": {"code": 403, "message": "API disabled",
                                                    "status": "PERMISSION_DENIED"}}).encode()
        return None

    def _skus(self, path: str, head: dict[str, str]) -> Response:
        fault = self.take_fault("skus")
        error = self._error(fault or "", head)
        if error:
            return error
        params = query(path)
        start = int((params.get("pageToken") or ["0"])[0] or 0)
        size = min(int((params.get("pageSize") or ["5000"])[0]), self.page_size)
        page = self.skus[start:start + size]
        payload: dict[str, Any] = {"skus": page}
        if start + size < len(self.skus):
            payload["nextPageToken"] = str(start + size)
        data = json.dumps(payload).encode()
        return (200, head, truncated(data)) if fault == "malformed" else (200, head, data)

    def _machine_types(self, path: str, head: dict[str, str]) -> Response:
        fault = self.take_fault("machineTypes")
        error = self._error(fault or "", head)
        if error:
            return error
        text = (query(path).get("filter") or [""])[0]
        pattern = re.fullmatch(r'name eq "(.*)"', text)
        items: dict[str, Any] = {}
        for region in self.regions:
            for zone in (f"{region}-a", f"{region}-b"):
                found = []
                for name, spec in self.machine_types.items():
                    if (name, region) in self.unavailable:
                        continue
                    if pattern and not re.fullmatch(pattern.group(1), name):
                        continue
                    found.append({
                        "kind": "compute#machineType", "name": name, "zone": zone,
                        "guestCpus": spec["vcpus"], "memoryMb": int(spec["memory_gib"] * 1024),
                        "accelerators": [{"guestAcceleratorType": ACCELERATOR[spec["gpu"]],
                                          "guestAcceleratorCount": spec["gpu_count"]}],
                    })
                items[f"zones/{zone}"] = ({"machineTypes": found} if found else {
                    "warning": {"code": "NO_RESULTS_ON_PAGE", "message": "none"}})
        data = json.dumps({"kind": "compute#machineTypeAggregatedList", "items": items}).encode()
        return (200, head, truncated(data)) if fault == "malformed" else (200, head, data)
