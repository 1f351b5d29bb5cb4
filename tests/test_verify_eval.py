"""``llmplan verify`` numerical correctness: the bundled GSM8K set, answer extraction, scoring
against known answers, the confidence interval, and the published-score comparison."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest
from fakes.engine import FakeEngine

from llmplan.verify import evaluation
from llmplan.verify.checks import check_correctness
from llmplan.verify.client import Endpoint
from llmplan.verify.evaluation import extract_answer, published_score, same_number, wilson


def test_bundled_set_is_the_cited_file_with_its_licence() -> None:
    data = resources.files("llmplan").joinpath("data/eval")
    raw = data.joinpath("gsm8k_test_300.jsonl").read_bytes()
    source = json.loads(data.joinpath("gsm8k_test_300.source.json").read_text())
    assert hashlib.sha256(raw).hexdigest() == source["sha256"]
    assert "3101c7d5072418e28b9008a6636bde82a006892c" in source["source"]
    licence = data.joinpath("LICENSE-gsm8k.txt").read_text()
    assert licence.startswith("MIT License") and "Copyright (c) 2021 OpenAI" in licence
    items = evaluation.items()
    assert len(items) == 300 and [i.index for i in items] == list(range(300))
    assert items[0].answer == "18" and "Janet" in items[0].question


@pytest.mark.parametrize(("text", "expected"), [
    ("She sells 9 eggs at $2 each.\nThe answer is 18.", "18"),
    ("The answer is $1,234.", "1234"),
    ("so 70000 - 0 = 70000\n#### 70000", "70000"),
    ("Thus the result is \\boxed{42}.", "42"),
    ("The answer is: **-3**", "-3"),
    ("<think>maybe the answer is 5</think>After checking, 7 apples remain.", "7"),
    ("First 3, then 4, finally 12 in total", "12"),
    ("I cannot solve this.", None),
])
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_numbers_compare_by_value() -> None:
    assert same_number("18.00", "18") and same_number("-3", "-3")
    assert not same_number("17", "18") and not same_number(None, "18")


def test_wilson_interval_known_values() -> None:
    lo, hi = wilson(8, 10)
    assert (lo, hi) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    narrow = wilson(240, 300)
    assert narrow[1] - narrow[0] < (hi - lo) / 3  # 30 times the items, a third of the width


def test_published_scores_carry_sources_and_match_names_loosely() -> None:
    row = published_score("meta-llama/Llama-3.1-8B-Instruct")
    assert row is not None and row.score == 84.5
    assert row.source.startswith("https://github.com/meta-llama/llama-models/blob/")
    assert row.setting_text() == "8-shot CoT em_maj1@1"
    assert published_score("LLAMA-3.1-70B-INSTRUCT").score == 95.1  # type: ignore[union-attr]
    assert published_score("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B") is None  # MATH-500 only
    assert published_score("no/such-model") is None
    doc = json.loads(resources.files("llmplan").joinpath("data/published_scores.json")
                     .read_text())
    for r in doc["scores"]:
        assert r["source"].startswith("https://") and r["setting"] and r["reported_by"]


def test_scoring_against_known_answers(tmp_path: object) -> None:
    with FakeEngine(wrong={0, 3, 5}) as fake:
        result = evaluation.run_eval(Endpoint(fake.url), fake.model,
                                     list(evaluation.items()[:20]), concurrency=4,
                                     max_tokens=256)
    assert len(result.answers) == 20 and result.correct == 17
    assert [a.item.index for a in result.answers if not a.correct] == [0, 3, 5]
    wrong = next(a for a in result.answers if a.item.index == 0)
    assert wrong.got == "19" and "The answer is 19" in wrong.tail
    assert result.score == pytest.approx(0.85)


def _correctness(fake: FakeEngine, items: int, **kw: object):  # type: ignore[no-untyped-def]
    args = dict(items=items, concurrency=4, max_tokens=256, tolerance=0.05,
                expected_score=None, progress=None)
    args.update(kw)
    return check_correctness(Endpoint(fake.url), fake.model, None, **args)  # type: ignore[arg-type]


def test_far_below_the_published_score_fails_with_evidence() -> None:
    # 15 of 40 wrong: 62.5% [47.0, 75.8] against 84.5% published.
    with FakeEngine(wrong=set(range(0, 30, 2))) as fake:
        result = _correctness(fake, 40)
    assert result.status == "fail"
    row = result.rows[-1]
    assert row.plan == "84.5%" and row.measured.startswith("62.5% [47.")  # type: ignore[union-attr]
    assert "em_maj1@1" in row.note
    assert any(e.startswith("item 0: expected 18, got 19") for e in result.evidence)
    assert "outside the 95% interval" in result.advice[0]
    assert result.data["eval"]["wrong"][0] == {
        "index": 0, "expected": "18", "got": "19", "cut": False,
        "tail": "Working through it step by step. The answer is 19."}


def test_a_gap_chance_can_explain_is_a_warning() -> None:
    # 4 of 20 wrong: 80.0% is 5.3% below 84.5%, but 84.5% is inside [58.4, 91.9].
    with FakeEngine(wrong={1, 2, 3, 4}) as fake:
        result = _correctness(fake, 20)
    assert result.status == "warn"
    assert "cannot tell" in result.advice[0]


def test_at_the_published_score_passes_and_expected_score_overrides() -> None:
    with FakeEngine(wrong={7, 8}) as fake:
        assert _correctness(fake, 20).status == "pass"  # 90.0% against 84.5%
        result = _correctness(fake, 20, expected_score=99.0)
    assert result.status == "fail" and result.rows[-1].note == "set with --expected-score"


def test_unknown_model_reports_the_score_without_a_verdict() -> None:
    with FakeEngine(model="acme/unpublished-7b") as fake:
        result = _correctness(fake, 10)
    assert result.status == "skip"
    assert "100.0% [72.2, 100.0]" in result.summary and "--expected-score" in result.summary


def test_failed_requests_are_counted_not_scored() -> None:
    with FakeEngine() as fake:
        fake.fault("/v1/chat/completions", "500", "503")
        result = _correctness(fake, 20)
    assert result.data["eval"]["scored"] == 18
    assert "2 of 20 requests failed, e.g. HTTP 50" in result.evidence[0]
    assert result.rows[0].status == "fail"  # 10% of the requests failed
    assert result.status == "fail"
