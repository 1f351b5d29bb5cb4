"""The node check of ``generate --verify`` (``llmplan.verify.node``): the same KV-cache figures as
``llmplan verify`` for every engine format, its verdicts, and where it records them (a JSON file,
the boot log, EC2 tags through the aws CLI and IMDSv2, GCE guest attributes)."""

from __future__ import annotations

import ast
import json
import socket
import sys
from pathlib import Path

import pytest
from fakes.engine import FakeEngine
from fakes.metadata import TOKEN, FakeMetadata

from llmplan.verify import capacity, node
from llmplan.verify.client import Endpoint

NODE_SOURCE = Path(node.__file__).read_text(encoding="utf-8")
VARIANTS = [("vllm", "current", 1), ("vllm", "current", 2), ("vllm", "legacy", 1),
            ("sglang", "current", 1), ("sglang", "current", 2), ("sglang", "legacy", 2),
            ("tgi", "current", 1), ("tgi", "legacy", 1)]


@pytest.mark.parametrize(("engine", "version", "dp"), VARIANTS)
def test_node_reads_the_same_kv_figures_as_llmplan_verify(engine: str, version: str,
                                                          dp: int) -> None:
    with FakeEngine(engine, version=version, dp=dp, kv_tokens=123_456) as fake:
        tokens, _source = node.kv_tokens(engine, fake.url)
        figures = capacity.read_figures(engine, Endpoint(fake.url).get)
    assert tokens == [r.kv_tokens for r in figures.replicas]
    assert len(tokens) == (dp if engine != "tgi" else 1)


def test_node_script_is_self_contained_and_safe_to_embed() -> None:
    tree = ast.parse(NODE_SOURCE)
    for item in ast.walk(tree):
        if isinstance(item, ast.ImportFrom):
            assert item.level == 0 and item.module in sys.stdlib_module_names, item.module
        elif isinstance(item, ast.Import):
            assert all(a.name.split(".")[0] in sys.stdlib_module_names for a in item.names)
    # Checkov's HCL reader checks heredocs inside function calls (AWS user_data, Azure
    # custom_data) line by line for balanced double quotes and C comment openers.
    for number, line in enumerate(NODE_SOURCE.splitlines(), 1):
        assert line.replace('\\"', "").count('"') % 2 == 0, f"line {number}: {line}"
        assert "/*" not in line, f"line {number}"
    assert "${" not in NODE_SOURCE and "%{" not in NODE_SOURCE


def _args(tmp_path: Path, port: int, kv: int, *extra: str) -> list[str]:
    return ["--engine", "vllm", "--ports", str(port), "--context", "8192", "--kv-tokens",
            str(kv), "--demand", "8", "--wait", "5", "--out", str(tmp_path / "verify.json"),
            "--log", str(tmp_path / "boot.log"), *extra]


