"""A fake of the AWS Price List Query API (JSON 1.1) and EC2 (query protocol, XML) on 127.0.0.1.

Reached by the real boto3 clients through ``AWS_ENDPOINT_URL_PRICING`` / ``AWS_ENDPOINT_URL_EC2``.
Pricing requests are ``POST /`` with ``X-Amz-Target: AWSPriceListService.GetProducts`` and a JSON
body; ``PriceList`` items are JSON *strings*, as the service model's ``jsonvalue`` says. EC2
requests are form-encoded ``Action=...``; responses are serialised from botocore's own EC2
service model, and instance specs are the real ``describe_instance_types`` data packaged by moto.
The priced region is read from the SigV4 credential scope, as AWS routes it.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from fakes.http import FakeServer, Response, truncated

XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
ON_DEMAND_TERM = "JRTCKXETXF"
HOURLY_RATE = "6YS6EN2CT7"


@cache
def moto_instance_types() -> dict[str, Any]:
    import moto

    path = Path(moto.__file__).parent / "ec2" / "resources" / "instance_types.json.gz"
    with gzip.open(path) as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@cache
def _ec2_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("ec2")


def _xml(shape: Any, value: Any) -> str:
    """Serialise ``value`` as EC2 XML using the botocore shape (locationName, <item> lists)."""
    kind = shape.type_name
    if kind == "structure":
        out = []
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                tag = member.serialization.get("name", name)
                out.append(f"<{tag}>{_xml(member, value[name])}</{tag}>")
        return "".join(out)
    if kind == "list":
        tag = shape.member.serialization.get("name", "member")
        return "".join(f"<{tag}>{_xml(shape.member, v)}</{tag}>" for v in value)
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return escape(str(value))


def ec2_response(action: str, result: Mapping[str, Any]) -> bytes:
    model = _ec2_model()
    shape = model.operation_model(action).output_shape
    body = _xml(shape, result)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{XMLNS}">'
            f"<requestId>00000000-fake</requestId>{body}</{action}Response>").encode()


def ec2_error(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}'
            f"</Code><Message>{escape(message)}</Message></Error></Errors>"
            "<RequestID>00000000-fake</RequestID></Response>").encode()


def _usage_prefix(region: str) -> str:
    if region == "us-east-1":
        return ""
    parts = region.split("-")
    return f"{parts[0][:2].upper()}{parts[1][0].upper()}{parts[2]}-"


def price_list_item(itype: str, region: str, on_demand: float, *, usage: str | None = None,
                    reserved: bool = True) -> dict[str, Any]:
    """One product in the Price List's aws_v1 shape (terms keyed by SKU.offerTermCode)."""
    sku = f"FAKE{abs(hash((itype, region, usage))) % 10**10:010d}"
    spec = moto_instance_types().get(itype, {})
    gpus = (spec.get("GpuInfo") or {}).get("Gpus") or [{}]
    attributes = {
        "servicecode": "AmazonEC2", "instanceType": itype, "instanceFamily": "GPU instance",
        "regionCode": region, "location": region, "locationType": "AWS Region",
        "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
        "capacitystatus": "Used", "licenseModel": "No License required",
        "marketoption": "OnDemand", "operation": "RunInstances",
        "usagetype": usage or f"{_usage_prefix(region)}BoxUsage:{itype}",
        "vcpu": str((spec.get("VCpuInfo") or {}).get("DefaultVCpus", "")),
        "memory": f"{(spec.get('MemoryInfo') or {}).get('SizeInMiB', 0) // 1024} GiB",
        "gpu": str(gpus[0].get("Count", "")),
    }
    item: dict[str, Any] = {
        "product": {"productFamily": "Compute Instance", "attributes": attributes, "sku": sku},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {f"{sku}.{ON_DEMAND_TERM}": {
            "priceDimensions": {f"{sku}.{ON_DEMAND_TERM}.{HOURLY_RATE}": {
                "unit": "Hrs", "endRange": "Inf", "beginRange": "0",
                "description": f"${on_demand} per On Demand Linux {itype} Instance Hour",
                "rateCode": f"{sku}.{ON_DEMAND_TERM}.{HOURLY_RATE}", "appliesTo": [],
                "pricePerUnit": {"USD": f"{on_demand:.10f}"}}},
            "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": ON_DEMAND_TERM,
            "termAttributes": {}}}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    }
    if reserved and on_demand > 0:
        item["terms"]["Reserved"] = _reserved_terms(sku, on_demand)
    return item


