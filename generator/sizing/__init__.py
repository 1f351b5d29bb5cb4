"""Memory and speed of one replica: pure functions over architecture, GPU and engine profile.

``precision`` (what the weights and KV cache are stored as), ``weights`` and ``kv`` (bytes),
``memory`` (``size_on``: the per-GPU picture of one TP x PP shape), ``fit`` (the fewest GPUs that
fit and what would fit instead), ``throughput`` (the roofline speed model).

May import: errors, vocabulary, workload, gpus, model, engines.
"""
