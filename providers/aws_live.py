"""Live AWS prices: the Price List Query API (on-demand, reserved) and EC2 (spot, specs).

* On-demand and reserved come from ``pricing.get_products`` on ``AmazonEC2``, one query per
  instance type and region with the full filter set below, which should match exactly one
  product; anything else is logged and resolved by the ``BoxUsage`` usage type.
* Reserved = Standard RI, No Upfront, 1 and 3 years. Where No Upfront is not sold, Partial and
  then All Upfront are used with the upfront fee folded in: hourly + upfront / (8760 h x years).
* Spot comes from ``ec2.describe_spot_price_history`` with ``StartTime=now`` (the price in force
  in each availability zone). The figure kept per region is the **upper median of the latest
  price per AZ**: an actual current AZ price that at least half the AZs meet or beat. The minimum
  is one AZ that may have no capacity; the mean is pulled by outliers.
* Specs (vCPU, RAM, GPUs) come from ``ec2.describe_instance_types``, which also tells which types
  a region offers.

A $0.00 rate (Capacity Blocks, placeholders) is never a price. Endpoints follow botocore's own
settings (``AWS_ENDPOINT_URL_PRICING``, ``AWS_ENDPOINT_URL_EC2``), which the tests point at local
fakes.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from llmplan.errors import PricingError
from llmplan.providers.base import Progress
from llmplan.providers.live import (
    Budget,
    MissingCredentials,
    add_region,
    drop_unknown_types,
    new_document,
    now_utc,
    price_row,
    require_complete,
    retry,
    unpriced_row,
    warn,
)

SERVICE_CODE = "AmazonEC2"
#: The Price List Query API only has endpoints in these regions; the priced region is a filter.
PRICING_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1")
HOURS_PER_YEAR = 8760
RESERVED_TERMS = {"1yr": ("reserved-1y", 1), "3yr": ("reserved-3y", 3)}
#: Preference among purchase options; the brief's tier is No Upfront, the others fold upfront in.
PURCHASE_OPTIONS = ("No Upfront", "Partial Upfront", "All Upfront")
SPOT_PRODUCT = "Linux/UNIX"
WORKERS = 6
_Row = tuple[str, float, dict[str, str]]  # tier, hourly USD, extra row fields


def product_filters(instance_type: str, region: str) -> list[dict[str, str]]:
    """The filter set meant to match exactly one plain Linux, shared-tenancy product."""
    fields = {
        "instanceType": instance_type,
        "regionCode": region,  # not ``location``, which is a display name
        "operatingSystem": "Linux",
        "tenancy": "Shared",  # else Dedicated / Host rows
        "preInstalledSw": "NA",  # else SQL Server variants
        "capacitystatus": "Used",  # else (Un)usedCapacityReservation rows
        "licenseModel": "No License required",
        "marketoption": "OnDemand",  # else Capacity Block products, listed at $0.00
        "operation": "RunInstances",  # plain Linux; RunInstances:xxxx are other OS/licences
    }
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in fields.items()]


def pricing_region() -> str:
    """The Pricing endpoint nearest the user's default region (the data are the same)."""
    home = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    if home.startswith(("eu-", "me-", "af-", "il-")):
        return "eu-central-1"
    if home.startswith("ap-"):
        return "ap-south-1"
    return "us-east-1"


def _box_usage(product: Mapping[str, Any], itype: str) -> bool:
    usage = str(product.get("product", {}).get("attributes", {}).get("usagetype", ""))
    # us-east-1 has no prefix; other regions use one such as ``USW2-`` or the legacy ``EU-``.
    return re.fullmatch(rf"(?:[A-Z0-9]+-)?BoxUsage:{re.escape(itype)}", usage) is not None


