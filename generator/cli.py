"""The ``llmplan`` command: argument parsing and the one place errors become exit codes.

Each subcommand lives in its own :mod:`llmplan.commands` module exposing
``add_arguments(parser)`` and ``run(args) -> int``; those modules import their heavy dependencies
inside ``run`` so that start-up stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from llmplan import __version__
from llmplan.errors import LlmplanError

COMMANDS: dict[str, tuple[str, str]] = {
    "size": ("llmplan.commands.size", "memory breakdown, max concurrency, fewest GPUs that fit"),
    "plan": ("llmplan.commands.plan", "cheapest fitting instance per cloud and tier"),
    "generate": ("llmplan.commands.generate", "render Terraform for the cheapest fitting plan"),
    "check": (
        "llmplan.commands.check",
        "check Terraform for GPU serving problems (pre-commit hook)",
    ),
    "cost": ("llmplan.commands.cost", "monthly cost breakdown and diff of Terraform"),
    "catalog": ("llmplan.commands.catalog", "refresh and show instance prices"),
    "models": ("llmplan.commands.models", "list the bundled model architectures"),
    "verify": (
        "llmplan.commands.verify",
        "check a running endpoint against its plan: capacity, latency, correctness",
    ),
}


class _Command(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage plus a message; keep it to one line with our exit code.
        raise LlmplanError(f"{self.prog}: {message}")


def _load(name: str) -> _Command | None:
    module_name = COMMANDS[name][0]
    try:
        return cast(_Command, importlib.import_module(module_name))
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="llmplan", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"llmplan {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (_module, help_text) in COMMANDS.items():
        if only is not None and name != only:
            subs.add_parser(name, help=help_text, add_help=False)
            continue
        command = _load(name)
        if command is None:
            continue
        sub = subs.add_parser(name, help=help_text, description=help_text)
        command.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Only the chosen subcommand's module is imported: start-up cost stays with what is used.
    chosen = next((a for a in args_list if not a.startswith("-")), None)
    only = chosen if chosen in COMMANDS else None
    try:
        parser = build_parser(only)
        args = parser.parse_args(args_list)
        if not args.command:
            parser.print_help(sys.stderr)
            return 2
        command = _load(args.command)
        if command is None:
            raise LlmplanError(f"'{args.command}' is not available in this installation")
        return command.run(args)
    except LlmplanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the user gets one line, not a traceback
        if os.environ.get("LLMPLAN_DEBUG"):
            raise
        print(
            f"error: internal error: {type(exc).__name__}: {exc} "
            "(set LLMPLAN_DEBUG=1 for a traceback and please report it)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
