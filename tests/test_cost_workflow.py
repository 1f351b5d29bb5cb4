"""The cost-review workflow and composite action: their shell steps, run locally on fixture trees.

The ``run:`` scripts are taken from the YAML as written and executed with bash; ``llmplan`` is
this checkout (through ``python -m llmplan``) and ``gh`` is either absent or a fake that records
its calls, so the create-or-update-one-comment logic is tested without GitHub.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "github-actions" / "llmplan-cost.yml"
ACTION = ROOT / "action.yml"
FIXTURES = Path(__file__).parent / "fixtures" / "cost"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

FAKE_GH = """#!/usr/bin/env bash
echo "$*" >> "$GH_LOG"
if [ "$1" = "api" ] && [ "$2" != "--method" ]; then
  printf '%s' "${FAKE_EXISTING_COMMENT:-}"
fi
"""


def _steps(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    steps = document["jobs"]["cost"]["steps"] if "jobs" in document \
        else document["runs"]["steps"]
    return {s.get("id") or s.get("name", ""): s for s in steps}


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "base", tmp_path / "base")
    shutil.copytree(FIXTURES / "head", tmp_path / "head")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "llmplan"
    shim.write_text(f'#!/usr/bin/env bash\nexec "{sys.executable}" -m llmplan "$@"\n')
    shim.chmod(0o755)
    return tmp_path


def _env(ws: Path, **extra: str) -> dict[str, str]:
    # Only the shim folder and system folders: no real `gh` from the developer's machine.
    system = [p for p in os.environ.get("PATH", "").split(os.pathsep)
              if p.startswith(("/usr/", "/bin", "/sbin"))
              and not (Path(p) / "gh").exists()]
    env = {
        "PATH": os.pathsep.join([str(ws / "bin"), *system]),
        "HOME": str(ws),
        "GITHUB_OUTPUT": str(ws / "github_output"),
        "GITHUB_STEP_SUMMARY": str(ws / "step_summary"),
        "GITHUB_REPOSITORY": "acme/infra",
        "RUNNER_TEMP": str(ws),
        "LLMPLAN_CACHE_DIR": str(ws / "cache"),
    }
    env.update(extra)
    return env


def _bash(script: str, ws: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=ws, env=env,
                          capture_output=True, text=True, timeout=120)


def _outputs(ws: Path) -> dict[str, str]:
    text = (ws / "github_output").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_workflow_diff_step_on_fixture_trees(workspace: Path) -> None:
    document = yaml.safe_load(WORKFLOW.read_text())
    job_env = {k: str(v) for k, v in document["jobs"]["cost"]["env"].items()}
    step = _steps(document)["diff"]
    result = _bash(step["run"], workspace, _env(workspace, **job_env))
    assert result.returncode == 0, result.stderr
    comment = (workspace / "llmplan-cost.md").read_text()
    assert comment.startswith("<!-- llmplan-cost -->")
    assert re.search(r"\*\*\+\$[\d,]+/month \(\+\d+%\)\*\*", comment)
    assert _outputs(workspace)["status"] == "0"
    assert (workspace / "step_summary").read_text() == comment
    # over the limit: the step still succeeds and reports status 1 for the policy step
    strict = {**job_env, "FAIL_ABOVE_PERCENT": "10"}
    (workspace / "github_output").unlink()
    result = _bash(step["run"], workspace, _env(workspace, **strict))
    assert result.returncode == 0, result.stderr
    assert _outputs(workspace)["status"] == "1"
    policy = _steps(document)["Fail when the cost policy is not met"]
    assert policy["if"] == "steps.diff.outputs.status == '1'"


@pytest.mark.parametrize("existing", ["", "4242"])
def test_workflow_comment_step_creates_or_updates_one_comment(workspace: Path,
                                                              existing: str) -> None:
    document = yaml.safe_load(WORKFLOW.read_text())
    steps = _steps(document)
    job_env = {k: str(v) for k, v in document["jobs"]["cost"]["env"].items()}
    assert _bash(steps["diff"]["run"], workspace, _env(workspace, **job_env)).returncode == 0
    fake = workspace / "bin" / "gh"
    fake.write_text(FAKE_GH)
    fake.chmod(0o755)
    log = workspace / "gh.log"
    env = _env(workspace, GH_LOG=str(log), FAKE_EXISTING_COMMENT=existing, PR="7",
               GH_TOKEN="x")
    result = _bash(steps["Create or update the cost comment"]["run"], workspace, env)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith("api repos/acme/infra/issues/7/comments --paginate")
    assert "<!-- llmplan-cost -->" in calls[0]
    if existing:
        assert calls[1] == ("api --method PATCH repos/acme/infra/issues/comments/4242 "
                            "-F body=@llmplan-cost.md")
    else:
        assert calls[1] == ("pr comment 7 --repo acme/infra --body-file llmplan-cost.md")
    assert len(calls) == 2


def test_workflow_comment_step_without_gh_and_nothing_to_report(workspace: Path) -> None:
    steps = _steps(yaml.safe_load(WORKFLOW.read_text()))
    (workspace / "llmplan-cost.md").write_text("")  # --only-increases printed nothing
    result = _bash(steps["Create or update the cost comment"]["run"], workspace,
                   _env(workspace, PR="7"))
    assert result.returncode == 0 and "nothing to report" in result.stdout


def test_composite_action_diff_step(workspace: Path) -> None:
    document = yaml.safe_load(ACTION.read_text())
    assert document["runs"]["using"] == "composite"
    step = _steps(document)["diff"]
    env = _env(workspace, BASE="base", HEAD="head", FAIL_USD="100", FAIL_PERCENT="",
               ONLY_INCREASES="false", PRICING="snapshot")
    result = _bash(step["run"], workspace, env)
    assert result.returncode == 0, result.stderr
    outputs = _outputs(workspace)
    assert outputs["status"] == "1"  # +$2,136 > $100
    assert Path(outputs["markdown"]).read_text().startswith("<!-- llmplan-cost -->")
    # going down with only-increases: empty comment body, status 0
    (workspace / "github_output").unlink()
    env.update(BASE="head", HEAD="base", ONLY_INCREASES="true")
    result = _bash(step["run"], workspace, env)
    assert result.returncode == 0, result.stderr
    assert _outputs(workspace)["status"] == "0"
    assert Path(_outputs(workspace)["markdown"]).read_text() == ""