def choose_product(products: Sequence[Mapping[str, Any]], itype: str,
                   region: str) -> tuple[Mapping[str, Any] | None, str]:
    """The one product for ``itype`` in ``region``, or None and why."""
    matching = [p for p in products
                if p.get("product", {}).get("attributes", {}).get("instanceType", itype) == itype]
    if len(matching) == 1:
        return matching[0], ""
    if not matching:
        return None, "no on-demand Linux product in the AWS Price List (e.g. Capacity Blocks only)"
    box = [p for p in matching if _box_usage(p, itype)]
    usages = sorted(str(p.get("product", {}).get("attributes", {}).get("usagetype"))
                    for p in matching)
    warn(f"aws: {len(matching)} Price List products for {itype} in {region} "
         f"(usage types {', '.join(usages)}); expected one")
    if len(box) == 1:
        return box[0], ""
    return None, f"ambiguous: {len(matching)} Price List products ({', '.join(usages)})"


def _usd(dimension: Mapping[str, Any]) -> float:
    return float(dimension.get("pricePerUnit", {}).get("USD", "nan"))


def on_demand_rate(product: Mapping[str, Any]) -> float | None:
    """The hourly USD rate, or None for no price (absent, unparsable or $0.00)."""
    for offer in product.get("terms", {}).get("OnDemand", {}).values():
        for dim in offer.get("priceDimensions", {}).values():
            if dim.get("unit") == "Hrs" and str(dim.get("beginRange", "0")) == "0":
                rate = _usd(dim)
                return rate if rate > 0 else None
    return None


def reserved_rates(product: Mapping[str, Any]) -> dict[str, tuple[float, str]]:
    """Tier -> (effective hourly USD, purchase option) for Standard RIs."""
    found: dict[tuple[str, str], float] = {}
    for offer in product.get("terms", {}).get("Reserved", {}).values():
        attrs = offer.get("termAttributes", {})
        lease, option = attrs.get("LeaseContractLength"), attrs.get("PurchaseOption")
        if attrs.get("OfferingClass") != "standard" or lease not in RESERVED_TERMS:
            continue
        years = RESERVED_TERMS[lease][1]
        hourly = upfront = 0.0
        for dim in offer.get("priceDimensions", {}).values():
            if dim.get("unit") == "Hrs":
                hourly += _usd(dim)
            elif dim.get("unit") == "Quantity":
                upfront += _usd(dim)
        effective = hourly + upfront / (HOURS_PER_YEAR * years)
        if effective == effective and effective > 0:  # not NaN, not $0.00
            found[(lease, str(option))] = effective
    rates: dict[str, tuple[float, str]] = {}
    for lease, (tier, _years) in RESERVED_TERMS.items():
        for option in PURCHASE_OPTIONS:
            if (lease, option) in found:
                rates[tier] = (found[(lease, option)], option)
                break
    return rates


def spot_figures(
    records: Sequence[Mapping[str, Any]],
) -> dict[str, tuple[float, int, float, float]]:
    """Instance type -> (upper median of the latest price per AZ, AZs, min, max)."""
    latest: dict[tuple[str, str], tuple[Any, float]] = {}
    for rec in records:
        if not str(rec.get("ProductDescription", "")).startswith(SPOT_PRODUCT):
            continue
        try:
            price = float(rec["SpotPrice"])
        except (KeyError, TypeError, ValueError):
            continue
        key = (str(rec.get("InstanceType")), str(rec.get("AvailabilityZone")))
        stamp = rec.get("Timestamp")
        if key not in latest or (stamp is not None and stamp > latest[key][0]):
            latest[key] = (stamp, price)
    per_type: dict[str, list[float]] = defaultdict(list)
    for (itype, _az), (_stamp, price) in latest.items():
        if price > 0:
            per_type[itype].append(price)
    return {t: (statistics.median_high(p), len(p), min(p), max(p)) for t, p in per_type.items()}


