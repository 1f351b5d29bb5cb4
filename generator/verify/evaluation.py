"""Numerical correctness: bundled GSM8K items at temperature 0, scored against their answers and
compared with the model's published score.

The items are the first 300 of GSM8K's test split (MIT licence, ``data/eval/``, with its source
and licence text beside it); published scores are ``data/published_scores.json``, each with its
source and the setting it was measured in. The prompt here is 0-shot chain of thought through the
chat API, which is not every source's setting: the report names both.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any

from llmplan.verify.client import Endpoint, HttpError, Unreachable

BENCHMARK = "GSM8K"
SET_FILE = "data/eval/gsm8k_test_300.jsonl"
SOURCE_FILE = "data/eval/gsm8k_test_300.source.json"
PROMPT = ("{question}\n\nSolve the problem step by step. End with a final line of the form "
          "\"The answer is N.\" where N is the number alone.")
Z95 = 1.959963984540054
PROGRESS_S = 5.0


@dataclass(frozen=True)
class Item:
    index: int
    question: str
    answer: str


@cache
def items() -> tuple[Item, ...]:
    text = resources.files("llmplan").joinpath(SET_FILE).read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return tuple(Item(int(r["index"]), str(r["question"]), str(r["answer"])) for r in rows)


@cache
def set_source() -> dict[str, Any]:
    text = resources.files("llmplan").joinpath(SOURCE_FILE).read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


# --- scoring


_NUMBER = r"-?\$?\s*-?[\d,]*\.?\d+"
_PATTERNS = (
    re.compile(r"answer is[:\s]*\**\s*(" + _NUMBER + ")", re.I),
    re.compile(r"####\s*(" + _NUMBER + ")"),
    re.compile(r"\\boxed\{\s*(" + _NUMBER + r")\s*\}"),
)
_ANY_NUMBER = re.compile(_NUMBER)
_THINKING = re.compile(r"<think>.*?</think>", re.S)


def extract_answer(text: str) -> str | None:
    """The final number of a response: "The answer is N", "#### N", \\boxed{N}, else the last
    number written (a model's reasoning before ``</think>`` is not its answer)."""
    text = _THINKING.sub("", text)
    for pattern in _PATTERNS:
        found = pattern.findall(text)
        if found:
            return _clean(found[-1])
    numbers = _ANY_NUMBER.findall(text)
    return _clean(numbers[-1]) if numbers else None


def _clean(raw: str) -> str:
    return raw.replace("$", "").replace(",", "").replace(" ", "").rstrip(".")


def same_number(got: str | None, expected: str) -> bool:
    if got is None:
        return False
    try:
        return Decimal(got) == Decimal(expected)
    except InvalidOperation:
        return False


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% by default); sound near 0 and 1."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# --- published scores


@dataclass(frozen=True)
class Published:
    model: str
    benchmark: str
    score: float  # percent
    setting: dict[str, Any]
    source: str
    source_date: str
    reported_by: str
    note: str | None = None

    def setting_text(self) -> str:
        s = self.setting
        parts = []
        if s.get("n_shot") is not None:
            parts.append(f"{s['n_shot']}-shot")
        if s.get("cot"):
            parts.append("CoT")
        if s.get("metric"):
            parts.append(str(s["metric"]))
        return " ".join(parts) or "setting not stated"


@cache
def _published_rows() -> tuple[dict[str, Any], ...]:
    text = resources.files("llmplan").joinpath("data/published_scores.json").read_text(
        encoding="utf-8")
    return tuple(json.loads(text)["scores"])


def published_score(model: str, benchmark: str = BENCHMARK) -> Published | None:
    """The published score of ``model`` (its id or served name, any case), or None."""
    wanted = model.strip().lower()
    short = wanted.rsplit("/", 1)[-1]
    for row in _published_rows():
        name = str(row["model"]).lower()
        if row["benchmark"] != benchmark:
            continue
        if name == wanted or name.rsplit("/", 1)[-1] == short:
            return Published(str(row["model"]), benchmark, float(row["score"]),
                             dict(row.get("setting") or {}), str(row["source"]),
                             str(row.get("source_date", "")), str(row.get("reported_by", "")),
                             row.get("note"))
    return None


# --- running


@dataclass
class Answer:
    item: Item
    got: str | None = None
    correct: bool = False
    error: str | None = None
    cut: bool = False  # the response stopped at max_tokens
    tail: str = ""  # the end of the response, as evidence


@dataclass
class EvalResult:
    answers: list[Answer]
    elapsed_s: float
    max_tokens: int
    notes: list[str] = field(default_factory=list)

    @property
    def scored(self) -> list[Answer]:
        return [a for a in self.answers if a.error is None]

    @property
    def correct(self) -> int:
        return sum(1 for a in self.scored if a.correct)

    @property
    def score(self) -> float | None:
        return self.correct / len(self.scored) if self.scored else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.correct, len(self.scored))


def ask(endpoint: Endpoint, model: str, item: Item, max_tokens: int,
        timeout: float = 600.0) -> Answer:
    body = {"model": model, "temperature": 0, "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": PROMPT.format(question=item.question)}]}
    answer = Answer(item)
    try:
        reply = endpoint.post_json("/v1/chat/completions", body, timeout=timeout)
        choice = (reply.get("choices") or [{}])[0] if isinstance(reply, dict) else {}
        message = choice.get("message") or {}
        text = str(message.get("content") or "")
        answer.cut = choice.get("finish_reason") == "length"
        answer.got = extract_answer(text)
        answer.correct = same_number(answer.got, item.answer)
        answer.tail = " ".join(text.split())[-160:]
    except (HttpError, Unreachable) as exc:
        answer.error = str(exc)
    except (AttributeError, IndexError, TypeError) as exc:
        answer.error = f"unexpected response shape ({exc})"
    return answer


def run_eval(endpoint: Endpoint, model: str, chosen: list[Item], *, concurrency: int,
             max_tokens: int, progress: Callable[[str], None] | None = None) -> EvalResult:
    start = time.perf_counter()
    done: list[Answer] = []
    lock = threading.Lock()
    stop = threading.Event()

    def work(item: Item) -> Answer:
        answer = ask(endpoint, model, item, max_tokens)
        with lock:
            done.append(answer)
        return answer

    def report() -> None:
        while not stop.wait(PROGRESS_S):
            if progress is not None:
                with lock:
                    n, ok = len(done), sum(1 for a in done if a.correct)
                progress(f"eval: {n}/{len(chosen)} answered, {ok} correct, "
                         f"{time.perf_counter() - start:.0f}s")

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            answers = list(pool.map(work, chosen))
    finally:
        stop.set()
    result = EvalResult(answers, time.perf_counter() - start, max_tokens)
    cut = sum(1 for a in answers if a.cut)
    if cut:
        result.notes.append(f"{cut} responses stopped at {max_tokens} tokens before answering "
                            "in full: raise --eval-max-tokens (reasoning models need more)")
    return result
