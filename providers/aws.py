"""AWS: GPU offerings and prices (embedded snapshot in data/aws.json)."""

from __future__ import annotations

from llmplan.providers.document import DocumentProvider


class AWSProvider(DocumentProvider):
    name = "aws"


provider = AWSProvider()
