"""``llmplan verify``: check a running deployment against its plan.

Capacity (the engine's own KV-cache figures), latency and throughput (a short bounded load test at
the plan's concurrency and lengths) and numerical correctness (bundled GSM8K items at temperature 0
against the model's published score). Exit 0 when every check passes (warnings and skipped checks
included), 1 when one fails, 2 on bad input or an endpoint that does not answer.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from llmplan.commands.output import FORMATS, emit_json, note

if TYPE_CHECKING:
    from llmplan.verify.client import Endpoint
    from llmplan.verify.expected import Prediction


def _percent(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage, got {value!r}") from None
    if not 0 <= number <= 100:
        raise argparse.ArgumentTypeError(f"expected 0-100, got {value}")
    return number


def _positive_int(value: str) -> int:
    number = _number(value)
    if number != int(number):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value}")
    return int(number)


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {value}")
    return number


def _checks(value: str) -> tuple[str, ...]:
    from llmplan.verify.checks import CHECKS

    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    unknown = [n for n in names if n not in CHECKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown check {', '.join(unknown) or '(none)'}; allowed: {', '.join(CHECKS)}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", required=True,
                        help="the serving endpoint's root URL (http://HOST:PORT)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--plan", help="a plan from llmplan plan --format json")
    source.add_argument("--from-terraform", dest="from_terraform", metavar="DIR",
                        help="the folder of Terraform llmplan generate wrote")
    parser.add_argument("--api-key-env", dest="api_key_env", metavar="VAR",
                        help="environment variable holding the endpoint's API key (Bearer)")
    parser.add_argument("--checks", type=_checks, default=("capacity", "latency", "correctness"),
                        help="comma-separated: capacity, latency, correctness (default all)")
    parser.add_argument("--format", choices=FORMATS, default="table")
    pick = parser.add_argument_group("which plan candidate (with --plan; default the first)")
    pick.add_argument("--cloud")
    pick.add_argument("--instance-type", dest="instance_type")
    cap = parser.add_argument_group("capacity")
    cap.add_argument("--engine", choices=("vllm", "sglang", "tgi"),
                     help="the engine behind the endpoint (default: the plan's, or detected)")
    cap.add_argument("--tolerance", type=_percent, default=10.0,
                     help="KV-cache deviation from the plan that fails, percent (default 10)")
    lat = parser.add_argument_group("latency and throughput")
    lat.add_argument("--concurrency", type=_positive_int,
                     help="requests in flight (default the plan's concurrency)")
    lat.add_argument("--requests", type=_positive_int,
                     help="requests to send (default twice the concurrency, at least 8)")
    lat.add_argument("--duration", type=_number, default=120.0,
                     help="seconds after which no request starts; open ones are cut 30 s "
                          "later (default 120)")
    lat.add_argument("--prompt-tokens", dest="prompt_tokens", type=_positive_int)
    lat.add_argument("--output-tokens", dest="output_tokens", type=_positive_int)
    lat.add_argument("--latency-tolerance", dest="latency_tolerance", type=_percent,
                     default=25.0, help="how much slower than planned fails, percent "
                                        "(default 25)")
    ev = parser.add_argument_group("numerical correctness")
    ev.add_argument("--eval-items", dest="eval_items", type=_positive_int, default=300,
                    help="GSM8K items to ask, at most 300 (default 300)")
    ev.add_argument("--eval-max-tokens", dest="eval_max_tokens", type=_positive_int,
                    default=1024)
    ev.add_argument("--eval-concurrency", dest="eval_concurrency", type=_positive_int,
                    help="requests in flight for the evaluation (default the plan's "
                         "concurrency, at most 64)")
    ev.add_argument("--expected-score", dest="expected_score", type=_percent,
                    help="compare with this GSM8K score (percent) instead of the published one")
    ev.add_argument("--eval-tolerance", dest="eval_tolerance", type=_percent, default=5.0,
                    help="how far below the published score fails, percent of it (default 5)")
    parser.add_argument("--model", help="the model name to request (default: the first of "
                                        "/v1/models)")
    parser.add_argument("--timeout", type=_number, default=30.0,
                        help="seconds to wait for the endpoint's answers (default 30)")


def run(args: argparse.Namespace) -> int:
    from llmplan.errors import UsageError
    from llmplan.verify.checks import (
        check_capacity,
        check_correctness,
        check_latency,
        load_settings,
    )
    from llmplan.verify.client import Endpoint
    from llmplan.verify.report import Report, render_markdown, render_text

    if args.eval_items > 300:
        raise UsageError(f"--eval-items {args.eval_items}: the bundled set has 300 items")
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise UsageError(f"--api-key-env {args.api_key_env}: that environment variable is "
                             "not set or empty")
    prediction = _prediction(args)
    needs_plan = [c for c in args.checks if c in ("capacity", "latency")]
    if needs_plan and prediction is None:
        raise UsageError(f"{' and '.join(needs_plan)} compare with a plan: pass --plan or "
                         "--from-terraform (or --checks correctness)")
    endpoint = Endpoint(args.endpoint, api_key, timeout=args.timeout)
    served = _served_model(endpoint)
    model = args.model or served or (prediction.model if prediction else None)
    if model is None:
        raise UsageError(f"endpoint {args.endpoint}: /v1/models lists no model; pass --model")
    if prediction is not None:
        note(f"plan: {prediction.source}")
    results = []
    if "capacity" in args.checks and prediction is not None:
        note("capacity: reading the engine's own figures")
        results.append(check_capacity(endpoint, prediction, served, args.engine,
                                      args.tolerance / 100))
    if "latency" in args.checks and prediction is not None:
        settings = load_settings(prediction, args.concurrency, args.requests, args.duration,
                                 args.prompt_tokens, args.output_tokens)
        note(f"latency: {settings.requests} requests, {settings.concurrency} in flight, "
             f"{settings.prompt_tokens:,} prompt + {settings.output_tokens:,} output tokens, "
             f"at most {settings.duration_s:g} s")
        results.append(check_latency(endpoint, prediction, model, settings,
                                     args.latency_tolerance / 100, note))
    if "correctness" in args.checks:
        concurrency = args.eval_concurrency or min(64, prediction.concurrency if prediction
                                                   else 16)
        note(f"correctness: {args.eval_items} GSM8K items at temperature 0, {concurrency} in "
             "flight")
        results.append(check_correctness(
            endpoint, model, prediction.model if prediction else None, items=args.eval_items,
            concurrency=concurrency, max_tokens=args.eval_max_tokens,
            tolerance=args.eval_tolerance / 100, expected_score=args.expected_score,
            progress=note))
    report = Report(endpoint.url, model, prediction, results)
    if args.format == "json":
        emit_json(report.to_json())
    elif args.format == "markdown":
        print(render_markdown(report))
    else:
        print(render_text(report))
    return 1 if report.status == "fail" else 0


def _prediction(args: argparse.Namespace) -> Prediction | None:
    from llmplan.verify.expected import from_plan_json, from_terraform

    if args.plan:
        return from_plan_json(args.plan, args.cloud, args.instance_type)
    if args.from_terraform:
        return from_terraform(args.from_terraform)
    return None


def _served_model(endpoint: Endpoint) -> str | None:
    """The first model /v1/models lists; this request also proves the endpoint answers (exit 2
    when it does not, or wants a key it was not given)."""
    from llmplan.verify.client import HttpError

    try:
        doc = endpoint.get_json("/v1/models")
    except HttpError as exc:
        note(f"warning: {exc}")
        return None
    data = doc.get("data") if isinstance(doc, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict) and data[0].get("id"):
        return str(data[0]["id"])
    return None
