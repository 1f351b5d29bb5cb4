"""GCP: GPU offerings and prices (embedded snapshot in data/gcp.json, live via gcp_live)."""

from __future__ import annotations

from llmplan.providers.live import LiveDocumentProvider


class GCPProvider(LiveDocumentProvider):
    name = "gcp"
    live_module = "llmplan.providers.gcp_live"


provider = GCPProvider()