def test_pass_is_recorded_in_the_file_and_the_log(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with FakeEngine(kv_tokens=98_000) as fake:
        assert node.main(_args(tmp_path, fake.port, 100_000)) == 0
    report = json.loads((tmp_path / "verify.json").read_text())
    assert report["status"] == "pass"
    assert report["ports"][0]["kv_tokens"] == 98_000
    assert report["ports"][0]["deviation"] == pytest.approx(-0.02)
    log = (tmp_path / "boot.log").read_text()
    assert log.startswith("llmplan verify (capacity): PASS\n")
    assert "98,000 KV-cache tokens per replica vs 100,000 planned (-2.0%)" in log
    assert capsys.readouterr().out == log


@pytest.mark.parametrize(("kv", "demand", "status", "code"), [
    (80_000, "8", "fail", 1),  # 20% short of the plan
    (100_000, "13", "fail", 1),  # holds 12.2 requests of 8,192, the workload puts 13
    (130_000, "8", "warn", 0),  # more than planned
])
def test_verdicts(tmp_path: Path, kv: int, demand: str, status: str, code: int) -> None:
    with FakeEngine(kv_tokens=kv) as fake:
        args = _args(tmp_path, fake.port, 100_000)
        args[args.index("--demand") + 1] = demand
        assert node.main(args) == code
    assert json.loads((tmp_path / "verify.json").read_text())["status"] == status


def test_no_metrics_is_a_skip_and_an_engine_that_never_answers_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeEngine(metrics=False) as fake:
        assert node.main(_args(tmp_path, fake.port, 100_000)) == 0
    assert json.loads((tmp_path / "verify.json").read_text())["status"] == "skip"
    monkeypatch.setattr(node, "POLL_S", 0.05)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    args = _args(tmp_path, closed, 100_000)
    args[args.index("--wait") + 1] = "0.3"
    assert node.main(args) == 1
    report = json.loads((tmp_path / "verify.json").read_text())
    assert report["ports"][0]["summary"] == "engine never healthy"


def test_several_ports_each_checked(tmp_path: Path) -> None:
    with FakeEngine("tgi", kv_tokens=100_000) as a, FakeEngine("tgi", kv_tokens=50_000) as b:
        args = _args(tmp_path, a.port, 100_000, "--engine", "tgi")
        args[args.index("--ports") + 1] = f"{a.port},{b.port}"
        assert node.main(args) == 1
    ports = json.loads((tmp_path / "verify.json").read_text())["ports"]
    assert [p["status"] for p in ports] == ["pass", "fail"]


def _fake_aws(tmp_path: Path) -> Path:
    """An ``aws`` executable that records its arguments, first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "aws-calls.jsonl"
    script = bin_dir / "aws"
    script.write_text(f"#!{sys.executable}\nimport json, sys\n"
                      f"open({str(record)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    script.chmod(0o755)
    return record


def test_aws_tags_the_instance_through_imdsv2_and_the_cli(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = _fake_aws(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    with FakeEngine(kv_tokens=99_000) as fake, FakeMetadata(region="eu-west-1") as imds:
        monkeypatch.setattr(node, "AWS_IMDS", imds.url)
        assert node.main(_args(tmp_path, fake.port, 100_000, "--cloud", "aws")) == 0
    (call,) = [json.loads(line) for line in record.read_text().splitlines()]
    assert call[:6] == ["ec2", "create-tags", "--region", "eu-west-1", "--resources",
                        "i-0123456789abcdef0"]
    tags = {t["Key"]: t["Value"] for t in json.loads(call[call.index("--tags") + 1])}
    assert tags["llmplan-verify"] == "pass"
    assert tags["llmplan-verify-kv-tokens"] == "engine 99000 plan 100000"
    assert set(tags) == {"llmplan-verify", "llmplan-verify-at", "llmplan-verify-kv-tokens"}
    token_calls = [c for c in imds.calls if c[1] == "/latest/api/token"]
    assert token_calls and token_calls[0][0] == "PUT"
    assert all(c[2].get("x-aws-ec2-metadata-token") == TOKEN for c in imds.calls
               if c[1].startswith("/latest/meta-data/"))
    report = json.loads((tmp_path / "verify.json").read_text())
    assert report["published"] == "EC2 tags llmplan-verify*"


def test_aws_without_the_cli_still_records_locally(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with FakeEngine(kv_tokens=100_000) as fake:
        assert node.main(_args(tmp_path, fake.port, 100_000, "--cloud", "aws")) == 0
    report = json.loads((tmp_path / "verify.json").read_text())
    assert report["status"] == "pass"
    assert report["published"] == "not published: no aws CLI on this image"


def test_gcp_writes_guest_attributes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeEngine(kv_tokens=70_000) as fake, FakeMetadata() as metadata:
        monkeypatch.setattr(node, "GCE_METADATA", metadata.url)
        assert node.main(_args(tmp_path, fake.port, 100_000, "--cloud", "gcp")) == 1
    attributes = metadata.guest_attributes
    assert attributes["llmplan/verify"] == "fail"
    assert attributes["llmplan/verify-kv-tokens"] == "engine 70000 plan 100000"
    assert set(attributes) == {"llmplan/verify", "llmplan/verify-at",
                               "llmplan/verify-kv-tokens"}


def test_azure_records_locally_and_says_why_not_on_the_vm(tmp_path: Path) -> None:
    with FakeEngine(kv_tokens=100_000) as fake:
        assert node.main(_args(tmp_path, fake.port, 100_000, "--cloud", "azure")) == 0
    report = json.loads((tmp_path / "verify.json").read_text())
    assert report["published"] == "not published on the instance (log and file only)"