def spec_from_info(
    info: Mapping[str, Any], known: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """Catalog specs from one ``InstanceTypeInfo``; curated fields of ``known`` are kept."""
    from llmplan.gpus import canonical_gpu_name, get_gpu

    gpus = info.get("GpuInfo", {}).get("Gpus") or []
    if not gpus:
        return None
    first = gpus[0]
    mib = int(first.get("MemoryInfo", {}).get("SizeInMiB", 0))
    spec = dict(known or {})
    if not known:
        name = str(first.get("Name", ""))
        gib = round(mib / 1024)
        canonical = next((c for c in (canonical_gpu_name(f"{name} {gib}GB"),
                                      canonical_gpu_name(f"{name}-{gib}GB"),
                                      canonical_gpu_name(name)) if c), None)
        if canonical is None:
            warn(f"aws: skipping {info.get('InstanceType')}: unknown GPU {name!r}")
            return None
        itype = str(info.get("InstanceType"))
        efa = bool(info.get("NetworkInfo", {}).get("EfaSupported"))
        spec.update({
            "gpu": canonical, "gpu_memory_gib": get_gpu(canonical).memory_gb,
            # The p families are the SXM / NVLink boards; the g families are PCIe cards.
            "interconnect": "nvlink" if itype.startswith("p") else "pcie",
            "fast_network": "efa" if efa else None,
            "family": itype.split(".")[0],
        })
    spec.update({
        "gpu_count": sum(int(g.get("Count", 0)) for g in gpus),
        "gpu_memory_mib_reported": mib,
        "vcpus": int(info.get("VCpuInfo", {}).get("DefaultVCpus", spec.get("vcpus", 0))),
        "memory_gib": round(int(info.get("MemoryInfo", {}).get("SizeInMiB", 0)) / 1024, 3),
        "source": "aws-ec2-instance-types",
    })
    return spec


def _sdk() -> tuple[Any, Any, Any]:
    try:
        import boto3
        import botocore.config
        import botocore.exceptions
        import botocore.parsers
    except ImportError as exc:
        raise PricingError("aws live pricing needs boto3: pip install 'llmplan[aws]'") from exc
    return boto3, botocore.config, botocore


class _Fetch:
    def __init__(self, regions: Sequence[str], instance_types: Sequence[str],
                 progress: Progress | None, base: Mapping[str, Any], budget: Budget) -> None:
        boto3, config_mod, botocore = _sdk()
        self.errors = botocore.exceptions
        self.parser_error = botocore.parsers.ResponseParserError
        self.base = base
        self.budget = budget
        self.progress = progress
        self.regions = list(regions)
        self.types = list(instance_types)
        self.session = boto3.session.Session()
        try:
            creds = self.session.get_credentials()
        except self.errors.BotoCoreError as exc:
            raise MissingCredentials(f"aws: cannot load AWS credentials: {exc}") from exc
        if creds is None:
            raise MissingCredentials("aws: no AWS credentials found (environment, ~/.aws, SSO or "
                                     "instance role); the Pricing and EC2 APIs need them")
        self.config = config_mod.Config(
            connect_timeout=budget.connect_timeout, read_timeout=budget.read_timeout,
            # botocore's standard mode retries throttling, 5xx and connection errors with
            # exponential backoff; our own loop only adds malformed bodies on top.
            retries={"mode": "standard", "total_max_attempts": budget.attempts},
            max_pool_connections=WORKERS * 2, user_agent_extra="llmplan",
        )
        self.fetched_at = now_utc()
        self.day = self.fetched_at.date().isoformat()
        self.done = 0
        self.total = 0
        self.lock = threading.Lock()

    # -- error plumbing -------------------------------------------------------------------
    def _transient(self, exc: BaseException) -> bool:
        # Throttling and 5xx were already retried by botocore; what is left worth another go is
        # a body that did not parse (truncated or garbled).
        return isinstance(exc, self.parser_error | _Malformed)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, self.errors.NoCredentialsError | self.errors.PartialCredentialsError):
            return f"no usable AWS credentials ({exc})"
        if isinstance(exc, self.errors.ClientError):
            err = exc.response.get("Error", {})
            meta = exc.response.get("ResponseMetadata", {})
            tries = int(meta.get("RetryAttempts", 0)) + 1
            after = f" after {tries} attempts" if tries > 1 else ""
            return (f"{err.get('Code', 'error')} (HTTP {meta.get('HTTPStatusCode')}){after}: "
                    f"{err.get('Message', '')}").strip()
        if isinstance(exc, self.parser_error | _Malformed):
            return f"malformed response: {str(exc).splitlines()[0][:160]}"
        return f"{type(exc).__name__}: {exc}"

    def _call(self, what: str, fn: Any) -> Any:
        try:
            return retry(what, fn, self.budget, self._transient, self._describe)
        except PricingError as exc:
            cause = exc.__cause__
            if isinstance(cause, self.errors.NoCredentialsError):
                raise MissingCredentials(str(exc)) from cause
            raise

    def _tick(self, label: str) -> None:
        with self.lock:  # called from the pricing worker threads
            self.done += 1
            done = self.done
        if self.progress is not None:
            self.progress(label, done, self.total)

    # -- the three APIs -------------------------------------------------------------------
    def instance_types(self, ec2: Any, region: str) -> dict[str, Mapping[str, Any]]:
        def call() -> dict[str, Mapping[str, Any]]:
            found: dict[str, Mapping[str, Any]] = {}
            # A filter, not InstanceTypes=[...]: an unknown or unoffered type in that list fails
            # the whole call, whereas a filter value simply matches nothing.
            pages = ec2.get_paginator("describe_instance_types").paginate(
                Filters=[{"Name": "instance-type", "Values": self.types}])
            for page in pages:
                for info in page.get("InstanceTypes", []):
                    found[str(info.get("InstanceType"))] = info
            return found
        result: dict[str, Mapping[str, Any]] = self._call(
            f"aws: EC2 DescribeInstanceTypes in {region}", call)
        return result

    def products(self, pricing: Any, itype: str, region: str) -> list[Mapping[str, Any]]:
        def call() -> list[Mapping[str, Any]]:
            items: list[Mapping[str, Any]] = []
            pages = pricing.get_paginator("get_products").paginate(
                ServiceCode=SERVICE_CODE, Filters=product_filters(itype, region),
                FormatVersion="aws_v1", PaginationConfig={"PageSize": 100})
            for page in pages:
                # botocore turns an unparsable JSON body into {"message": body} instead of
                # raising, which would read as "no products": insist on the real keys.
                if "PriceList" not in page and "FormatVersion" not in page:
                    raise _Malformed(str(page.get("message", "no PriceList in the response")))
                for raw in page.get("PriceList", []):
                    try:
                        item = json.loads(raw) if isinstance(raw, str) else raw
                    except ValueError as exc:
                        raise _Malformed(f"PriceList item is not JSON: {exc}") from exc
                    if not isinstance(item, dict):
                        raise _Malformed("PriceList item is not a JSON object")
                    items.append(item)
            return items
        result: list[Mapping[str, Any]] = self._call(
            f"aws: Pricing GetProducts {itype} in {region}", call)
        return result

    def spot(self, ec2: Any, region: str, types: Sequence[str]) -> list[Mapping[str, Any]]:
        def call() -> list[Mapping[str, Any]]:
            records: list[Mapping[str, Any]] = []
            pages = ec2.get_paginator("describe_spot_price_history").paginate(
                InstanceTypes=list(types), ProductDescriptions=[SPOT_PRODUCT],
                StartTime=self.fetched_at)
            for page in pages:
                records.extend(page.get("SpotPriceHistory", []))
            return records
        result: list[Mapping[str, Any]] = self._call(
            f"aws: EC2 DescribeSpotPriceHistory in {region}", call)
        return result

    # -- assembly -------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        doc = new_document("aws", self.fetched_at, self.base)
        stamp = self.day.replace("-", "")
        src_price, src_spot = f"aws-pricing-api-{stamp}", f"aws-spot-history-{stamp}"
        doc["sources"] = {
            src_price: {"url": "https://api.pricing.us-east-1.amazonaws.com (GetProducts, "
                               "AmazonEC2)", "date": self.day,
                        "note": "Linux, shared tenancy, no pre-installed software, Used capacity, "
                                "OnDemand market, RunInstances; reserved = Standard RI, No "
                                "Upfront (else Partial/All Upfront with the fee folded in)"},
            src_spot: {"url": "https://ec2.amazonaws.com (DescribeSpotPriceHistory)",
                       "date": self.day,
                       "note": "upper median of the latest Linux/UNIX spot price per AZ"},
            "aws-ec2-instance-types": {"url": "https://ec2.amazonaws.com (DescribeInstanceTypes)",
                                       "date": self.day, "note": "vCPU, memory and GpuInfo"},
        }
        pricing = self.session.client("pricing", region_name=pricing_region(), config=self.config)
        ec2s = {r: self.session.client("ec2", region_name=r, config=self.config)
                for r in self.regions}
        self.total = len(self.regions) * 2
        offered: dict[str, list[str]] = {}
        known = self.base.get("instance_types", {})
        for region in self.regions:
            add_region(doc, region, self.base, _geo(region))
            infos = self.instance_types(ec2s[region], region)
            offered[region] = sorted(infos)
            for itype, info in infos.items():
                if itype not in doc["instance_types"]:
                    spec = spec_from_info(info, known.get(itype))
                    if spec is not None:
                        doc["instance_types"][itype] = spec
            self._tick(f"aws specs {region}")
        jobs = [(t, r) for r in self.regions for t in offered[r] if t in doc["instance_types"]]
        self.total += len(jobs)
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            results = list(pool.map(lambda job: self._price(pricing, job), jobs))
        for (itype, region), (rows, unpriced) in zip(jobs, results, strict=True):
            doc["prices"] += [price_row(itype, region, tier, rate, src_price, self.day, **extra)
                              for tier, rate, extra in rows]
            doc["unpriced"] += [unpriced_row(itype, region, "on-demand", why) for why in unpriced]
        for region in self.regions:
            types = [t for t in offered[region] if t in doc["instance_types"]]
            if types:
                figures = spot_figures(self.spot(ec2s[region], region, types))
                for itype, (price, azs, low, high) in sorted(figures.items()):
                    doc["prices"].append(price_row(
                        itype, region, "spot", price, src_spot, self.day,
                        note=f"upper median of {azs} AZs (min {low:g}, max {high:g})"))
            self._tick(f"aws spot {region}")
        drop_unknown_types(doc)
        require_complete("aws", doc)
        return doc

    def _price(self, pricing: Any, job: tuple[str, str]) -> tuple[list[_Row], list[str]]:
        itype, region = job
        product, why = choose_product(self.products(pricing, itype, region), itype, region)
        self._tick(f"aws {itype} {region}")
        if product is None:
            return [], [why]
        rows: list[_Row] = []
        rate = on_demand_rate(product)
        unpriced = [] if rate else ["the AWS Price List shows $0.00 or no hourly rate"]
        if rate:
            rows.append(("on-demand", rate, {}))
        for tier, (effective, option) in reserved_rates(product).items():
            extra = {} if option == "No Upfront" else {"note": f"Standard {option}, upfront folded "
                                                               "into the hourly rate"}
            rows.append((tier, effective, extra))
        return rows, unpriced


