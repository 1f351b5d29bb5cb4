"""``llmplan check`` over the shared corpus of real public Terraform (skipped when absent).

../shared/corpus/terraform/INDEX.md lists the repositories, which are controls or correct, and
the real problems an expert found (P1-P15). This test holds the checker to it: no crash, an
LLM000 exactly for the files python-hcl2 cannot parse, nothing at error level on the controls and
correct repositories, and the problems the rules cover found where INDEX.md puts them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmplan.check.base import Finding
from llmplan.check.runner import CheckResult, run_check
from llmplan.terraform.files import scan_files

CORPUS = Path(os.environ.get("LLMPLAN_CORPUS", Path(__file__).resolve().parents[2] / "shared"
                             / "corpus" / "terraform"))
pytestmark = pytest.mark.skipif(not (CORPUS / "INDEX.md").is_file(),
                                reason=f"corpus not present at {CORPUS}")

FP_CONTROLS = ("terraform-aws-modules__terraform-aws-vpc", "Azure__terraform",
               "terraform-google-modules__terraform-google-network",
               "terraform-aws-modules__terraform-aws-eks")
CORRECT = ("GoogleCloudPlatform__ai-on-gke", "GoogleCloudPlatform__ai-infra-cluster-provisioning",
           "GoogleCloudPlatform__cluster-toolkit", "philschmid__terraform-aws-llm-sagemaker",
           "philschmid__terraform-aws-sagemaker-huggingface", "NVIDIA__nvidia-terraform-modules",
           "terraform-google-modules__terraform-google-kubernetes-engine")
# (INDEX.md id, rule, file under the corpus): the real problems the rules cover.
PROBLEMS = [
    ("P1", "LLM001", "lhzn-io__kanoa-mlops/infrastructure/gcp/presets/gemma3-27b.tfvars"),
    ("P2", "LLM001", "lhzn-io__kanoa-mlops/infrastructure/gcp/presets/gemma3-12b.tfvars"),
    ("P5", "LLM002", "aws-ia__terraform-aws-eks-blueprints/patterns/multi-node-vllm/lws.yaml"),
    ("P6", "LLM006", "aws-ia__terraform-aws-eks-blueprints/patterns/multi-node-vllm/eks.tf"),
    ("P7", "LLM006", "aws-ia__ecs-blueprints/terraform/ec2-examples/vllm-gpu/main.tf"),
    ("P8", "LLM006", "aws-ia__ecs-blueprints/terraform/ec2-examples/inference-triton/main.tf"),
    ("P9", "LLM005", "awslabs__ai-on-eks/infra/nvidia-triton-server/addons.tf"),
    ("P10", "LLM002", "awslabs__ai-on-eks/infra/nvidia-triton-server/nvidia-triton-server.tf"),
    ("P12", "LLM005", "awslabs__data-on-eks/ai-ml/jark-stack/terraform/addons.tf"),
]


@pytest.fixture(scope="module")
def result() -> CheckResult:
    return run_check([CORPUS])


def _in(findings: list[Finding], repo: str) -> Iterator[Finding]:
    root = str((CORPUS / repo).resolve())
    return (f for f in findings if f.file.startswith(root + os.sep))


def _does_not_parse(path: Path) -> bool:
    import hcl2

    try:
        hcl2.parses_to_tree(path.read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - any parser failure counts
        return True
    return False


def test_every_file_is_checked_without_internal_errors(result: CheckResult) -> None:
    assert result.files_checked == len(scan_files([CORPUS])) >= 500
    assert not [n for n in result.notes if "internal error" in n]


def test_llm000_exactly_for_files_the_parser_rejects(result: CheckResult) -> None:
    rejected = {str(p.resolve()) for p in scan_files([CORPUS]) if _does_not_parse(p)}
    flagged = {f.file for f in result.findings if f.rule == "LLM000"}
    assert flagged == rejected
    assert len(rejected) == 2  # INDEX.md section 2: two python-hcl2 8.x failures


@pytest.mark.parametrize("repo", FP_CONTROLS)
def test_fp_controls_have_no_findings(result: CheckResult, repo: str) -> None:
    assert list(_in(result.findings, repo)) == []


@pytest.mark.parametrize("repo", CORRECT)
def test_correct_repos_have_no_errors(result: CheckResult, repo: str) -> None:
    errors = [f for f in _in(result.findings, repo) if f.severity == "error"
              and not (f.rule == "LLM000" and _does_not_parse(Path(f.file)))]
    assert errors == []


@pytest.mark.parametrize(("problem", "rule", "file"), PROBLEMS, ids=[p[0] for p in PROBLEMS])
def test_index_problem_is_found(result: CheckResult, problem: str, rule: str, file: str) -> None:
    path = str((CORPUS / file).resolve())
    assert [f for f in result.findings if f.rule == rule and f.file == path], (
        f"{problem}: no {rule} finding in {file}")


def test_gcp_vms_that_set_or_compute_terminate_are_not_flagged(result: CheckResult) -> None:
    assert [f for f in result.findings if f.rule == "LLM004"] == []


def test_sizing_findings_name_model_and_gpu(result: CheckResult) -> None:
    (p1,) = [f for f in result.findings if f.file.endswith("gemma3-27b.tfvars")]
    assert "google/gemma-3-27b-it" in p1.message and "A100-40GB" in p1.message
    (p7,) = [f for f in result.findings if f.file.endswith("vllm-gpu/main.tf")]
    assert "g5.12xlarge" in p7.message and "/month" in p7.message and "as of" in p7.message
