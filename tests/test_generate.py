"""``llmplan generate``: golden Terraform for a cloud x tier x engine x topology matrix, parsing,
engine flags vs the plan, provider-schema allow-lists, injection, and the ``-o`` module folder."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import hcl2
import pytest
from generate_cases import (
    CASES,
    Case,
    attribute_paths,
    candidate,
    hcl_unquote,
    hostile,
    resources,
    workload,
)

from llmplan.cli import main
from llmplan.engines.launch import ShellVar, docker_run
from llmplan.render.clouds import container_options
from llmplan.render.deployment import Deployment, deployment
from llmplan.render.terraform import render

GOLDEN = Path(__file__).parent / "golden" / "generate"
SCHEMA = Path(__file__).parent / "fixtures" / "provider_schema"
UPDATE = os.environ.get("LLMPLAN_UPDATE_GOLDEN") == "1"
IDS = [c.id for c in CASES]


def _deploy(case: Case) -> Deployment:
    return deployment(candidate(case), workload(case), case.model)


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


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_golden_main_tf(case: Case) -> None:
    _check_golden(f"{case.id}.tf", render(_deploy(case), "inline").main_tf)


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_golden_module(cloud: str) -> None:
    case = next(c for c in CASES if c.cloud == cloud and c.topology == "multinode")
    files = render(_deploy(case), "module").files
    assert set(files) == {"versions.tf", "variables.tf", "main.tf", "outputs.tf",
                          "boot.sh.tftpl", "README.md"}
    for name, text in sorted(files.items()):
        _check_golden(f"module-{case.id}/{name}", text)


@pytest.mark.parametrize("mode", ["inline", "module"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_file_parses(case: Case, mode: str) -> None:
    files = render(_deploy(case), mode).files  # type: ignore[arg-type]
    for name, text in files.items():
        if name.endswith(".tf"):
            hcl2.loads(text)
    if mode == "module":
        main_tf = files["main.tf"]
        assert 'templatefile("${path.module}/boot.sh.tftpl"' in main_tf
        assert "<<EOT" not in main_tf


# --- provider schema allow-lists


def _schemas() -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {}
    for path in SCHEMA.glob("*.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for kind, key in (("resource", "resources"), ("data", "data_sources")):
            for rtype, names in doc[key].items():
                out.setdefault(kind, {})[rtype] = set(names)
    return out


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_only_attributes_the_pinned_providers_have(case: Case) -> None:
    schemas = _schemas()
    doc = hcl2.loads(render(_deploy(case), "inline").main_tf)
    for kind, rtype, name, body in resources(doc):
        allowed = schemas[kind].get(rtype)
        assert allowed is not None, f"{kind} {rtype} is not in tests/fixtures/provider_schema"
        unknown = attribute_paths(body) - allowed
        assert not unknown, f"{kind} {rtype}.{name} uses {sorted(unknown)} not in the schema"


def test_provider_versions_pinned() -> None:
    pins = {"aws": '"~> 6.0"', "gcp": '"~> 6.0"', "azure": '"~> 4.0"'}
    for case in CASES:
        text = render(_deploy(case), "inline").main_tf
        assert f"version = {pins[case.cloud]}" in text


# --- engine flags match the plan


_HEREDOC = re.compile(r"<<(EOT\d*)\n(.*?)\n\1$", re.S | re.M)


def _scripts(main_tf: str) -> list[str]:
    return [m.group(2).replace("$${", "${").replace("%%{", "%{")
            for m in _HEREDOC.finditer(main_tf)]


def _head_commands(script: str) -> list[list[str]]:
    """The engine commands the head (rank 0) node runs."""
    branch = script.split('if [ "$NODE_RANK" = "0" ]; then', 1)[1].split("\nelse\n")[0]
    commands: list[list[str]] = []
    buffer = ""
    for line in branch.split("\n"):
        # A quoted argument may hold newlines: keep reading until the quotes balance.
        buffer = f"{buffer}\n{line}" if buffer else line.strip()
        try:
            args = shlex.split(buffer)
        except ValueError:
            continue
        if buffer.startswith(("docker run", "docker exec -d")):
            commands.append(args)
        buffer = ""
    return commands


def _flag(args: list[str], *names: str, default: int = 1) -> int:
    for name in names:
        if name in args:
            return int(args[args.index(name) + 1])
    return default


def _rendered_nodes(doc: dict, case: Case) -> int:
    total = 0
    for kind, rtype, _name, body in resources(doc):
        if kind != "resource":
            continue
        if rtype in ("aws_instance", "google_compute_instance", "azurerm_linux_virtual_machine"):
            total += int(body.get("count", 1))
        elif rtype == "aws_autoscaling_group":
            total += int(body["desired_capacity"])
        elif rtype == "google_compute_instance_group_manager":
            total += int(body["target_size"])
        elif rtype == "azurerm_linux_virtual_machine_scale_set":
            total += int(body["instances"]) * int(body.get("count", 1))
    return total


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_engine_flags_match_the_plan(case: Case) -> None:
    cand = candidate(case)
    text = render(_deploy(case), "inline").main_tf
    nodes = _rendered_nodes(hcl2.loads(text), case)
    assert nodes == cand.nodes
    script = _scripts(text)[0]
    commands = [c for c in _head_commands(script) if "ray start" not in " ".join(c)]
    assert commands, "no engine command on the head node"
    per_launch = 0
    for args in commands:
        tp = _flag(args, "--tensor-parallel-size", "--tp-size", "--num-shard", "--tp_size")
        pp = _flag(args, "--pipeline-parallel-size", "--pp-size", "--pp_size")
        dp = _flag(args, "--data-parallel-size", "--dp-size")
        assert (tp, pp) == (case.tp, case.pp)
        per_launch += tp * pp * dp
        if case.engine == "sglang":
            assert _flag(args, "--nnodes") == case.nodes_per_replica
            assert args[args.index("--host") + 1] == "0.0.0.0"
    # TP x PP (x DP inside a node) over the replica's nodes, times the replica groups, is every
    # GPU the rendered instances have.
    groups = nodes // case.nodes_per_replica
    assert per_launch * groups == nodes * case.gpu_count == cand.gpus_used
    if case.engine == "vllm":
        assert "--ipc=host" in script and "--gpus all" in script
        if case.nodes_per_replica > 1:
            assert "--distributed-executor-backend ray" in script
            assert "ray start --head" in script and "ray start --address=" in script


# --- injection: hostile model names render inert

HOSTILE = [
    'evil"; rm -rf / #',
    "a${jndi:ldap://x}b",
    "%{ if true }x%{ endif }",
    "$(touch /tmp/pwned)`id`",
    'x\nEOT\nresource "aws_instance" "pwn" {}\n',
    "'; echo pwned; '",
    'back\\slash\\" and \\n',
    "bell\x07and\ttab\r",
    "org/model\n# comment\n${var.x}",
]


@pytest.mark.parametrize("model", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
@pytest.mark.parametrize("topology", ["single", "multinode"])
def test_hostile_model_names_render_inert(cloud: str, topology: str, model: str) -> None:
    case = next(c for c in CASES if c.cloud == cloud and c.topology == topology)
    benign = hcl2.loads(render(_deploy(case), "inline").main_tf)
    cand, wl = hostile(case, model)
    dep = deployment(cand, wl, model)
    for mode in ("inline", "module"):
        files = render(dep, mode).files  # type: ignore[arg-type]
        doc = hcl2.loads(files["main.tf"])
        # No resource appeared or vanished: nothing broke out of a string or heredoc.
        assert [r[:3] for r in resources(doc)] == [r[:3] for r in resources(benign)]
        # The tag (or GCP metadata) round-trips to exactly the model name.
        if cloud == "gcp":
            bodies = [b for k, t, _n, b in resources(doc)
                      if t in ("google_compute_instance", "google_compute_instance_template")]
            assert hcl_unquote(bodies[0]["metadata"]["llmplan-model"]) == model
        else:
            tags = doc["locals"][0]["tags"]
            key = '"llmplan-model"' if '"llmplan-model"' in tags else "llmplan-model"
            assert hcl_unquote(tags[key]) == model
        # The engine command splits back into the exact arguments, model name included.
        script = (files["boot.sh.tftpl"].replace("$${", "${").replace("%%{", "%{")
                  if mode == "module" else _scripts(files["main.tf"])[0])
        expected = [str(a) for a in docker_run(dep.launch.head[0], ShellVar("ENGINE_IMAGE"),
                                               network_host=dep.nodes_per_replica > 1,
                                               extra=container_options(dep))]
        assert expected in _head_commands(script)
        if dep.launch.head_exec:
            assert any(model in c for c in _head_commands(script))


# --- the command line


def _gen(*args: str) -> list[str]:
    return ["generate", "--model", "meta-llama/Llama-3.1-8B", "--context", "8192",
            "--concurrency", "16", *args]


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_cli_prints_one_main_tf(cloud: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_gen("--cloud", cloud)) == 0
    out, err = capsys.readouterr()
    hcl2.loads(out)
    assert out.startswith("# Rendered by llmplan")
    assert "prices:" in err and "as of" in err and "plan:" in err


def test_cli_forced_instance_that_does_not_fit(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["generate", "--cloud", "aws", "--model", "meta-llama/Llama-3.1-405B",
                 "--instance-type", "g6e.xlarge"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "g6e.xlarge does not fit" in err


def test_cli_forced_instance_that_fits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_gen("--cloud", "aws", "--instance-type", "p5.48xlarge")) == 0
    out, _ = capsys.readouterr()
    assert 'instance_type = "p5.48xlarge"' in out


def test_cli_unknown_instance_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_gen("--cloud", "aws", "--instance-type", "g6e.xlarg")) == 2
    assert "not in the aws catalog" in capsys.readouterr().err


def test_cli_requires_a_cloud(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_gen()) == 2
    assert "--cloud" in capsys.readouterr().err


def test_output_folder_is_a_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "deploy"
    assert main(_gen("--cloud", "gcp", "-o", str(target))) == 0
    out, err = capsys.readouterr()
    assert out == "" and "wrote 6 files" in err
    names = sorted(p.name for p in target.iterdir())
    assert names == ["README.md", "boot.sh.tftpl", "main.tf", "outputs.tf", "variables.tf",
                     "versions.tf"]
    for name in names:
        if name.endswith(".tf"):
            hcl2.loads((target / name).read_text())
    readme = (target / "README.md").read_text()
    assert "meta-llama/Llama-3.1-8B" in readme and "/hour" in readme and "as of" in readme
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".deploy.")]


def test_output_refuses_a_non_empty_folder(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "terraform.tfstate").write_text("{}")
    assert main(_gen("--cloud", "aws", "-o", str(tmp_path))) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["terraform.tfstate"]


def test_output_force_replaces_generated_files_only(tmp_path: Path) -> None:
    (tmp_path / "terraform.tfstate").write_text("{}")
    (tmp_path / "main.tf").write_text("# old\n")
    assert main(_gen("--cloud", "azure", "-o", str(tmp_path), "--force")) == 0
    assert (tmp_path / "terraform.tfstate").read_text() == "{}"
    assert "azurerm_linux_virtual_machine" in (tmp_path / "main.tf").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*/*/main.tf"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[f"{p.parent.parent.name}/{p.parent.name}"
                                                 for p in EXAMPLES])
def test_examples_parse_and_use_known_attributes(path: Path) -> None:
    schemas = _schemas()
    doc = hcl2.loads(path.read_text(encoding="utf-8"))
    for kind, rtype, name, body in resources(doc):
        unknown = attribute_paths(body) - schemas[kind][rtype]
        assert not unknown, f"{path}: {rtype}.{name} uses {sorted(unknown)}"
    assert (path.parent.parent / "workload.yaml").exists()


def test_there_are_examples() -> None:
    names = {p.parent.parent.name for p in EXAMPLES}
    assert len(names) >= 6


def test_generate_serves_the_model_the_user_named(capsys: pytest.CaptureFixture[str]) -> None:
    from llmplan.cli import main

    code = main(["generate", "--cloud", "aws", "--pricing", "snapshot", "--model",
                 "meta-llama/Llama-3.1-8B-Instruct", "--context", "4096"])
    out = capsys.readouterr().out
    assert code == 0
    assert " meta-llama/Llama-3.1-8B-Instruct " in out  # the engine's model argument


# --- Azure multi-node: InfiniBand needs the nodes in one scale set


AZURE_MULTINODE = [c for c in CASES if c.cloud == "azure" and c.topology == "multinode"]


@pytest.mark.parametrize("case", AZURE_MULTINODE, ids=[c.id for c in AZURE_MULTINODE])
def test_azure_multinode_is_one_infiniband_scale_set_per_group(
        case: Case, tmp_path: Path) -> None:
    from llmplan.check.runner import run_check

    dep = _deploy(case)
    text = render(dep, "inline").main_tf
    doc = hcl2.loads(text)
    types = [t for kind, t, _n, _b in resources(doc) if kind == "resource"]
    assert "azurerm_linux_virtual_machine" not in types
    assert "azurerm_proximity_placement_group" not in types
    assert "azurerm_capacity_reservation" not in types  # Azure refuses it with one placement group
    sets = [b for kind, t, _n, b in resources(doc)
            if t == "azurerm_linux_virtual_machine_scale_set"]
    assert len(sets) == 1
    vmss = sets[0]
    assert int(vmss["count"]) == dep.groups
    assert int(vmss["instances"]) == case.nodes_per_replica
    assert vmss["single_placement_group"] is True
    image = vmss["source_image_reference"][0]
    assert (hcl_unquote(image["publisher"]), hcl_unquote(image["offer"])) == (
        "microsoft-dsvm", "ubuntu-hpc")
    assert vmss["network_interface"][0]["accelerated_networking_enabled"] is True
    # The engine container reaches the InfiniBand HCAs and NCCL is pointed at them.
    script = _scripts(text)[0]
    for option in ("--device /dev/infiniband", "--cap-add IPC_LOCK", "NCCL_IB_DISABLE=0",
                   "NCCL_IB_HCA=mlx5_ib", "NCCL_TOPO_FILE=/opt/microsoft/ndv5-topo.xml"):
        assert option in script
    (tmp_path / "main.tf").write_text(text, encoding="utf-8")
    result = run_check([tmp_path])
    # The matrix's spot case is a realtime workload on spot on purpose: LLM005 says so, rightly.
    ignored = {"LLM005"} if case.tier == "spot" else set()
    serious = [f for f in result.findings
               if f.severity in ("error", "warning") and f.rule not in ignored]
    assert serious == [], "\n".join(f"{f.rule} {f.message}" for f in serious)


def _rank_program(script: str) -> str:
    return script.split("python3 -c '\n", 1)[1].split("\n' \"$@\"", 1)[0]


@pytest.mark.parametrize(("ids", "me", "rank"), [
    (["3", "1"], "1", 0), (["3", "1"], "3", 1), (["10", "9", "2"], "10", 2)])
def test_azure_node_rank_is_its_place_in_instance_id_order(
        ids: list[str], me: str, rank: int) -> None:
    import subprocess
    import sys

    script = _scripts(render(_deploy(AZURE_MULTINODE[0]), "inline").main_tf)[0]
    listing = {"value": [{"instanceId": i, "properties": {"osProfile": {
        "computerName": f"llm-g0-{int(i):06d}"}}} for i in ids]}
    out = subprocess.run([sys.executable, "-c", _rank_program(script), str(len(ids)), me],
                         input=json.dumps(listing), capture_output=True, text=True, check=True)
    head = min(ids, key=int)
    assert out.stdout.split() == [str(rank), f"llm-g0-{int(head):06d}"]
    # Until every instance of the set is listed, no rank is given.
    short = subprocess.run([sys.executable, "-c", _rank_program(script), str(len(ids) + 1), me],
                           input=json.dumps(listing), capture_output=True, text=True, check=False)
    assert short.returncode != 0 and short.stdout == ""
