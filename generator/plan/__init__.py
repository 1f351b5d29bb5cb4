"""Candidate plans and the cheapest that fits: offering x shape x replicas x tier.

``candidate`` (the records and their order), ``demand`` (what a load asks of a plan), ``select``
(building and ranking candidates; pure), ``planner`` (loading model, engine and prices for a
workload, and the one-line "does not fit" message), ``training`` (the same for a training job:
offering x nodes x tier ranked by the whole job's cost or wall time).

May import: errors, vocabulary, workload, gpus, model, engines, sizing, providers, catalog.
"""
