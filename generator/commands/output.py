"""Where command output goes: the artifact (JSON, tables) on stdout, diagnostics on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from llmplan.vocabulary import OUTPUT_FORMATS

FORMATS = OUTPUT_FORMATS


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def note(message: str) -> None:
    """A diagnostic for the human: stderr, so stdout stays the clean artifact."""
    print(message, file=sys.stderr)
