"""``llmplan verify``: a running deployment against its plan, over HTTP.

``client`` (one endpoint: GETs, chat completions, streams), ``capacity`` (the engines' own
capacity figures and how they compare with the plan's), ``node`` (the compact, self-contained copy
of that check the boot script of ``generate --verify`` runs on the GPU node), ``expected`` (the
plan's prediction, from plan JSON or generated Terraform), ``load`` (the bounded load test),
``evaluation`` (the bundled GSM8K set, scoring, published scores), ``checks`` and ``report``.

May import: errors, vocabulary, tables, workload, gpus, model, engines, sizing, plan, terraform,
serving, check.
"""
