"""``llmplan check`` as users and CI run it: output formats, exit codes, usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmplan.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "check"
OVERSIZED = FIXTURES / "LLM006" / "fail" / "oversized"
BROKEN = FIXTURES / "LLM000" / "fail" / "syntax" / "main.tf"
FITS = FIXTURES / "LLM002" / "pass" / "matching"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_is_file_line_rule_severity(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(BROKEN))
    assert code == 1
    path = os.path.relpath(BROKEN)
    assert out.startswith(f"{path}:3: LLM000 error: HCL syntax error")


def test_exit_code_follows_fail_on(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, str(OVERSIZED))[0] == 0  # LLM006 is a warning, below the error default
    assert _run(capsys, str(OVERSIZED), "--fail-on", "warning")[0] == 1
    assert _run(capsys, str(OVERSIZED), "--fail-on", "info")[0] == 1
    assert _run(capsys, str(OVERSIZED), "--fail-on", "info", "--skip", "LLM006")[0] == 0


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(OVERSIZED), "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["files_checked"] == 1
    (finding,) = data["findings"]
    assert set(finding) == {"rule", "severity", "file", "line", "resource", "message"}
    assert finding["rule"] == "LLM006" and finding["line"] == 8
    assert finding["resource"] == "aws_instance.fail"
    assert "g5.12xlarge" in finding["message"] and "$" in finding["message"]


def test_sarif_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(BROKEN), str(OVERSIZED), "--format", "sarif")
    log = json.loads(out)
    assert code == 1
    assert log["version"] == "2.1.0" and "sarif-2.1.0" in log["$schema"]
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [f"LLM00{i}" for i in range(10)]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"LLM000": "error", "LLM006": "warning"}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert not location["artifactLocation"]["uri"].startswith("/")
        assert location["region"]["startLine"] >= 1
        assert result["partialFingerprints"]


def test_clean_run_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(FITS), "--skip", "LLM006")
    assert (code, out, err) == (0, "", "")


def test_unknown_rule_in_skip_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(FITS), "--skip", "LLM06")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "did you mean LLM006" in err


def test_missing_path_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "no/such/dir")
    assert code == 2 and "no/such/dir: no such file or directory" in err


def test_bad_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--format", "xml", str(FITS))
    assert code == 2 and err.count("\n") == 1


def test_default_path_is_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_instance" "x" {\n  instance_type = "g5.3xlarge"\n}\n')
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(capsys)
    assert code == 1 and out.startswith("main.tf:2: LLM007 error: instance type 'g5.3xlarge'")


def test_garbage_files_never_raise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "binary.tf").write_bytes(b"\x00\xff\xfe garbage \x81")
    (tmp_path / "deep.tf").write_text("a = " + "[" * 3000 + "]" * 3000 + "\n")
    (tmp_path / "empty.tfvars").write_text("")
    (tmp_path / "weird.tf").write_text('resource "aws_instance" {\n  = 1\n}\n')
    code, out, err = _run(capsys, str(tmp_path), "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["files_checked"] == 4
    assert {Path(f["file"]).name for f in data["findings"]} == {"binary.tf", "deep.tf", "weird.tf"}
    assert all(f["rule"] == "LLM000" for f in data["findings"])
    assert "Traceback" not in err


def test_console_script_runs_as_a_subprocess() -> None:
    proc = subprocess.run([sys.executable, "-m", "llmplan", "check", str(BROKEN)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "LLM000 error" in proc.stdout and "Traceback" not in proc.stderr
