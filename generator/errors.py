"""The exceptions that reach the user as one line and an exit code."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LlmplanError(Exception):
    """Any failure the CLI reports as one line; ``exit_code`` says how it ends."""

    exit_code = 2


class UsageError(LlmplanError):
    """Bad input: a malformed spec, an unknown model/GPU/instance, impossible parallelism."""

    exit_code = 2


class PricingError(LlmplanError):
    """Live prices could not be fetched (API error, missing credentials with --pricing live)."""

    exit_code = 2


def did_you_mean(value: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ' (did you mean X?)' for the closest choices, or '' when none is close."""
    pool = list(choices)
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(value.lower(), list(lowered), n=n, cutoff=0.5)
    if not close:
        # A substring match catches short ids typed without their org prefix.
        close = [c for c in lowered if value.lower() in c][:n]
    if not close:
        return ""
    names = ", ".join(lowered[c] for c in close)
    return f" (did you mean {names}?)"
