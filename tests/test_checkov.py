"""Checkov over the rendered examples and the golden matrix, offline, when checkov is installed.

Checkov pins many libraries, so it usually lives in its own virtualenv: point ``CHECKOV`` at its
executable (e.g. ``CHECKOV=/opt/ckv/bin/checkov``), or have ``checkov`` on PATH or importable.
Zero failed checks are allowed; every skipped check must be listed with its reason in
tests/fixtures/checkov_skips.txt.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SKIPS = Path(__file__).parent / "fixtures" / "checkov_skips.txt"


def _checkov() -> list[str] | None:
    if os.environ.get("CHECKOV"):
        return [os.environ["CHECKOV"]]
    exe = shutil.which("checkov")
    if exe:
        return [exe]
    if importlib.util.find_spec("checkov") is not None:
        return [sys.executable, "-m", "checkov.main"]
    return None


def _allowed_skips() -> dict[str, str]:
    out = {}
    for line in SKIPS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            check, _, reason = line.partition(":")
            assert reason.strip(), f"{check}: a skip needs a reason"
            out[check.strip()] = reason.strip()
    return out


def test_skip_list_has_reasons() -> None:
    assert _allowed_skips()


def test_checkov_passes_on_rendered_terraform(tmp_path: Path) -> None:
    command = _checkov()
    if command is None:
        pytest.skip("checkov is not installed (set CHECKOV=/path/to/checkov)")
    # One folder per configuration: each golden file and each example's cloud folder.
    for tf in sorted((ROOT / "examples").glob("*/*/main.tf")):
        target = tmp_path / f"example-{tf.parent.parent.name}-{tf.parent.name}"
        target.mkdir()
        shutil.copy(tf, target / "main.tf")
    for tf in sorted((ROOT / "tests" / "golden" / "generate").glob("*.tf")):
        target = tmp_path / f"golden-{tf.stem}"
        target.mkdir()
        shutil.copy(tf, target / "main.tf")
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
    proc = subprocess.run(
        [*command, "-d", str(tmp_path), "--framework", "terraform", "--skip-download",
         "--compact", "--quiet", "-o", "json"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )
    assert proc.stdout.strip(), proc.stderr[-2000:]
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    allowed = _allowed_skips()
    failed, skipped, parse_errors = [], set(), 0
    for report in reports:
        results = report.get("results", {})
        parse_errors += report.get("summary", {}).get("parsing_errors", 0)
        for check in results.get("failed_checks", []):
            failed.append(f"{check['check_id']} {check['resource']} in {check['file_path']}")
        for check in results.get("skipped_checks", []):
            skipped.add(check["check_id"])
    assert parse_errors == 0, "checkov could not parse some rendered files"
    assert not failed, "checkov failed:\n" + "\n".join(failed[:30])
    assert skipped <= set(allowed), f"undocumented skips: {sorted(skipped - set(allowed))}"
