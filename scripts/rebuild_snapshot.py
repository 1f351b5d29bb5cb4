#!/usr/bin/env python3
"""Rebuild the embedded price snapshot ``providers/data/<cloud>.json`` from a live refresh.

For maintainers, on a machine with internet and the cloud's credentials::

    python scripts/rebuild_snapshot.py --cloud azure              # fetch live, rewrite the file
    python scripts/rebuild_snapshot.py --cloud aws --from-cache   # from catalog refresh's cache
    python scripts/rebuild_snapshot.py --cloud gcp --output /tmp/gcp.json --region us-central1

The live rows replace the snapshot's rows for the same instance type, region and tier; every other
row keeps its own source and date, so the file still says where each number came from. Curated
spec fields (GPU model, interconnect, fast network, family) are kept; the live APIs only update
what they measure (vCPUs, memory, GPU count). Unpriced rows that now have a price are dropped,
as are GCP parts rows for a region and tier that now has whole-machine rows, and sources no row
cites any more. The result is checked with the same loader the CLI uses before it is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIVE_SPEC_FIELDS = ("vcpus", "memory_gib", "gpu_count", "gpu_memory_mib_reported")


def _key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    return (row["instance_type"], row["region"], row["tier"])


def merge_snapshot(snapshot: Mapping[str, Any], live: Mapping[str, Any],
                   today: str | None = None) -> dict[str, Any]:
    """The snapshot with ``live``'s rows folded in (both in the catalog document format)."""
    day = today or date.today().isoformat()
    out = json.loads(json.dumps(snapshot))
    live_rows = [{k: v for k, v in r.items()} for r in live.get("prices", [])]
    fresh = {_key(r) for r in live_rows}
    out["prices"] = [r for r in out.get("prices", []) if _key(r) not in fresh] + live_rows
    out["unpriced"] = [r for r in out.get("unpriced", []) if _key(r) not in fresh]
    out["unpriced"] += [r for r in live.get("unpriced", [])
                        if _key(r) not in {_key(u) for u in out["unpriced"]}
                        and _key(r) not in {_key(p) for p in out["prices"]}]
    if out.get("components"):
        covered = {(r["region"], r["tier"]) for r in live_rows}
        out["components"] = [c for c in out["components"]
                             if (c["region"], c["tier"]) not in covered]
    for itype, spec in live.get("instance_types", {}).items():
        if itype in out["instance_types"]:
            mine = out["instance_types"][itype]
            mine.update({k: spec[k] for k in LIVE_SPEC_FIELDS if k in spec})
        else:
            out["instance_types"][itype] = dict(spec)
    for region, info in live.get("regions", {}).items():
        out["regions"].setdefault(region, info)
    sources = {**out.get("sources", {}), **live.get("sources", {})}
    cited = {r.get("source") for key in ("prices", "components") for r in out.get(key) or []}
    cited |= {s.get("source") for s in out["instance_types"].values()}
    out["sources"] = {k: v for k, v in sources.items() if k in cited}
    out["source"] = "snapshot"
    out["as_of"] = day
    note = (f"Rebuilt {day} from a live refresh ({live.get('as_of')}) by "
            f"scripts/rebuild_snapshot.py: {len(live_rows)} rows replaced; the others keep "
            "their own source and date.")
    notes = out.get("notes")
    out["notes"] = (notes + [note] if isinstance(notes, list)
                    else f"{notes} {note}".strip() if notes else note)
    out.pop("cache", None)
    return dict(out)


def check(document: Mapping[str, Any], cloud: str) -> None:
    from llmplan.providers.document import catalog_from_document, validate_document

    problems = validate_document(document, cloud)
    if problems:
        raise SystemExit(f"rebuilt {cloud} snapshot is not valid: {problems[0]}")
    catalog_from_document(document, cloud)


def write(document: Mapping[str, Any], path: Path) -> None:
    # Same layout as the checked-in files (one-space indent) so diffs stay readable.
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cloud", required=True, choices=("aws", "gcp", "azure"))
    parser.add_argument("--region", action="append", default=[],
                        help="regions to refresh (default: the snapshot's)")
    parser.add_argument("--from-cache", action="store_true",
                        help="use the local cache written by `llmplan catalog refresh`")
    parser.add_argument("--output", type=Path,
                        help="where to write (default providers/data/<cloud>.json)")
    parser.add_argument("--snapshot", type=Path,
                        help="snapshot to start from (default providers/data/<cloud>.json)")
    args = parser.parse_args(argv)
    from llmplan.catalog.cache import read_cache
    from llmplan.catalog.plugins import get_provider
    from llmplan.errors import LlmplanError

    default = ROOT / "providers" / "data" / f"{args.cloud}.json"
    snapshot = json.loads((args.snapshot or default).read_text(encoding="utf-8"))
    try:
        if args.from_cache:
            entry = read_cache(args.cloud, lambda m: print(f"warning: {m}", file=sys.stderr))
            if entry is None:
                raise LlmplanError(f"no usable {args.cloud} cache; run llmplan catalog refresh")
            live: Mapping[str, Any] = entry.document
        else:
            provider: Any = get_provider(args.cloud)
            live = provider.fetch_live([r for item in args.region for r in item.split(",")])
    except LlmplanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rebuilt = merge_snapshot(snapshot, live)
    check(rebuilt, args.cloud)
    target = args.output or default
    write(rebuilt, target)
    print(f"{args.cloud}: {len(live.get('prices', []))} live rows merged into {target} "
          f"({len(rebuilt['prices'])} price rows)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
