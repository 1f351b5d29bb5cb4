"""Live GCP prices: Cloud Billing Catalog SKUs (google-cloud-billing), summed per machine type.

GCP bills GPU machines by parts: vCPUs x "<family> Instance Core" + GiB x "<family> Instance
Ram" + GPUs x the GPU SKU (+ the bundled Local SSD for a2-ultra, a3, a4). The SKUs of Compute
Engine (``services/6F81-5844-456A``) are read page by page (REST transport), matched to a region
by ``serviceRegions`` (never by the description's "Americas"/"EMEA" text), to a tier by
``category.usageType`` (OnDemand, Preemptible = spot, Commit1Yr, Commit3Yr) and to a part by the
description. Money is ``units`` + ``nanos`` / 1e9.

The live document carries whole-machine ``prices`` rows (marked ``derived``, with the unit prices
used in ``parts``) rather than ``components`` rows: only per machine can it honour what parts
summing in the generic loader cannot — the machine's own GPU SKU (A3 Mega has one), its bundled
Local SSD, the tiers GCP actually sells for it, and per-region availability from the Compute API.

With a project (``LLMPLAN_GCP_PROJECT``, ``GOOGLE_CLOUD_PROJECT`` or the credentials' own),
google-cloud-compute's machine types give specs and the zones (so regions) offering each type.
Credentials come from Application Default Credentials. ``LLMPLAN_GCP_BILLING_ENDPOINT`` and
``LLMPLAN_GCP_COMPUTE_ENDPOINT`` replace the API endpoints (the tests use local fakes).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmplan.errors import PricingError
from llmplan.providers.base import Progress
from llmplan.providers.live import (
    Budget,
    MissingCredentials,
    TransientError,
    add_region,
    drop_unknown_types,
    env_endpoint,
    new_document,
    now_utc,
    price_row,
    require_complete,
    retry,
    warn,
)

COMPUTE_SERVICE = "services/6F81-5844-456A"
DEFAULT_BILLING = "https://cloudbilling.googleapis.com"
DEFAULT_COMPUTE = "https://compute.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
PAGE_SIZE = 5000
MAX_PAGES = 200
HOURS_PER_MONTH = 730.0  # GCP's own month for GiBy.mo prices
TIERS = {"OnDemand": "on-demand", "Preemptible": "spot",
         "Commit1Yr": "reserved-1y", "Commit3Yr": "reserved-3y"}
#: SKUs for ways of buying that are not our tiers (Flex-start/DWS, sole tenancy, ...).
EXCLUDED = ("DWS", "Flex", "Dynamic Workload", "Sole Tenancy", "Custom", "Extended", "Reserved",
            "Calendar", "Premium")
_FAMILY = r"(?P<fam>[A-Z]\d[A-Za-z0-9]*(?: (?:High|Mega|Ultra|Edge|Plus))?)"
_CORE_RAM = re.compile(
    rf"^(?:Spot Preemptible |Preemptible )?{_FAMILY} Instance (?P<res>Core|Ram)\b")
_COMMIT = re.compile(rf"^Commitment(?: v\d+)?: {_FAMILY} (?P<res>Cpu|Core|Ram|Memory) in\b")
_GPU = re.compile(r"\bNvidia (?:Tesla )?(?P<model>[A-Z]+\d+[A-Z]?)(?: (?P<mem>\d+GB))?"
                  r"(?P<mega> Mega)? GPU\b")
_SSD = re.compile(r"^(?:Commitment(?: v\d+)?: )?(?:SSD backed Local Storage|Local SSD)\b")
#: The description names some families differently from the machine-type prefix.
FAMILY_ALIASES = {"a3-high": "a3"}


@dataclass(frozen=True)
class Part:
    region: str
    tier: str
    kind: str  # vcpu | ram_gib | gpu | local_ssd_gb
    key: str  # family for vcpu/ram_gib, canonical GPU (":mega" variant) for gpu, "" for SSD
    hourly: float
    sku: str
    regions: int  # how many regions the SKU covers: single-region SKUs win over multi-region


def money(units: Any, nanos: Any) -> float:
    return round(int(units or 0) + int(nanos or 0) / 1e9, 9)


def _rate(sku: Any) -> tuple[float, str] | None:
    infos = list(sku.pricing_info)
    if not infos:
        return None
    expr = infos[0].pricing_expression
    rates = sorted(expr.tiered_rates, key=lambda r: r.start_usage_amount)
    if not rates:
        return None
    price = rates[0].unit_price
    currency = price.currency_code or "USD"
    if currency != "USD":
        return None
    return money(price.units, price.nanos), str(expr.usage_unit)


def parse_sku(sku: Any) -> list[Part]:
    """The parts one SKU prices (one per service region), or none when it is not one of ours."""
    from llmplan.gpus import canonical_gpu_name

    text = str(sku.description)
    tier = TIERS.get(str(sku.category.usage_type))
    if tier is None or any(word in text for word in EXCLUDED):
        return []
    rate = _rate(sku)
    if rate is None:
        return []
    value, unit = rate
    kind: str | None = None
    key = ""
    match = _CORE_RAM.match(text) or _COMMIT.match(text)
    if match:
        family = match["fam"].lower().replace(" ", "-")
        key = FAMILY_ALIASES.get(family, family)
        kind = "vcpu" if match["res"] in ("Core", "Cpu") else "ram_gib"
    elif (gpu := _GPU.search(text)) is not None:
        model, mem = gpu["model"], gpu["mem"]
        names = ([f"{model} {mem}", f"{model}-{mem}"] if mem else []) + [model]
        canonical = next((c for c in map(canonical_gpu_name, names) if c), None)
        if canonical is None:
            return []
        kind, key = "gpu", canonical + (":mega" if gpu["mega"] else "")
    elif _SSD.match(text):
        kind, key = "local_ssd_gb", ""
        if unit.endswith(".mo"):
            value /= HOURS_PER_MONTH
    if kind is None or value <= 0:
        return []  # $0.00 is never a price
    regions = list(sku.service_regions)
    return [Part(r, tier, kind, key, value, str(sku.sku_id), len(regions)) for r in regions]


def index_parts(parts: Sequence[Part]) -> dict[tuple[str, str, str, str], Part]:
    best: dict[tuple[str, str, str, str], Part] = {}
    for p in parts:
        k = (p.region, p.tier, p.kind, p.key)
        if k not in best or p.regions < best[k].regions:
            best[k] = p
    return best


def machine_price(
    spec: Mapping[str, Any], family: str, region: str, tier: str,
    parts: Mapping[tuple[str, str, str, str], Part],
) -> tuple[float, dict[str, float]] | None:
    """Hourly price of one machine from its parts, or None when a part has no SKU."""
    cpu = parts.get((region, tier, "vcpu", family))
    ram = parts.get((region, tier, "ram_gib", family))
    gpu_name = str(spec["gpu"])
    gpu = None
    if family.endswith("-mega"):
        gpu = parts.get((region, tier, "gpu", gpu_name + ":mega"))
    gpu = gpu or parts.get((region, tier, "gpu", gpu_name))
    if not (cpu and ram and gpu):
        return None
    used = {"vcpu": cpu.hourly, "ram_gib": ram.hourly, "gpu": gpu.hourly}
    total = (spec["vcpus"] * cpu.hourly + float(spec["memory_gib"]) * ram.hourly
             + spec["gpu_count"] * gpu.hourly)
    ssd_gb = float(spec.get("bundled_local_ssd_gb") or 0)
    if ssd_gb:
        # Commitment and spot SSD SKUs are not always listed: fall back to the on-demand rate,
        # which can only over-state the price a little, never hide a cost.
        ssd = parts.get((region, tier, "local_ssd_gb", "")) or parts.get(
            (region, "on-demand", "local_ssd_gb", ""))
        if ssd is None:
            return None
        used["local_ssd_gb"] = ssd.hourly
        total += ssd_gb * ssd.hourly
    return total, used


def sold_tiers(base: Mapping[str, Any]) -> dict[str, set[str]]:
    """Tiers the curated snapshot lists for each type (a3-highgpu-1g has no on-demand, ...)."""
    tiers: dict[str, set[str]] = {}
    for key in ("prices", "unpriced"):
        for row in base.get(key, []):
            tiers.setdefault(row["instance_type"], set()).add(row["tier"])
    return tiers


def _family(itype: str, spec: Mapping[str, Any]) -> str:
    if spec.get("family"):
        return str(spec["family"])
    prefix, _, rest = itype.partition("-")
    variant = rest.split("-")[0].removesuffix("gpu")
    return f"{prefix}-{variant}" if variant in ("mega", "ultra", "edge") else prefix


def _google() -> dict[str, Any]:
    try:
        import google.auth
        from google.api_core import exceptions as api_exceptions
        from google.auth import exceptions as auth_exceptions
        from google.cloud import billing_v1
    except ImportError as exc:
        raise PricingError("gcp live pricing needs google-cloud-billing: "
                           "pip install 'llmplan[gcp]'") from exc
    return {"auth": google.auth, "api": api_exceptions, "auth_exc": auth_exceptions,
            "billing": billing_v1}


class _Fetch:
    def __init__(self, regions: Sequence[str], instance_types: Sequence[str],
                 progress: Progress | None, base: Mapping[str, Any], budget: Budget) -> None:
        self.g = _google()
        self.regions, self.types = list(regions), list(instance_types)
        self.progress, self.base, self.budget = progress, base, budget
        try:
            self.credentials, adc_project = self.g["auth"].default(scopes=list(SCOPES))
        except self.g["auth_exc"].DefaultCredentialsError as exc:
            raise MissingCredentials(f"gcp: no Google credentials found (Application Default "
                                     f"Credentials: {str(exc).splitlines()[0]})") from exc
        self.project = (os.environ.get("LLMPLAN_GCP_PROJECT") or os.environ.get(
            "GOOGLE_CLOUD_PROJECT") or os.environ.get("CLOUDSDK_CORE_PROJECT") or adc_project)
        self.fetched_at = now_utc()
        self.day = self.fetched_at.date().isoformat()

    def _transient(self, exc: BaseException) -> bool:
        api = self.g["api"]
        transient = (api.TooManyRequests, api.InternalServerError, api.BadGateway,
                     api.ServiceUnavailable, api.GatewayTimeout, api.DeadlineExceeded,
                     api.ResourceExhausted, TransientError)
        if isinstance(exc, transient):
            return True
        try:
            import requests
            from google.protobuf.json_format import ParseError
        except ImportError:  # pragma: no cover - both come with the google clients
            return False
        return isinstance(exc, requests.exceptions.RequestException | ParseError | ValueError)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, self.g["auth_exc"].RefreshError):
            return f"cannot get a Google access token: {str(exc).splitlines()[0]}"
        text = str(exc).splitlines()[0] if str(exc) else ""
        return f"{type(exc).__name__}: {text}"[:300]

    def _page(self, what: str, fn: Any) -> Any:
        return retry(what, fn, self.budget, self._transient, self._describe)

    def skus(self) -> list[Any]:
        billing = self.g["billing"]
        endpoint = env_endpoint("LLMPLAN_GCP_BILLING_ENDPOINT", DEFAULT_BILLING)
        client = billing.CloudCatalogClient(
            credentials=self.credentials, transport="rest",
            client_options={"api_endpoint": endpoint})
        found: list[Any] = []
        token = ""
        for page in range(1, MAX_PAGES + 1):
            request = billing.ListSkusRequest(parent=COMPUTE_SERVICE, currency_code="USD",
                                              page_size=PAGE_SIZE, page_token=token)

            def call(request: Any = request) -> Any:
                pager = client.list_skus(request=request, retry=None,
                                         timeout=self.budget.read_timeout)
                # One page per call, so a failed page is retried with its own token.
                return next(iter(pager.pages))
            response = self._page(f"gcp: Cloud Billing Catalog list_skus page {page}", call)
            found.extend(response.skus)
            if self.progress is not None:
                self.progress("gcp billing catalog", page, page + (1 if response.next_page_token
                                                                   else 0))
            token = response.next_page_token
            if not token:
                return found
        raise PricingError(f"gcp: Cloud Billing Catalog: more than {MAX_PAGES} pages")

    def machine_types(self) -> dict[str, tuple[dict[str, Any], set[str]]] | None:
        """Type -> (specs, regions offering it), or None without a project / on failure."""
        if not self.project:
            return None
        try:
            from google.cloud import compute_v1
        except ImportError:
            warn("gcp: google-cloud-compute is not installed; specs and availability per zone "
                 "not checked (pip install 'llmplan[gcp]')")
            return None
        endpoint = env_endpoint("LLMPLAN_GCP_COMPUTE_ENDPOINT", DEFAULT_COMPUTE)
        client = compute_v1.MachineTypesClient(credentials=self.credentials, transport="rest",
                                               client_options={"api_endpoint": endpoint})
        names = "|".join(re.escape(t) for t in self.types)
        found: dict[str, tuple[dict[str, Any], set[str]]] = {}
        token = ""
        try:
            for _page in range(MAX_PAGES):
                request = compute_v1.AggregatedListMachineTypesRequest(
                    project=self.project, filter=f'name eq "{names}"', page_token=token)

                def call(request: Any = request) -> Any:
                    pager = client.aggregated_list(request=request, retry=None,
                                                   timeout=self.budget.read_timeout)
                    return next(iter(pager.pages))
                response = self._page("gcp: Compute machineTypes.aggregatedList", call)
                for scope, scoped in response.items.items():
                    zone = scope.rsplit("/", 1)[-1]
                    for mt in scoped.machine_types:
                        if mt.name not in self.types:
                            continue
                        spec, regions = found.setdefault(mt.name, (_spec(mt), set()))
                        regions.add(zone.rsplit("-", 1)[0])
                token = response.next_page_token
                if not token:
                    return found
        except PricingError as exc:
            warn(f"{exc}; specs and availability per zone not checked")
            return None
        return found

    def run(self) -> dict[str, Any]:
        doc = new_document("gcp", self.fetched_at, self.base)
        source = f"gcp-billing-catalog-{self.day.replace('-', '')}"
        doc["sources"][source] = {
            "url": "https://cloudbilling.googleapis.com/v1/services/6F81-5844-456A/skus",
            "date": self.day,
            "note": "Compute Engine SKUs: <family> Instance Core/Ram + GPU (+ bundled Local SSD) "
                    "per region and usage type, summed per machine",
        }
        known = self.base.get("instance_types", {})
        live_specs = self.machine_types()
        parts = index_parts([p for sku in self.skus() for p in parse_sku(sku)])
        tiers_sold = sold_tiers(self.base)
        for region in self.regions:
            add_region(doc, region, self.base, _geo(region))
        for itype in self.types:
            spec = dict(known.get(itype) or {})
            offered: set[str] | None = None
            if live_specs is not None:
                if itype not in live_specs:
                    continue  # no zone of the project offers it
                live, offered = live_specs[itype]
                spec = {**live, **spec} if not spec else {**spec, **{
                    k: v for k, v in live.items() if k in ("vcpus", "memory_gib", "gpu_count")}}
            if not spec.get("gpu"):
                warn(f"gcp: skipping {itype}: no GPU specs for it")
                continue
            family = _family(itype, spec)
            spec.setdefault("family", family)
            doc["instance_types"][itype] = spec
            for region in self.regions:
                if offered is not None and region not in offered:
                    continue
                for tier in ("on-demand", "spot", "reserved-1y", "reserved-3y"):
                    if itype in tiers_sold and tier not in tiers_sold[itype]:
                        continue
                    priced = machine_price(spec, family, region, tier, parts)
                    if priced is None:
                        continue
                    total, used = priced
                    doc["prices"].append(price_row(
                        itype, region, tier, total, source, self.day,
                        derived="vCPU + RAM + GPU (+ local SSD) SKUs",
                        parts={k: round(v, 9) for k, v in used.items()}))
        drop_unknown_types(doc)
        require_complete("gcp", doc)
        return doc


def _spec(mt: Any) -> dict[str, Any]:
    from llmplan.gpus import canonical_gpu_name, get_gpu

    spec: dict[str, Any] = {"vcpus": int(mt.guest_cpus),
                            "memory_gib": round(int(mt.memory_mb) / 1024, 3),
                            "source": "gcp-compute-machine-types"}
    accelerators = list(mt.accelerators)
    if accelerators:
        kind = str(accelerators[0].guest_accelerator_type)
        canonical = canonical_gpu_name(kind)
        spec["gpu_count"] = sum(int(a.guest_accelerator_count) for a in accelerators)
        if canonical:
            # G2's L4s are PCIe cards; the A-series GPUs are SXM boards joined by NVLink.
            spec.update({"gpu": canonical, "gpu_memory_gib": get_gpu(canonical).memory_gb,
                         "interconnect": "pcie" if kind.endswith("l4") else "nvlink",
                         "fast_network": None})
    return spec


def _geo(region: str) -> str:
    prefix = region.split("-")[0]
    return {"us": "us", "northamerica": "us", "southamerica": "sa", "europe": "eu",
            "me": "me", "africa": "af"}.get(prefix, "asia")


def fetch(regions: Sequence[str], instance_types: Sequence[str], progress: Progress | None,
          *, base: Mapping[str, Any], quick: bool = False) -> dict[str, Any]:
    """A live catalog document (format 1, ``source: live``) for ``regions`` x ``instance_types``."""
    return _Fetch(regions, instance_types, progress, base, Budget(quick)).run()


def credentials_configured() -> bool:
    """Cheap check (no SDK import) for Application Default Credentials on this machine."""
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return True
    config = os.environ.get("CLOUDSDK_CONFIG") or os.path.join(
        os.path.expanduser("~"), ".config", "gcloud")
    return os.path.isfile(os.path.join(config, "application_default_credentials.json"))


def endpoint() -> str:
    return env_endpoint("LLMPLAN_GCP_BILLING_ENDPOINT", DEFAULT_BILLING)


def auto_status() -> str | None:
    """None when ``--pricing auto`` may fetch live; else why not (no SDK import, no network)."""
    if not _installed("google-cloud-billing"):
        return "google-cloud-billing is not installed (pip install 'llmplan[gcp]')"
    if not credentials_configured():
        return "no Google Application Default Credentials configured"
    return None


def _installed(distribution: str) -> bool:
    # Package metadata, not find_spec: finding google.cloud.billing_v1 would import google.cloud.
    from importlib.metadata import PackageNotFoundError, version

    try:
        version(distribution)
    except PackageNotFoundError:
        return False
    return True
