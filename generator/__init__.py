"""llmplan: turn an LLM workload into a right-sized, priced, ready-to-apply cloud deployment."""

__version__ = "0.1.0"
