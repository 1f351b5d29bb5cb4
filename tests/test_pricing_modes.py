"""``--pricing auto|live|cache|snapshot`` and ``llmplan catalog``, end to end through the CLI.

The clouds are local fakes reached through the SDKs' endpoint settings; nothing of ours is mocked.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fakes.aws import FakeAWS
from fakes.azure import FakeAzure
from fakes.env import aws_credentials, isolate
from fakes.gcp import FakeGoogle

from llmplan.catalog.cache import cache_path, read_cache, write_cache
from llmplan.catalog.pricing import ProgressBar, load_catalogs
from llmplan.cli import main
from llmplan.providers.document import load_snapshot

ROOT = Path(__file__).resolve().parent.parent
PLAN = ["plan", "--model", "meta-llama/Llama-3.1-8B", "--context", "4096", "--concurrency", "4"]
SDKS = ("boto3", "botocore", "google", "azure", "grpc", "proto")


@pytest.fixture(autouse=True)
def _no_cloud_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@contextmanager
def fake_cloud(cloud: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """A fake of ``cloud`` serving the snapshot's types and regions, wired into the env."""
    snap = load_snapshot(cloud)
    types, regions = list(snap["instance_types"]), list(snap["regions"])
    od = {(r["instance_type"], r["region"]): r["hourly_usd"] for r in snap["prices"]
          if r["tier"] == "on-demand"}
    if cloud == "aws":
        aws_credentials(monkeypatch)
        with FakeAWS(types, regions, od) as server:
            monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", server.url)
            monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", server.url)
            yield server
    elif cloud == "azure":
        with FakeAzure(types, regions, od, specs=snap["instance_types"]) as server:
            monkeypatch.setenv("LLMPLAN_AZURE_PRICES_URL", server.prices_url)
            yield server
    else:
        with FakeGoogle(regions, snap["instance_types"]) as server:
            monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS",
                               str(server.service_account(tmp_path)))
            monkeypatch.setenv("LLMPLAN_GCP_BILLING_ENDPOINT", server.url)
            monkeypatch.setenv("LLMPLAN_GCP_COMPUTE_ENDPOINT", server.url)
            yield server


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_refresh_fills_the_cache_and_plan_uses_it(cloud: str, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with fake_cloud(cloud, monkeypatch, tmp_path):
        code, out, err = run(["catalog", "refresh", "--cloud", cloud], capsys)
    assert code == 0, err
    assert out == ""  # diagnostics go to stderr
    assert f"{cloud}: " in err and str(cache_path(cloud)) in err
    entry = read_cache(cloud)
    assert entry is not None and entry.document["source"] == "cache"
    code, out, err = run([*PLAN, "--clouds", cloud, "--pricing", "cache"], capsys)
    assert code == 0, err
    assert f"prices: {cloud} from the cache fetched" in err
    assert "cache 20" in out  # the price column names its source
    code, out, err = run(["catalog", "show", "--cloud", cloud, "--pricing", "cache",
                          "--format", "json"], capsys)
    shown = json.loads(out)
    assert code == 0 and shown["prices"]["source"] == "cache" and shown["offerings"]


def test_refresh_one_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    with fake_cloud("azure", monkeypatch, tmp_path):
        code, _out, err = run(["catalog", "refresh", "--cloud", "azure", "--region", "eastus"],
                              capsys)
    assert code == 0, err
    entry = read_cache("azure")
    assert entry is not None and set(entry.fetched) == {"eastus"}
    assert {r["region"] for r in entry.document["prices"]} == {"eastus"}


def test_snapshot_mode_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run([*PLAN, "--pricing", "snapshot"], capsys)
    assert code == 0
    for cloud in ("aws", "gcp", "azure"):
        assert f"prices: {cloud} from the embedded snapshot as of" in err


def test_cache_mode_without_a_cache_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([*PLAN, "--clouds", "aws", "--pricing", "cache"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: --pricing cache: no usable aws price")
    assert "llmplan catalog refresh --cloud aws" in err


def test_auto_uses_a_fresh_cache(capsys: pytest.CaptureFixture[str]) -> None:
    write_cache("gcp", load_snapshot("gcp"), datetime.now(timezone.utc) - timedelta(hours=3),
                list(load_snapshot("gcp")["regions"]))
    code, _out, err = run([*PLAN, "--clouds", "gcp"], capsys)
    assert code == 0
    assert "prices: gcp from the cache fetched" in err and "3 hours old" in err


def test_auto_skips_a_stale_cache_and_without_credentials_uses_the_snapshot(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    write_cache("aws", load_snapshot("aws"), datetime.now(timezone.utc) - timedelta(days=10),
                list(load_snapshot("aws")["regions"]))
    code, _out, err = run([*PLAN], capsys)
    assert code == 0
    assert "prices: aws from the embedded snapshot" in err
    assert "live not tried: no AWS credentials configured" in err
    assert "the cache is 10 days old (limit 7" in err
    assert "live not tried: auto fetches Azure live only with LLMPLAN_AZURE_LIVE=1" in err
    monkeypatch.setenv("LLMPLAN_CACHE_MAX_AGE_DAYS", "30")
    code, _out, err = run([*PLAN, "--clouds", "aws"], capsys)
    assert "prices: aws from the cache fetched" in err and "10 days old" in err


def test_auto_fetches_live_where_configured_and_caches_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LLMPLAN_AZURE_LIVE", "1")
    with fake_cloud("azure", monkeypatch, tmp_path):
        code, _out, err = run([*PLAN, "--clouds", "azure"], capsys)
    assert code == 0, err
    assert "prices: azure live from the cloud's APIs" in err and "cached in" in err
    assert read_cache("azure") is not None
    code, _out, err = run([*PLAN, "--clouds", "azure"], capsys)  # now the fresh cache
    assert "prices: azure from the cache fetched" in err


def test_auto_falls_back_to_the_snapshot_after_a_500(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    with fake_cloud("aws", monkeypatch, tmp_path) as server:
        server.fault("*", *["500"] * 50)
        code, _out, err = run([*PLAN, "--clouds", "aws"], capsys)
    assert code == 0
    lines = err.strip().splitlines()
    assert [line for line in lines if line.startswith("warning:")] == [
        next(line for line in lines if "500" in line)]
    assert "using the embedded snapshot" in err
    assert "prices: aws from the embedded snapshot" in err
    assert "Traceback" not in err
    assert read_cache("aws") is None  # a failed fetch never reaches the cache


def test_auto_with_an_unreachable_endpoint_falls_back(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    aws_credentials(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", "http://127.0.0.1:9")
    code, _out, err = run([*PLAN, "--clouds", "aws"], capsys)
    assert code == 0
    assert "warning: aws live prices unreachable" in err


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A local port whose accept queue is full: connections hang like a dropped SYN."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    held = []
    for _ in range(4):
        client = socket.socket()
        client.setblocking(False)
        with suppress(BlockingIOError):
            client.connect(("127.0.0.1", port))
        held.append(client)
    yield f"http://127.0.0.1:{port}"
    for client in held:
        client.close()
    server.close()


def test_auto_probes_all_clouds_at_once(black_hole: str, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    aws_credentials(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", black_hole)
    monkeypatch.setenv("LLMPLAN_AZURE_LIVE", "1")
    monkeypatch.setenv("LLMPLAN_AZURE_PRICES_URL", black_hole + "/api/retail/prices")
    code, _out, err = run(PLAN, capsys)
    assert code == 0
    # Both configured clouds fall back with one warning each. How long the shared probe takes is
    # measured in benchmarks/, not asserted here: a loaded CI machine would make it flaky.
    for cloud in ("aws", "azure"):
        lines = [line for line in err.splitlines()
                 if line.startswith(f"warning: {cloud}") or f"{cloud} live prices" in line]
        assert any("using the embedded snapshot" in line for line in lines), err


def test_live_mode_fails_with_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    with fake_cloud("azure", monkeypatch, tmp_path) as server:
        server.fault("prices", *["503"] * 10)
        code, out, err = run([*PLAN, "--clouds", "azure", "--pricing", "live"], capsys)
    assert code == 2 and out == ""
    assert err == ("error: azure: Retail Prices API for eastus: failed after 5 attempts: "
                   "HTTP 503 Service Unavailable\n")


def test_live_mode_without_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run([*PLAN, "--clouds", "aws", "--pricing", "live"], capsys)
    assert code == 2
    assert err.startswith("error: aws: no AWS credentials found") and err.count("\n") == 1


def test_live_mode_succeeds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    with fake_cloud("gcp", monkeypatch, tmp_path):
        code, out, err = run([*PLAN, "--clouds", "gcp", "--pricing", "live", "--format",
                              "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["prices"]["source"] == "live"
    assert read_cache("gcp") is not None


def test_refresh_reports_each_failure_and_carries_on(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with fake_cloud("azure", monkeypatch, tmp_path):
        code, _out, err = run(["catalog", "refresh", "--cloud", "aws,azure"], capsys)
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [next(line for line in err.splitlines() if "no AWS credentials" in line)]
    assert read_cache("azure") is not None and read_cache("aws") is None


def test_catalog_show_filters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(["catalog", "show", "--pricing", "snapshot", "--gpu", "H100",
                           "--region", "us-east-1", "--format", "json"], capsys)
    offerings = json.loads(out)["offerings"]
    assert code == 0 and offerings
    assert {o["gpu"] for o in offerings} == {"H100-80GB"}
    assert {o["region"] for o in offerings} == {"us-east-1"}
    code, out, _err = run(["catalog", "show", "--pricing", "snapshot", "--cloud", "azure"],
                          capsys)
    assert code == 0 and "Standard_ND96isr_H100_v5" in out and "on-demand $/h" in out


def test_catalog_without_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(["catalog"], capsys)
    assert code == 2 and "refresh or show" in err


def test_load_catalogs_rejects_an_unknown_mode() -> None:
    from llmplan.errors import UsageError

    with pytest.raises(UsageError, match="--pricing"):
        load_catalogs(["aws"], "sometimes")


def test_progress_bar_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar(stream)
        bar("aws us-east-1", 1, 4)
        bar.close()
    assert "[#######" in tty.getvalue() and "1/4" in tty.getvalue()
    assert pipe.getvalue() == ""


def _modules_after(argv: list[str], env: dict[str, str]) -> list[str]:
    code = (f"import sys\nfrom llmplan.cli import main\nrc = main({argv!r})\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r}))\n"
            "raise SystemExit(rc)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"')))


def test_no_cloud_sdk_is_imported_unless_live_prices_are_used(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GOOGLE_", "AZURE_"))}
    env.update({"LLMPLAN_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path),
                "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"), "PYTHONPATH": str(ROOT / "tests")})
    assert _modules_after([*PLAN, "--format", "json"], env) == []
    assert _modules_after(["catalog", "show", "--pricing", "snapshot"], env) == []
    # Credentials configured but the endpoint does not answer: still no SDK import.
    env.update({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
                "AWS_ENDPOINT_URL_PRICING": "http://127.0.0.1:9"})
    assert _modules_after([*PLAN, "--clouds", "aws"], env) == []


def test_rebuild_snapshot_script_merges_a_refresh(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("rebuild_snapshot",
                                                  ROOT / "scripts" / "rebuild_snapshot.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with fake_cloud("azure", monkeypatch, tmp_path):
        assert main(["catalog", "refresh", "--cloud", "azure", "--region", "eastus"]) == 0
    out = tmp_path / "azure.json"
    assert script.main(["--cloud", "azure", "--from-cache", "--output", str(out)]) == 0
    old, new = load_snapshot("azure"), json.loads(out.read_text())
    assert new["source"] == "snapshot" and "cache" not in new
    live_keys = {(r["instance_type"], r["region"], r["tier"]) for r in new["prices"]
                 if r["source"].startswith("azure-retail-prices-")}
    assert live_keys and {k[1] for k in live_keys} == {"eastus"}
    # Rows the refresh did not cover keep their own source and date.
    kept = [r for r in old["prices"] if r["region"] != "eastus"]
    assert kept and all(r in new["prices"] for r in kept)
    # A tier that now has a live price is no longer listed as unpriced.
    assert not live_keys & {(r["instance_type"], r["region"], r["tier"])
                            for r in new["unpriced"]}
    from llmplan.providers.document import catalog_from_document

    assert catalog_from_document(new, "azure").offerings
    assert load_snapshot("azure") == old  # the checked-in snapshot was not touched


def test_an_sdk_surprise_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    aws_credentials(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", "not a url")  # botocore rejects it
    code, _out, err = run([*PLAN, "--clouds", "aws", "--pricing", "live"], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: aws: live prices failed")
