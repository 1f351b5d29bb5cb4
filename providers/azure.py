"""Azure: GPU offerings and prices (embedded snapshot in data/azure.json, live via azure_live)."""

from __future__ import annotations

from llmplan.providers.live import LiveDocumentProvider


class AzureProvider(LiveDocumentProvider):
    name = "azure"
    live_module = "llmplan.providers.azure_live"


provider = AzureProvider()
