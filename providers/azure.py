"""Azure: GPU offerings and prices (embedded snapshot in data/azure.json)."""

from __future__ import annotations

from llmplan.providers.document import DocumentProvider


class AzureProvider(DocumentProvider):
    name = "azure"


provider = AzureProvider()
