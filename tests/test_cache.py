"""The local price cache: where it lives, atomic writes, merging regions, rejecting bad files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from llmplan.catalog.cache import (
    cache_dir,
    cache_path,
    describe_age,
    max_age_days,
    read_cache,
    write_cache,
)
from llmplan.catalog.plugins import get_provider
from llmplan.errors import UsageError
from llmplan.providers.document import catalog_from_document, load_snapshot

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def live_doc(cloud: str = "aws", regions: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A live-shaped document: the snapshot's rows for ``regions``, marked live."""
    doc = load_snapshot(cloud)
    keep = set(regions or doc["regions"])
    doc["source"] = "live"
    doc["as_of"] = "2026-11-22T12:00:00Z"
    for key in ("prices", "unpriced", "components"):
        if key in doc:
            doc[key] = [r for r in doc[key] if r["region"] in keep]
    doc["regions"] = {r: v for r, v in doc["regions"].items() if r in keep}
    return doc


def warnings() -> tuple[list[str], Any]:
    seen: list[str] = []
    return seen, seen.append


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMPLAN_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("LLMPLAN_CACHE_DIR")
    assert cache_dir() == tmp_path / "xdg" / "llmplan"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")  # the XDG spec says so
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "llmplan"
    assert cache_path("gcp").name == "gcp.json"


def test_round_trip_keeps_the_format_and_fetch_time() -> None:
    path = write_cache("aws", live_doc(), NOW, ["us-east-1", "us-west-2"])
    entry = read_cache("aws")
    assert entry is not None and entry.path == path
    assert entry.document["source"] == "cache"
    assert entry.oldest == NOW
    catalog = get_provider("aws").catalog(entry.document)
    assert catalog.source == "cache" and catalog.offerings
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_snapshot_and_cache_share_one_format(cloud: str) -> None:
    """The embedded snapshot, written as a cache and read back, loads through the same loader."""
    snapshot = load_snapshot(cloud)
    write_cache(cloud, snapshot, NOW, list(snapshot["regions"]))
    entry = read_cache(cloud)
    assert entry is not None
    from_snapshot = catalog_from_document(snapshot, cloud)
    from_cache = catalog_from_document(entry.document, cloud)
    assert from_cache.source == "cache" and from_snapshot.source == "snapshot"

    def key(catalog: Any) -> list[tuple[Any, ...]]:
        return sorted((o.instance_type, o.region, o.gpu, o.gpu_count,
                       tuple(sorted((t, p.hourly_usd) for t, p in o.prices.items())))
                      for o in catalog.offerings)
    assert key(from_snapshot) == key(from_cache)


def test_refreshing_one_region_keeps_the_others() -> None:
    write_cache("aws", live_doc(regions=("us-east-1", "us-west-2")), NOW - timedelta(days=2),
                ["us-east-1", "us-west-2"])
    newer = live_doc(regions=("us-east-1",))
    for row in newer["prices"]:
        row["hourly_usd"] = 1.23
    write_cache("aws", newer, NOW, ["us-east-1"])
    entry = read_cache("aws")
    assert entry is not None
    assert entry.fetched == {"us-east-1": NOW, "us-west-2": NOW - timedelta(days=2)}
    assert entry.oldest == NOW - timedelta(days=2)
    east = {r["hourly_usd"] for r in entry.document["prices"] if r["region"] == "us-east-1"}
    west = [r for r in entry.document["prices"] if r["region"] == "us-west-2"]
    assert east == {1.23} and west and all(r["hourly_usd"] != 1.23 for r in west)


def test_freshness_and_region_coverage(monkeypatch: pytest.MonkeyPatch) -> None:
    write_cache("aws", live_doc(regions=("us-east-1",)), datetime.now(timezone.utc)
                - timedelta(days=3), ["us-east-1"])
    entry = read_cache("aws")
    assert entry is not None
    assert entry.is_fresh()
    assert not entry.is_fresh(["us-west-2"])
    monkeypatch.setenv("LLMPLAN_CACHE_MAX_AGE_DAYS", "2")
    assert not entry.is_fresh()
    monkeypatch.setenv("LLMPLAN_CACHE_MAX_AGE_DAYS", "soon")
    with pytest.raises(UsageError, match="LLMPLAN_CACHE_MAX_AGE_DAYS"):
        max_age_days()


def test_missing_cache_is_silent() -> None:
    seen, warn = warnings()
    assert read_cache("aws", warn) is None and seen == []


@pytest.mark.parametrize("damage, reason", [
    (lambda text: text[: len(text) // 2], "not valid JSON"),
    (lambda text: "", "not valid JSON"),
    (lambda text: text.replace('"hourly_usd": 1.006', '"hourly_usd": 0.5', 1), "checksum"),
    (lambda text: text.replace('"complete": true', '"complete": false'), "incomplete"),
    (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "cache"}),
     "no cache block"),
    (lambda text: "[1, 2]", "not a JSON object"),
])
def test_corrupt_or_partial_cache_is_ignored_with_a_warning(damage: Any, reason: str) -> None:
    path = write_cache("aws", live_doc(), NOW, ["us-east-1"])
    path.write_text(damage(path.read_text()))
    seen, warn = warnings()
    assert read_cache("aws", warn) is None
    assert len(seen) == 1 and reason in seen[0] and str(path) in seen[0]


def test_invalid_document_is_rejected_even_with_a_good_checksum() -> None:
    doc = live_doc()
    doc["prices"][0]["hourly_usd"] = 0.0  # a $0.00 price is never a price
    write_cache("aws", doc, NOW, ["us-east-1"])
    seen, warn = warnings()
    assert read_cache("aws", warn) is None
    assert "hourly_usd 0.0 is not a positive number" in seen[0]


def test_a_failed_write_leaves_the_old_cache() -> None:
    write_cache("aws", live_doc(), NOW, ["us-east-1"])
    bad = live_doc()
    bad["prices"][0]["hourly_usd"] = object()  # cannot be serialised
    with pytest.raises(TypeError):
        write_cache("aws", bad, NOW, ["us-east-1"])
    assert read_cache("aws") is not None
    assert not [p for p in cache_dir().iterdir() if p.name.endswith(".tmp")]


def test_describe_age() -> None:
    assert describe_age(NOW - timedelta(seconds=30), NOW) == "just now"
    assert describe_age(NOW - timedelta(minutes=30), NOW) == "30 minutes old"
    assert describe_age(NOW - timedelta(hours=5), NOW) == "5 hours old"
    assert describe_age(NOW - timedelta(days=9), NOW) == "9 days old"


def test_refreshing_some_types_keeps_the_other_types() -> None:
    write_cache("aws", live_doc(regions=("us-east-1",)), NOW - timedelta(days=1), ["us-east-1"])
    partial = live_doc(regions=("us-east-1",))
    partial["prices"] = [dict(r, hourly_usd=9.99) for r in partial["prices"]
                         if r["instance_type"] == "g5.xlarge"]
    partial["unpriced"] = []
    write_cache("aws", partial, NOW, ["us-east-1"], instance_types=["g5.xlarge"])
    entry = read_cache("aws")
    assert entry is not None
    g5 = {r["hourly_usd"] for r in entry.document["prices"] if r["instance_type"] == "g5.xlarge"}
    others = [r for r in entry.document["prices"] if r["instance_type"] != "g5.xlarge"]
    assert g5 == {9.99} and others
    assert entry.fetched["us-east-1"] == NOW - timedelta(days=1)  # as old as its oldest rows
