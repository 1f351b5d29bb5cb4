"""AWS: GPU offerings and prices (embedded snapshot in data/aws.json, live via aws_live)."""

from __future__ import annotations

from llmplan.providers.live import LiveDocumentProvider


class AWSProvider(LiveDocumentProvider):
    name = "aws"
    live_module = "llmplan.providers.aws_live"


provider = AWSProvider()