def _reserved_terms(sku: str, od: float) -> dict[str, Any]:
    """1 year: No Upfront and Partial Upfront; 3 years: All Upfront only (to test folding);
    and a convertible 1-year term that must be ignored."""
    terms: dict[str, Any] = {}

    def term(code: str, lease: str, option: str, klass: str, hourly: float, upfront: float) -> None:
        dims: dict[str, Any] = {}
        if hourly or option != "All Upfront":
            dims[f"{sku}.{code}.6YS6EN2CT7"] = {"unit": "Hrs", "beginRange": "0",
                                                "endRange": "Inf", "description": "hourly",
                                                "pricePerUnit": {"USD": f"{hourly:.10f}"}}
        if upfront:
            dims[f"{sku}.{code}.2TG2D8R56U"] = {"unit": "Quantity", "description": "Upfront Fee",
                                                "pricePerUnit": {"USD": f"{upfront:.2f}"}}
        terms[f"{sku}.{code}"] = {"priceDimensions": dims, "sku": sku, "offerTermCode": code,
                                  "effectiveDate": "2026-11-01T00:00:00Z",
                                  "termAttributes": {"LeaseContractLength": lease,
                                                     "OfferingClass": klass,
                                                     "PurchaseOption": option}}

    term("4NA7Y494T4", "1yr", "No Upfront", "standard", od * 0.62, 0)
    term("HU7G6KETJZ", "1yr", "Partial Upfront", "standard", od * 0.29, od * 0.29 * 8760)
    term("7NE97W5U4E", "1yr", "No Upfront", "convertible", od * 0.75, 0)
    term("NQ3QZPMQV9", "3yr", "All Upfront", "standard", 0, od * 0.40 * 8760 * 3)
    return terms


