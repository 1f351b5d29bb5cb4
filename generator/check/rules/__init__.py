"""``llmplan check`` rules, one module per rule id, registered here explicitly.

A rule module defines ``RULE`` (id, title, severity, the resources it reads, and its check).
``tests/test_check_rules.py`` fails if a ``llmNNN`` module exists that is not listed here.
"""

from __future__ import annotations

from llmplan.check.base import Finding, Rule
from llmplan.check.rules import (
    llm000,
    llm001,
    llm002,
    llm003,
    llm004,
    llm005,
    llm006,
    llm007,
    llm008,
    llm009,
)

RULES: tuple[Rule, ...] = (
    llm000.RULE,
    llm001.RULE,
    llm002.RULE,
    llm003.RULE,
    llm004.RULE,
    llm005.RULE,
    llm006.RULE,
    llm007.RULE,
    llm008.RULE,
    llm009.RULE,
)
RULES_BY_ID = {rule.id: rule for rule in RULES}

__all__ = ["RULES", "RULES_BY_ID", "Finding", "Rule"]
