"""``llmplan check`` rules, one module per rule id."""