class _Malformed(Exception):
    """A response that parsed as the wrong shape (botocore hides bad JSON bodies)."""


def _geo(region: str) -> str:
    prefix = region.split("-")[0]
    return {"us": "us", "ca": "us", "sa": "sa", "eu": "eu", "me": "me", "af": "af",
            "il": "me"}.get(prefix, "asia")


def fetch(regions: Sequence[str], instance_types: Sequence[str], progress: Progress | None,
          *, base: Mapping[str, Any], quick: bool = False) -> dict[str, Any]:
    """A live catalog document (format 1, ``source: live``) for ``regions`` x ``instance_types``."""
    return _Fetch(regions, instance_types, progress, base, Budget(quick)).run()


def credentials_configured() -> bool:
    """Cheap check (no SDK import) that botocore's chain has something other than IMDS to read."""
    env = os.environ
    if env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_PROFILE") or env.get(
            "AWS_WEB_IDENTITY_TOKEN_FILE") or env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") \
            or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return True
    home = os.path.expanduser("~")
    files = (env.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(home, ".aws", "credentials"),
             env.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config"))
    return any(os.path.isfile(f) for f in files)


def endpoint() -> str:
    return (os.environ.get("AWS_ENDPOINT_URL_PRICING") or os.environ.get("AWS_ENDPOINT_URL")
            or f"https://api.pricing.{pricing_region()}.amazonaws.com")


def auto_status() -> str | None:
    """None when ``--pricing auto`` may fetch live; else why not (no SDK import, no network)."""
    if not _installed("boto3"):
        return "boto3 is not installed (pip install 'llmplan[aws]')"
    if not credentials_configured():
        return "no AWS credentials configured (environment or ~/.aws)"
    return None


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
