"""``generate --verify``: the boot script's post-start capacity check, its golden renders, what it
adds per cloud (an IAM statement on AWS, guest attributes on GCP), and that the script the node
receives is ``llmplan.verify.node`` byte for byte and runs against an engine."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest
from fakes.engine import FakeEngine
from generate_cases import CASES, Case, attribute_paths, candidate, resources, workload

from llmplan.render.deployment import Deployment, deployment
from llmplan.render.terraform import render
from llmplan.verify import node

GOLDEN = Path(__file__).parent / "golden" / "verify"
SCHEMA = Path(__file__).parent / "fixtures" / "provider_schema"
UPDATE = os.environ.get("LLMPLAN_UPDATE_GOLDEN") == "1"
IDS = [c.id for c in CASES]
# One per cloud: an autoscaling group (AWS), two TGI containers on one VM (GCP), a multi-node
# scale set whose nodes find their rank at boot (Azure).
GOLDEN_CASES = ["aws-replicas-vllm-spot", "gcp-single-tgi-reserved-1y",
                "azure-multinode-sglang-spot"]
AWS_USER_DATA_LIMIT = 16 * 1024  # bytes, before base64 (EC2 user data)
NODE_SOURCE = Path(node.__file__).read_text(encoding="utf-8")
_HEREDOC = re.compile(r"<<(EOT\d*)\n(.*?)\n\1$", re.S | re.M)
_NODE_FILE = re.compile(r"cat > /opt/llmplan/verify_node.py <<'LLMPLAN_VERIFY_PY'\n(.*?)\n"
                        r"LLMPLAN_VERIFY_PY\n", re.S)


def _deploy(case: Case, verify: bool = True) -> Deployment:
    return deployment(candidate(case), workload(case), case.model, verify=verify)


def _case(case_id: str) -> Case:
    return next(c for c in CASES if c.id == case_id)


def _unescape(template_text: str) -> str:
    """What Terraform makes of a heredoc or templatefile() body without interpolations."""
    return template_text.replace("$${", "${").replace("%%{", "%{")


def _boot_scripts(main_tf: str) -> list[str]:
    return [_unescape(m.group(2)) for m in _HEREDOC.finditer(main_tf)]


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"missing golden {path}; run with LLMPLAN_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from its golden file; if the change is intended, rerun with "
        "LLMPLAN_UPDATE_GOLDEN=1 and review the diff")


@pytest.mark.parametrize("case_id", GOLDEN_CASES)
def test_golden_main_tf_with_verify(case_id: str) -> None:
    _check_golden(f"{case_id}.tf", render(_deploy(_case(case_id)), "inline").main_tf)


def test_golden_module_with_verify() -> None:
    files = render(_deploy(_case("aws-replicas-vllm-spot")), "module").files
    for name in ("main.tf", "boot.sh.tftpl", "README.md"):
        _check_golden(f"module-aws-replicas-vllm-spot/{name}", files[name])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_without_verify_nothing_is_added(case: Case) -> None:
    files = render(_deploy(case, verify=False), "module").files
    text = "\n".join(files.values())
    for marker in ("llmplan-verify", "verify_node", "enable-guest-attributes",
                   "tag-own-verify-result", "generate --verify"):
        assert marker not in text


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_verify_render_parses_and_uses_only_schema_attributes(case: Case) -> None:
    schemas: dict[str, dict[str, set[str]]] = {}
    for path in SCHEMA.glob("*.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for kind, key in (("resource", "resources"), ("data", "data_sources")):
            for rtype, names in doc[key].items():
                schemas.setdefault(kind, {})[rtype] = set(names)
    main_tf = render(_deploy(case), "inline").main_tf
    doc = hcl2.loads(main_tf)
    for kind, rtype, name, body in resources(doc):
        unknown = attribute_paths(body) - schemas[kind][rtype]
        assert not unknown, f"{kind} {rtype}.{name} uses {sorted(unknown)}"
    kinds = {(kind, rtype, name) for kind, rtype, name, _ in resources(doc)}
    if case.cloud == "aws":
        assert ("resource", "aws_iam_role_policy", "verify") in kinds
        for script in _boot_scripts(main_tf):
            assert len(script.encode()) < AWS_USER_DATA_LIMIT, "EC2 user data over 16 KiB"
    if case.cloud == "gcp":
        assert 'enable-guest-attributes = "TRUE"' in main_tf


def test_aws_policy_lets_nodes_write_only_their_verify_tags() -> None:
    doc = hcl2.loads(render(_deploy(_case("aws-single-vllm-on-demand")), "inline").main_tf)
    (policy,) = [b for k, t, n, b in resources(doc) if t == "aws_iam_policy_document"
                 and n == "verify"]
    (statement,) = policy["statement"]
    assert statement["actions"] == ['"ec2:CreateTags"']
    assert statement["resources"] == [
        '"arn:${data.aws_partition.current.partition}:ec2:${var.region}:*:instance/*"']
    conditions = {c["variable"].strip('"'): (c["test"].strip('"'), c["values"])
                  for c in statement["condition"]}
    assert conditions["aws:TagKeys"] == ("ForAllValues:StringLike", ['"llmplan-verify*"'])
    assert conditions["aws:ResourceTag/llmplan-model"][0] == "StringEquals"
    assert conditions["ec2:SourceInstanceARN"] == ("Null", ['"false"'])


@pytest.mark.parametrize("mode", ["inline", "module"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_node_receives_the_verify_module_verbatim(case: Case, mode: str) -> None:
    files = render(_deploy(case), mode).files  # type: ignore[arg-type]
    if mode == "module":
        scripts = [_unescape(files["boot.sh.tftpl"])]
    else:
        scripts = _boot_scripts(files["main.tf"])
    for script in scripts:
        (body,) = _NODE_FILE.findall(script)
        assert body == NODE_SOURCE.rstrip("\n")
        # Only the head (rank 0) checks: it is where the engine's API listens.
        head = script.split("# generate --verify:", 1)[1]
        assert 'if [ "$NODE_RANK" = "0" ]; then' in head


def _systemd_args(script: str) -> list[str]:
    line = script.split("python3 /opt/llmplan/verify_node.py ", 1)[1].split(" \\\n", 1)[0]
    return shlex.split(line)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_check_gets_the_plans_figures(case: Case) -> None:
    dep = _deploy(case)
    script = _boot_scripts(render(dep, "inline").main_tf)[0]
    args = _systemd_args(script)
    value = {args[i]: args[i + 1] for i in range(0, len(args) - 1, 2)}
    assert value["--engine"] == case.engine and value["--context"] == "8192"
    assert value["--kv-tokens"] == "524288"  # the candidate's kv_tokens per replica
    assert float(value["--demand"]) == pytest.approx(32 / case.replicas, rel=1e-4)
    assert value["--ports"] == ",".join(str(p) for p in dep.launch.ports)
    assert value["--cloud"] == case.cloud
    assert (value.get("--region") == "$REGION") == (case.cloud == "aws")


def test_the_rendered_check_runs_against_an_engine(tmp_path: Path) -> None:
    """The script and arguments as the node gets them, run with python3 against a fake vLLM."""
    case = _case("azure-single-vllm-on-demand")
    script = _boot_scripts(render(_deploy(case), "inline").main_tf)[0]
    (body,) = _NODE_FILE.findall(script)
    path = tmp_path / "verify_node.py"
    path.write_text(body + "\n")
    args = _systemd_args(script)
    with FakeEngine(kv_tokens=500_000) as fake:
        args[args.index("--ports") + 1] = str(fake.port)
        proc = subprocess.run(
            [sys.executable, str(path), *args, "--out", str(tmp_path / "v.json"), "--log",
             str(tmp_path / "boot.log")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("llmplan verify (capacity): PASS")
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["ports"][0]["kv_tokens"] == 500_000
    assert report["published"] == "not published on the instance (log and file only)"


def test_check_finds_nothing_new_in_a_verify_render(tmp_path: Path) -> None:
    from llmplan.check.runner import run_check

    findings = {}
    for verify in (False, True):
        folder = tmp_path / str(verify)
        folder.mkdir()
        (folder / "main.tf").write_text(
            render(_deploy(_case("aws-replicas-vllm-spot"), verify), "inline").main_tf)
        findings[verify] = [(f.rule, f.message) for f in run_check([folder]).findings]
    assert findings[True] == findings[False]


def test_checkov_reads_and_passes_the_verify_goldens(tmp_path: Path) -> None:
    checkov = os.environ.get("CHECKOV") or shutil.which("checkov")
    if not checkov:
        pytest.skip("checkov is not installed (set CHECKOV=/path/to/checkov)")
    for tf in sorted(GOLDEN.glob("*.tf")):
        target = tmp_path / tf.stem
        target.mkdir()
        shutil.copy(tf, target / "main.tf")
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
    proc = subprocess.run([checkov, "-d", str(tmp_path), "--framework", "terraform",
                           "--skip-download", "--compact", "--quiet", "-o", "json"],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert sum(r.get("summary", {}).get("parsing_errors", 0) for r in reports) == 0
    failed = [c["check_id"] for r in reports
              for c in r.get("results", {}).get("failed_checks", [])]
    assert not failed
    assert sum(r.get("summary", {}).get("resource_count", 0) for r in reports) >= 20


def test_generate_verify_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from llmplan.cli import main

    spec = ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--context", "4096",
            "--concurrency", "4", "--pricing", "snapshot"]
    assert main(["generate", "--cloud", "gcp", *spec]) == 0
    assert "verify_node" not in capsys.readouterr().out
    assert main(["generate", "--cloud", "gcp", *spec, "--verify"]) == 0
    out = capsys.readouterr().out
    assert "python3 /opt/llmplan/verify_node.py --engine vllm" in out
    assert 'enable-guest-attributes = "TRUE"' in out
    assert main(["generate", "--cloud", "aws", *spec, "--engine", "trtllm", "--verify"]) == 0
    assert ("note: --verify: trtllm publishes no capacity figures llmplan reads; the node will "
            "record the check as skipped") in capsys.readouterr().err
