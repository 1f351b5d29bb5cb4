"""``llmplan cost``: what Terraform compute costs per month, and the difference a change makes.

``usage`` and ``mappers`` (one mapping per priced resource type, per cloud), ``values`` (reading
values from either reader), ``reader`` (Terraform folders), ``pricing`` (usage -> lines through
the catalogs), ``lines``, ``capacity`` (what the GPUs serve), ``diff``, ``report`` (table,
Markdown, JSON).

May import: errors, vocabulary, tables, workload, gpus, model, engines, sizing, providers,
catalog, terraform, serving.
"""
