"""What a priced resource uses (:class:`Usage`) and the registry of per-type mappings.

One function per Terraform resource type (as Infracost does) turns a resource's values into
usage; :mod:`llmplan.cost.mappers` holds them, one module per cloud.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmplan.cost.values import is_unresolved, known_int, shown
from llmplan.terraform.plan_json import ResourceValues


@dataclass(frozen=True)
class Usage:
    """Some instances of one type in one tier; ``label`` names the tier as shown."""

    cloud: str
    instance_type: str
    count: float
    tier: str = "on-demand"
    region: str | None = None
    label: str = ""
    covered_by: str = ""  # runs inside this capacity reservation: already billed there


class Unpriced(Exception):
    """A resource that cannot be priced, and why."""


@dataclass
class Context:
    """What a mapping function may look at besides its own resource."""

    resources: Mapping[str, ResourceValues]  # by address
    default_regions: Mapping[str, str]

    def referenced(self, r: ResourceValues, types: Sequence[str],
                   by_values: Sequence[Any] = ()) -> ResourceValues | None:
        """The resource of ``types`` that ``r`` refers to (by reference, id, name or link)."""
        for address in sorted(r.references):
            for candidate in self._instances(address):
                if candidate.type in types:
                    return candidate
        wanted = {str(v) for v in by_values if isinstance(v, str) and not is_unresolved(v)}
        if wanted:
            for candidate in self.resources.values():
                if candidate.type not in types:
                    continue
                keys = {candidate.values.get(k) for k in ("id", "name", "self_link")}
                names = {str(k).rsplit("/", 1)[-1] for k in keys if isinstance(k, str)}
                if wanted & {str(k) for k in keys if isinstance(k, str)} or \
                        {w.rsplit("/", 1)[-1] for w in wanted} & names:
                    return candidate
        return None

    def _instances(self, address: str) -> list[ResourceValues]:
        exact = self.resources.get(address)
        if exact is not None:
            return [exact]
        return [r for a, r in self.resources.items() if a.startswith(address + "[")]

    def region(self, cloud: str, *candidates: Any) -> str | None:
        for value in candidates:
            if isinstance(value, str) and value and not is_unresolved(value):
                return normalize_region(cloud, value)
        return self.default_regions.get(cloud)


AWS_AZ = re.compile(r"^([a-z]{2}(?:-gov)?-[a-z]+-\d+)[a-z]$")


GCP_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")


def normalize_region(cloud: str, value: str) -> str:
    """Zones and display names to the catalog's region ids (``us-east-1a`` -> ``us-east-1``)."""
    text = value.strip()
    if cloud == "aws":
        match = AWS_AZ.match(text)
        return match.group(1) if match else text
    if cloud == "gcp":
        match = GCP_ZONE.match(text)
        return match.group(1) if match else text
    if cloud == "azure":
        return text.replace(" ", "").lower()
    return text


def require(value: Any, what: str) -> str:
    if value is None or value == "":
        raise Unpriced(f"no {what} set")
    if is_unresolved(value):
        raise Unpriced(f"{what} is not known statically ({shown(value)})")
    return str(value)


def require_count(value: Any, what: str) -> int:
    if value is None:
        raise Unpriced(f"no {what} set")
    number = known_int(value)
    if number is None:
        raise Unpriced(f"{what} is not known statically ({shown(value)})")
    return number


Mapper = Callable[[ResourceValues, Context], list[Usage]]




FREE_TYPES = frozenset({
    "aws_launch_template", "aws_launch_configuration", "google_compute_instance_template",
    "google_compute_region_instance_template",
})


NOT_PRICED: dict[str, str] = {
    "aws_ec2_capacity_block_reservation":
        "capacity blocks are sold at auction-style prices that no catalog lists",
    "aws_savingsplans_savings_plan": "a savings plan commitment is not an instance price",
    "azurerm_windows_virtual_machine":
        "Windows licence prices are not in the catalog (Linux prices only)",
    "azurerm_windows_virtual_machine_scale_set":
        "Windows licence prices are not in the catalog (Linux prices only)",
    "google_compute_region_commitment": "committed-use contracts are not priced",
}


