"""Each rule against its pass and fail fixtures (tests/fixtures/check/<rule>/{pass,fail}/<case>).

A fixture marks where its finding must be with ``expect: LLMnnn`` on that line (or
``expect-next: LLMnnn`` on the line before). A fail case must give exactly the marked findings
of its rule; a pass case must give none. Other rules are skipped, so each case tests one rule.
"""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest

import llmplan.check.rules as rules_package
from llmplan.check.rules import RULES, RULES_BY_ID
from llmplan.check.runner import run_check

FIXTURES = Path(__file__).parent / "fixtures" / "check"
MARK = re.compile(r"expect(-next)?:\s*(LLM\d{3})")
NOT_RULES = {"base", "deployments", "runner"}  # framework modules of the rules package


def _cases(kind: str) -> list[tuple[str, Path]]:
    out = []
    for rule_dir in sorted(FIXTURES.iterdir()):
        for case in sorted((rule_dir / kind).glob("*")):
            if case.is_dir():
                out.append((rule_dir.name, case))
    return out


def _expected(case: Path, rule: str) -> set[tuple[str, int]]:
    marks = set()
    for path in sorted(case.rglob("*")):
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for match in MARK.finditer(line):
                if match.group(2) == rule:
                    marks.add((str(path.resolve()), number + (1 if match.group(1) else 0)))
    return marks


def _found(case: Path, rule: str) -> set[tuple[str, int]]:
    others = [r.id for r in RULES if r.id != rule]
    result = run_check([case], skip=others)
    assert all(f.rule == rule for f in result.findings)
    return {(f.file, f.line) for f in result.findings}


@pytest.mark.parametrize(("rule", "case"), _cases("fail"), ids=lambda v: getattr(v, "name", v))
def test_fail_fixture_is_flagged_where_marked(rule: str, case: Path) -> None:
    expected = _expected(case, rule)
    assert expected, f"{case} has no 'expect: {rule}' marker"
    assert _found(case, rule) == expected


@pytest.mark.parametrize(("rule", "case"), _cases("pass"), ids=lambda v: getattr(v, "name", v))
def test_pass_fixture_is_quiet(rule: str, case: Path) -> None:
    assert _found(case, rule) == set()


def test_every_rule_has_pass_and_fail_fixtures() -> None:
    for rule in RULES:
        assert list((FIXTURES / rule.id / "fail").glob("*")), f"{rule.id}: no fail fixture"
        assert list((FIXTURES / rule.id / "pass").glob("*")), f"{rule.id}: no pass fixture"


def test_every_rule_module_is_registered() -> None:
    modules = {m.name for m in pkgutil.iter_modules(rules_package.__path__)}
    rule_modules = modules - NOT_RULES
    assert all(re.fullmatch(r"llm\d{3}", m) for m in rule_modules), rule_modules
    assert {m.upper() for m in rule_modules} == set(RULES_BY_ID)


def test_rules_have_stable_ids_titles_and_severities() -> None:
    ids = [r.id for r in RULES]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for rule in RULES:
        assert rule.title and rule.reads
        assert rule.severity in ("error", "warning", "info")


def test_skip_tag_suppresses_one_rule_only(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_instance" "x" {\n'
        '  instance_type = "g5.12xlarge"\n'
        '  user_data = "vllm serve meta-llama/Llama-3.1-8B-Instruct -tp 2 --max-model-len 8192"\n'
        '  tags = { "llmplan-skip" = "LLM002" }\n'
        "}\n")
    rules = {f.rule for f in run_check([tmp_path]).findings}
    assert "LLM002" not in rules
    assert "LLM006" in rules


def test_config_file_sets_defaults_and_skips(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".llmplan.yaml").write_text("defaults:\n  workload: batch\nskip: [LLM006]\n")
    (tmp_path / "main.tf").write_text(
        'resource "aws_instance" "x" {\n'
        '  instance_type = "g5.12xlarge"\n'
        '  instance_market_options { market_type = "spot" }\n'
        '  user_data = "vllm serve meta-llama/Llama-3.1-8B-Instruct -tp 4 --max-model-len 8192"\n'
        "}\n")
    assert run_check([tmp_path]).findings == []
    (tmp_path / ".llmplan.yaml").write_text("skip: [LLM006]\n")
    assert [f.rule for f in run_check([tmp_path]).findings] == ["LLM005"]


def test_no_findings_without_gpu_compute(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_instance" "web" {\n  instance_type = "m5.large"\n}\n'
        'resource "google_compute_instance" "web" {\n  machine_type = "n2-standard-4"\n}\n')
    assert run_check([tmp_path]).findings == []
