"""GCP: GPU offerings and prices (embedded snapshot in data/gcp.json)."""

from __future__ import annotations

from llmplan.providers.document import DocumentProvider


class GCPProvider(DocumentProvider):
    name = "gcp"


provider = GCPProvider()
