"""``llmplan catalog``: refresh live prices into the local cache, and show the offerings.

``catalog refresh [--cloud C] [--region R] [--instance-type T]`` fetches each cloud's live prices
and writes its cache file; a cloud that fails is one error line and exit 2, the others still
refresh. ``catalog show`` lists offerings with their prices per tier from the prices
``--pricing`` selects (default auto, the same as ``plan``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llmplan.commands.output import emit_json, note

REFRESH_EPILOG = """\
credentials: each SDK's own chain (AWS: environment, ~/.aws, SSO, instance role; GCP:
Application Default Credentials; Azure prices need none, AZURE_SUBSCRIPTION_ID adds region
availability through azure-identity).
cache: $LLMPLAN_CACHE_DIR, else $XDG_CACHE_HOME/llmplan, else ~/.cache/llmplan; one file per
cloud. `--pricing auto` uses it while younger than LLMPLAN_CACHE_MAX_AGE_DAYS (default 7).
endpoints: AWS_ENDPOINT_URL_PRICING, AWS_ENDPOINT_URL_EC2, LLMPLAN_AZURE_PRICES_URL,
LLMPLAN_AZURE_ARM_ENDPOINT, LLMPLAN_GCP_BILLING_ENDPOINT, LLMPLAN_GCP_COMPUTE_ENDPOINT.
"""
TIER_COLUMNS = (("on-demand", "on-demand"), ("spot", "spot"), ("reserved-1y", "1y"),
                ("reserved-3y", "3y"))


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from llmplan.vocabulary import PRICING_MODES

    subs = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    refresh = subs.add_parser("refresh", help="fetch live prices into the local cache",
                              description="fetch live prices into the local cache",
                              epilog=REFRESH_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    refresh.add_argument("--cloud", action="append", metavar="CLOUD",
                         help="cloud(s) to refresh, repeatable or comma-separated (default all)")
    refresh.add_argument("--region", action="append", metavar="REGION",
                         help="region(s) to fetch (default: the embedded catalog's regions)")
    refresh.add_argument("--instance-type", action="append", metavar="TYPE",
                         help="instance type(s) to fetch (default: the embedded catalog's)")
    show = subs.add_parser("show", help="list offerings and prices",
                           description="list offerings and their prices per tier")
    show.add_argument("--cloud", action="append", metavar="CLOUD")
    show.add_argument("--region", action="append", metavar="REGION")
    show.add_argument("--gpu", action="append", metavar="GPU", help="GPU model(s), e.g. H100")
    show.add_argument("--pricing", choices=PRICING_MODES, default="auto",
                      help="where prices come from (default auto)")
    show.add_argument("--format", choices=("table", "json"), default="table")


def run(args: argparse.Namespace) -> int:
    from llmplan.errors import UsageError

    if args.action == "refresh":
        return _refresh(args)
    if args.action == "show":
        return _show(args)
    raise UsageError("catalog: choose an action: refresh or show")


def _refresh(args: argparse.Namespace) -> int:
    from llmplan.catalog.pricing import ProgressBar, refresh, select_clouds
    from llmplan.errors import LlmplanError

    clouds = select_clouds(_split(args.cloud))
    regions = _split(args.region)
    types = _split(args.instance_type)
    failed = 0
    for cloud in clouds:
        bar = ProgressBar()
        try:
            document, path = refresh(cloud, regions, types, bar)
        except LlmplanError as exc:
            bar.close()
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        bar.close()
        fetched_regions = sorted({r["region"] for r in document["prices"]})
        note(f"{cloud}: {len(document['prices'])} prices for "
             f"{len(document['instance_types'])} instance types in {len(fetched_regions)} "
             f"regions, fetched {document['as_of']} -> {path}")
    return 2 if failed else 0


def _show(args: argparse.Namespace) -> int:
    from llmplan.catalog.pricing import load_catalogs, select_clouds
    from llmplan.gpus import canonical_gpu_name, get_gpu
    from llmplan.tables import table

    clouds = select_clouds(_split(args.cloud))
    regions = _split(args.region)
    gpus = set()
    for name in _split(args.gpu):
        canonical = canonical_gpu_name(name)
        if canonical is None and not any(
                g.lower().startswith(name.lower()) for g in _known_gpu_names()):
            get_gpu(name)  # one line with a did-you-mean, exit 2
        gpus.add((canonical or name).lower())
    priced = load_catalogs(clouds, args.pricing, regions)
    for line in priced.notes:
        note(line)
    offerings = [o for c in priced.catalogs for o in c.offerings
                 if (not regions or o.region in regions)
                 and (not gpus or o.gpu.lower() in gpus or
                      any(o.gpu.lower().startswith(g) for g in gpus))]
    if args.format == "json":
        emit_json({"prices": priced.summary(), "offerings": [_json(o) for o in offerings]})
        return 0
    headers = ("cloud", "region", "instance", "GPUs", "GPU GiB", "vCPU", "RAM GiB",
               *(label + " $/h" for _tier, label in TIER_COLUMNS), "as of")
    rows = []
    for o in offerings:
        cells = [o.cloud, o.region, o.instance_type, f"{o.gpu_count}x {o.gpu}",
                 f"{o.gpu_memory_gib:g}", o.vcpus, f"{o.memory_gib:g}"]
        for tier, _label in TIER_COLUMNS:
            price = o.price(tier)
            cells.append(f"{price.hourly_usd:,.4f}" if price else "-")
        dates = sorted({p.as_of for p in o.prices.values()})
        cells.append(dates[0] if dates else "-")
        rows.append(cells)
    print(table(headers, rows, right={4, 5, 6, 7, 8, 9, 10}))
    return 0


def _json(o: Any) -> dict[str, Any]:
    return {
        "cloud": o.cloud, "region": o.region, "instance_type": o.instance_type, "gpu": o.gpu,
        "gpu_count": o.gpu_count, "gpu_memory_gib": o.gpu_memory_gib, "vcpus": o.vcpus,
        "memory_gib": o.memory_gib, "interconnect": o.interconnect,
        "fast_network": o.fast_network,
        "prices": {tier: {"hourly_usd": p.hourly_usd, "source": p.source, "as_of": p.as_of,
                          "origin": p.origin} for tier, p in o.prices.items()},
        "unpriced": dict(o.unpriced),
    }


def _known_gpu_names() -> list[str]:
    from llmplan.gpus import gpu_names

    return gpu_names()
