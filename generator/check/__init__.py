"""``llmplan check``: rules over the GPU compute and serving found in Terraform.

``base`` (findings, the deployment a rule judges, sizing helpers), ``deployments`` (pairing compute
with what it serves), ``runner`` (files -> findings), ``sarif``, and ``rules`` (one module per
rule id).

May import: errors, vocabulary, workload, gpus, model, engines, sizing, providers, catalog,
plan, terraform, serving.
"""
