"""Serving engines: each engine's memory behaviour (``profiles``, facts in
``data/engines.json``) and how a plan becomes its container and command line (``launch``).

May import: errors, vocabulary, workload, model.
"""