class FakeAWS(FakeServer):
    """Pricing + EC2 for ``types`` in ``regions``; prices derive from ``on_demand``."""

    def __init__(self, types: Iterable[str], regions: Iterable[str],
                 on_demand: Mapping[tuple[str, str], float] | None = None) -> None:
        super().__init__()
        self.types = list(types)
        self.regions = list(regions)
        self.on_demand = dict(on_demand or {})
        self.offered = {r: set(self.types) for r in self.regions}
        self.zero: set[tuple[str, str]] = set()  # on-demand listed at $0.00
        self.missing: set[tuple[str, str]] = set()  # offered but no Price List product
        self.duplicates: set[tuple[str, str]] = set()  # a second product (not BoxUsage)
        self.pricing_page_size = 100
        self.empty_first_page = False  # answer page 1 with no items and a NextToken
        self.ec2_page_size = 100
        self.now = datetime.now(timezone.utc)

    def price(self, itype: str, region: str) -> float:
        return self.on_demand.get((itype, region), 1.0 + self.types.index(itype) * 0.5)

    def spot_prices(self, itype: str, region: str) -> dict[str, float]:
        od = self.price(itype, region)
        return {f"{region}a": round(od * 0.30, 4), f"{region}b": round(od * 0.35, 4),
                f"{region}c": round(od * 0.45, 4)}

    # -- routing ------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Response:
        target = headers.get("X-Amz-Target", "")
        scope = re.search(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/", headers.get("Authorization", ""))
        region = scope.group(1) if scope else "us-east-1"
        if target:
            return self._pricing(target.split(".")[-1], json.loads(body or b"{}"))
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        return self._ec2(form.get("Action", ""), form, region)

    # -- Price List Query API (JSON 1.1) ------------------------------------------------
    def _pricing(self, operation: str, request: dict[str, Any]) -> Response:
        fault = self.take_fault(f"pricing:{operation}")
        head = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "fake"}
        if fault == "throttle":
            return 400, head, json.dumps({"__type": "ThrottlingException",
                                          "message": "Rate exceeded"}).encode()
        if fault in ("500", "503"):
            return int(fault), head, json.dumps({"__type": "InternalErrorException",
                                                 "message": "internal error"}).encode()
        if operation != "GetProducts":
            return 400, head, json.dumps({"__type": "InvalidParameterException",
                                          "message": f"unsupported {operation}"}).encode()
        filters = {f["Field"]: f["Value"] for f in request.get("Filters", [])}
        itype, region = filters.get("instanceType", ""), filters.get("regionCode", "")
        products: list[dict[str, Any]] = []
        if (itype in self.offered.get(region, set()) and (itype, region) not in self.missing
                and filters.get("marketoption") == "OnDemand"):
            od = 0.0 if (itype, region) in self.zero else self.price(itype, region)
            products.append(price_list_item(itype, region, od))
            if (itype, region) in self.duplicates:
                products.append(price_list_item(itype, region, od * 3,
                                                usage=f"{_usage_prefix(region)}HostUsage:{itype}"))
        size = min(int(request.get("MaxResults") or 100), self.pricing_page_size)
        token_in = request.get("NextToken")
        token: str | None
        if self.empty_first_page and token_in is None and products:
            page, token = [], "0"  # real pages may be empty and still carry a NextToken
        else:
            start = int(token_in or 0)
            page = products[start:start + size]
            token = str(start + size) if start + size < len(products) else None
        payload: dict[str, Any] = {"FormatVersion": "aws_v1",
                                   "PriceList": [json.dumps(p) for p in page]}
        if token:
            payload["NextToken"] = token
        data = json.dumps(payload).encode()
        if fault == "malformed":
            return 200, head, truncated(data)
        return 200, head, data

    # -- EC2 (query protocol, XML) ------------------------------------------------------
    def _ec2(self, action: str, form: dict[str, str], region: str) -> Response:
        fault = self.take_fault(f"ec2:{action}")
        head = {"Content-Type": "text/xml;charset=UTF-8"}
        if fault == "throttle":
            return 503, head, ec2_error("RequestLimitExceeded", "Request limit exceeded.")
        if fault in ("500", "503"):
            return int(fault), head, ec2_error("InternalError", "An internal error has occurred")
        if action == "DescribeInstanceTypes":
            wanted = [v for k, v in form.items() if re.fullmatch(r"Filter\.\d+\.Value\.\d+", k)]
            data = moto_instance_types()
            found = [data[t] for t in sorted(self.offered.get(region, set()))
                     if t in data and (not wanted or t in wanted)]
            body = self._paged("DescribeInstanceTypes", "InstanceTypes", found, form)
        elif action == "DescribeSpotPriceHistory":
            types = [v for k, v in form.items() if re.fullmatch(r"InstanceType\.\d+", k)]
            products = [v for k, v in form.items() if re.fullmatch(r"ProductDescription\.\d+", k)]
            records = []
            for itype in sorted(self.offered.get(region, set())):
                if types and itype not in types:
                    continue
                for az, price in self.spot_prices(itype, region).items():
                    for age, factor in ((timedelta(hours=5), 1.7), (timedelta(minutes=3), 1.0)):
                        records.append({
                            "AvailabilityZone": az, "InstanceType": itype,
                            "ProductDescription": (products or ["Linux/UNIX"])[0],
                            "SpotPrice": f"{price * factor:.6f}", "Timestamp": self.now - age})
            body = self._paged("DescribeSpotPriceHistory", "SpotPriceHistory", records, form)
        else:
            return 400, head, ec2_error("InvalidAction", f"unsupported {action}")
        if fault == "malformed":
            return 200, head, truncated(body)
        return 200, head, body

    def _paged(self, action: str, key: str, items: list[Any], form: dict[str, str]) -> bytes:
        start = int(form.get("NextToken") or 0)
        page = items[start:start + self.ec2_page_size]
        result: dict[str, Any] = {key: page}
        if start + self.ec2_page_size < len(items):
            result["NextToken"] = str(start + self.ec2_page_size)
        return ec2_response(action, result)
