"""One side's breakdown, and the difference between two sides (by resource address)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llmplan.cost.lines import CostLine


@dataclass
class Breakdown:
    lines: list[CostLine]
    warnings: list[str] = field(default_factory=list)
    label: str = ""

    @property
    def priced(self) -> list[CostLine]:
        return [line for line in self.lines if not line.unpriced]

    @property
    def unpriced(self) -> list[CostLine]:
        return [line for line in self.lines if line.unpriced]

    @property
    def monthly_usd(self) -> float:
        return sum(line.monthly_usd or 0.0 for line in self.priced)

    @property
    def hourly_usd(self) -> float:
        return sum(line.hourly_usd or 0.0 for line in self.priced)

    def by_address(self) -> dict[str, CostLine]:
        return {line.address: line for line in self.lines}


@dataclass
class DiffRow:
    address: str
    before: CostLine | None
    after: CostLine | None

    @property
    def status(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        b, a = self.before, self.after
        same = (b.instance_type, b.count, b.tier, b.region, b.unpriced) == (
            a.instance_type, a.count, a.tier, a.region, a.unpriced)
        if same and _money_equal(b.monthly_usd, a.monthly_usd):
            return "unchanged"
        return "changed"

    @property
    def before_monthly(self) -> float | None:
        return None if self.before is None else self.before.monthly_usd

    @property
    def after_monthly(self) -> float | None:
        return None if self.after is None else self.after.monthly_usd

    @property
    def unpriced(self) -> str:
        for line in (self.after, self.before):
            if line is not None and line.unpriced:
                return line.unpriced
        return ""

    @property
    def delta_monthly(self) -> float | None:
        if self.unpriced:
            return None
        return (self.after_monthly or 0.0) - (self.before_monthly or 0.0)

    @property
    def current(self) -> CostLine:
        line = self.after or self.before
        assert line is not None
        return line


def _money_equal(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < 0.005


@dataclass
class CostDiff:
    before: Breakdown
    after: Breakdown
    rows: list[DiffRow]

    @property
    def changed(self) -> list[DiffRow]:
        rows = [r for r in self.rows if r.status != "unchanged"]
        return sorted(rows, key=lambda r: (r.delta_monthly is None,
                                           -abs(r.delta_monthly or 0.0), r.address))

    @property
    def delta_monthly(self) -> float:
        return self.after.monthly_usd - self.before.monthly_usd

    @property
    def percent(self) -> float | None:
        before = self.before.monthly_usd
        if before <= 0:
            return None
        return self.delta_monthly / before * 100


def diff(before: Breakdown, after: Breakdown) -> CostDiff:
    b, a = before.by_address(), after.by_address()
    addresses = list(b) + [x for x in a if x not in b]
    rows = [DiffRow(x, b.get(x), a.get(x)) for x in sorted(addresses, key=_address_key)]
    return CostDiff(before, after, rows)


def _address_key(address: str) -> tuple[str, int, str]:
    match = re.match(r"^(.*)\[(\d+)\]$", address)
    if match:
        return match.group(1), int(match.group(2)), ""
    return address, -1, ""
