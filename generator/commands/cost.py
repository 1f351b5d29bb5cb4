"""``llmplan cost``: monthly compute cost of Terraform, and its change in a pull request.

``llmplan cost breakdown PATH`` prices every compute resource of a Terraform folder or a
``terraform show -json`` plan; ``llmplan cost diff BASE HEAD`` compares two of them (or, given one
plan, its before and after) and with ``--format markdown`` prints the pull-request comment.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmplan.commands.output import FORMATS
from llmplan.cost.report import (
    _usd,
    breakdown_json,
    breakdown_markdown,
    breakdown_table,
    diff_json,
    diff_markdown,
    diff_table,
)
from llmplan.errors import UsageError

if TYPE_CHECKING:
    from llmplan.cost.diff import Breakdown, CostDiff
    from llmplan.cost.reader import Loaded

PRICING_CHOICES = ("auto", "live", "cache", "snapshot")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    subs = parser.add_subparsers(dest="cost_command", metavar="ACTION",
                                 parser_class=type(parser))
    breakdown = subs.add_parser("breakdown", help="monthly cost of every compute resource",
                                description="monthly cost of every compute resource")
    breakdown.add_argument("path", metavar="PATH",
                           help="Terraform folder (or .tf file) or `terraform show -json` plan")
    _common(breakdown)
    diff = subs.add_parser("diff", help="cost change between two Terraform trees or plans",
                           description="cost change between two Terraform trees or plans")
    diff.add_argument("base", metavar="BASE", help="folder or plan JSON before the change")
    diff.add_argument("head", metavar="HEAD", nargs="?",
                      help="folder or plan JSON after the change (omit to diff one plan's "
                           "before and after)")
    _common(diff)
    policy = diff.add_argument_group("policy (exit 1 when the increase passes a limit)")
    policy.add_argument("--fail-above-usd", type=_non_negative, metavar="N",
                        help="fail when the monthly cost goes up by more than N dollars")
    policy.add_argument("--fail-above-percent", type=_non_negative, metavar="P",
                        help="fail when the monthly cost goes up by more than P percent")
    diff.add_argument("--only-increases", action="store_true",
                      help="print nothing when the cost does not go up")
    diff.add_argument("--show-unchanged", action="store_true",
                      help="list unchanged resources too (table and JSON)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--pricing", choices=PRICING_CHOICES, default="snapshot",
                        help="price source (default: the embedded snapshot)")
    parser.add_argument("--region", action="append", default=[], metavar="[CLOUD=]REGION",
                        help="region for resources that name none (repeatable)")
    parser.add_argument("--var-file", action="append", default=[], metavar="FILE",
                        help="extra .tfvars file for folders (repeatable)")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="variable value for folders (repeatable)")


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (got {text!r})") from None
    if value < 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be zero or more (got {text!r})")
    return value


# --- running


def run(args: argparse.Namespace) -> int:
    command = getattr(args, "cost_command", None)
    if command is None:
        raise UsageError("llmplan cost: choose an action: breakdown PATH or diff BASE [HEAD]")
    from llmplan.commands.output import emit_json, note

    if command == "breakdown":
        (loaded,) = _load(args, [(args.path, "after")])
        (breakdown,) = _price(args, [loaded])
        for warning in breakdown.warnings:
            note(f"warning: {warning}")
        if args.format == "json":
            emit_json(breakdown_json(breakdown))
        elif args.format == "markdown":
            print(breakdown_markdown(breakdown))
        else:
            print(breakdown_table(breakdown))
        return 0
    if args.head is None:
        from llmplan.terraform.plan_json import looks_like_plan

        if not looks_like_plan(args.base):
            raise UsageError("llmplan cost diff: give BASE and HEAD, or one plan JSON file")
        sides = [(args.base, "before"), (args.base, "after")]
    else:
        sides = [(args.base, "after"), (args.head, "after")]
    before_loaded, after_loaded = _load(args, sides)
    before, after = _price(args, [before_loaded, after_loaded])
    from llmplan.cost.diff import diff as make_diff

    result = make_diff(before, after)
    for warning in dict.fromkeys(before.warnings + after.warnings):
        note(f"warning: {warning}")
    if args.only_increases and result.delta_monthly <= 0.005:
        return 0
    if args.format == "json":
        emit_json(diff_json(result, args.show_unchanged))
    elif args.format == "markdown":
        print(diff_markdown(result))
    else:
        print(diff_table(result, args.show_unchanged))
    failures = policy_failures(result, args.fail_above_usd, args.fail_above_percent)
    for failure in failures:
        note(f"policy: {failure}")
    return 1 if failures else 0


def policy_failures(result: CostDiff, above_usd: float | None,
                    above_percent: float | None) -> list[str]:
    delta = result.delta_monthly
    out: list[str] = []
    if above_usd is not None and delta > above_usd:
        out.append(f"monthly cost goes up by {_usd(delta)}, more than --fail-above-usd "
                   f"{_usd(above_usd)}")
    if above_percent is not None and delta > 0:
        percent = result.percent
        if percent is None or percent > above_percent:
            shown = "from $0" if percent is None else f"{percent:.1f}%"
            out.append(f"monthly cost goes up by {shown}, more than --fail-above-percent "
                       f"{above_percent:g}%")
    return out


def _load(args: argparse.Namespace, sides: Sequence[tuple[str, str]]) -> list[Loaded]:
    from llmplan.cost.reader import Loaded, read_folder
    from llmplan.terraform.plan_json import load_plan, looks_like_plan

    overrides = _variables(args.var)
    var_files = [Path(v) for v in args.var_file]
    for var_file in var_files:
        if not var_file.is_file():
            raise UsageError(f"--var-file {var_file}: no such file")
    plans: dict[str, Any] = {}
    out: list[Loaded] = []
    for name, which in sides:
        p = Path(name)
        if not p.exists():
            raise UsageError(f"{name}: no such file or folder")
        if looks_like_plan(p):
            if name not in plans:
                plans[name] = load_plan(p)
            out.append(Loaded(plans[name].side("before" if which == "before" else "after"),
                              label=f"{name} ({which})"))
        elif p.is_dir() or p.suffix == ".tf":
            out.append(read_folder(p, var_files, overrides))
        else:
            raise UsageError(f"{name}: give a Terraform folder, a .tf file or a plan .json")
    return out


def _variables(pairs: Sequence[str]) -> dict[str, Any]:
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--var {pair!r}: expected NAME=VALUE")
        try:
            out[name.strip()] = json.loads(value)
        except ValueError:
            out[name.strip()] = value
    return out


def _price(args: argparse.Namespace, loaded: Sequence[Loaded]) -> list[Breakdown]:
    from llmplan.catalog.pricing import load_catalogs
    from llmplan.commands.output import note
    from llmplan.cost.diff import Breakdown
    from llmplan.cost.pricing import PriceBook, cloud_of, price_resources

    clouds = sorted({cloud_of(r.type) for side in loaded for r in side.resources} - {""})
    priced = load_catalogs(clouds, args.pricing) if clouds else None
    book = PriceBook(priced.catalogs if priced else ())
    regions = _default_regions(args.region, book)
    for message in priced.notes if priced else ():
        note(message)
    return [Breakdown(price_resources(side.resources, book, regions), side.warnings, side.label)
            for side in loaded]


def _default_regions(values: Sequence[str], book: Any) -> dict[str, str]:
    from llmplan.cost.usage import normalize_region

    out: dict[str, str] = {}
    for value in values:
        cloud, sep, region = value.partition("=")
        if sep:
            cloud = cloud.strip().lower()
            if cloud not in ("aws", "gcp", "azure"):
                raise UsageError(f"--region {value}: cloud must be aws, gcp or azure")
            out[cloud] = normalize_region(cloud, region)
            continue
        owners = [c for c in ("aws", "gcp", "azure")
                  if normalize_region(c, value) in book.regions(c)]
        if not owners:
            raise UsageError(f"--region {value}: not a region of any loaded catalog; "
                             "write it as CLOUD=REGION")
        out[owners[0]] = normalize_region(owners[0], value)
    return out


# --- formatting helpers


# --- JSON


# --- tables


# --- Markdown (the pull-request comment)


