"""The hook through pre-commit itself: ``pre-commit try-repo`` on a small git repository.

The hook repository is built in a temporary folder from this checkout (pre-commit needs a git
repository with a commit). ``llmplan-check-system`` uses the installed llmplan and works
offline; ``llmplan-check`` (``language: python``) makes pre-commit pip-install the package into a
hook environment, which needs the package index: it is skipped, with the reason, when that
install cannot reach it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = shutil.which("pre-commit")
pytestmark = [
    pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is not installed (test extra)"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]
BAD_TF = 'resource "aws_instance" "llm" {\n  ami           = "ami-1"\n  instance_type = "g5.3xlarge"\n}\n'
GOOD_TF = 'resource "aws_instance" "web" {\n  ami           = "ami-1"\n  instance_type = "m5.large"\n}\n'
NETWORK_ERRORS = ("Could not find a version", "Failed to establish a new connection",
                  "Temporary failure in name resolution", "No matching distribution",
                  "Network is unreachable", "ProxyError")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "-c", "commit.gpgsign=false", *args], cwd=cwd, check=True,
                   capture_output=True)


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    env.pop("PRE_COMMIT", None)
    # The hook runs `llmplan` from PATH: the one installed next to this interpreter.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _hook_repo(tmp_path: Path, with_package: bool) -> Path:
    repo = tmp_path / "hook-repo"
    repo.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", repo)
    if with_package:
        for name in ("pyproject.toml", "README.md"):
            if (ROOT / name).exists():
                shutil.copy(ROOT / name, repo)
        for folder in ("generator", "providers", "templates"):
            shutil.copytree(ROOT / folder, repo / folder,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "hooks")
    return repo


def _project(tmp_path: Path, main_tf: str) -> Path:
    project = tmp_path / "project"
    (project / "infra").mkdir(parents=True)
    (project / "infra" / "main.tf").write_text(main_tf)
    (project / "README.md").write_text("not terraform\n")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "infra")
    return project


def _try_repo(tmp_path: Path, repo: Path, project: Path, hook: str
              ) -> subprocess.CompletedProcess[str]:
    assert PRE_COMMIT is not None
    return subprocess.run([PRE_COMMIT, "try-repo", str(repo), hook, "--all-files", "--verbose"],
                          cwd=project, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=900, check=False)


def test_system_hook_fails_on_findings(tmp_path: Path) -> None:
    repo = _hook_repo(tmp_path, with_package=False)
    proc = _try_repo(tmp_path, repo, _project(tmp_path, BAD_TF), "llmplan-check-system")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "infra/main.tf:3: LLM007 error: instance type 'g5.3xlarge' does not exist" in proc.stdout
    assert "Failed" in proc.stdout


def test_system_hook_passes_clean_terraform(tmp_path: Path) -> None:
    repo = _hook_repo(tmp_path, with_package=False)
    proc = _try_repo(tmp_path, repo, _project(tmp_path, GOOD_TF), "llmplan-check-system")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout


def test_python_hook_installs_and_runs(tmp_path: Path) -> None:
    repo = _hook_repo(tmp_path, with_package=True)
    proc = _try_repo(tmp_path, repo, _project(tmp_path, BAD_TF), "llmplan-check")
    output = proc.stdout + proc.stderr
    if proc.returncode not in (0, 1) and any(e in output for e in NETWORK_ERRORS):
        pytest.skip("pre-commit could not pip-install the hook environment (no package index)")
    assert proc.returncode == 1, output
    assert "LLM007 error" in proc.stdout
