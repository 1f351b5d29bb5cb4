"""Memory and speed of one replica: pure functions over architecture, GPU and engine profile.

``precision`` (what the weights and KV cache are stored as), ``weights`` and ``kv`` (bytes),
``memory`` (``size_on``: the per-GPU picture of one TP x PP shape), ``fit`` (the fewest GPUs that
fit and what would fit instead), ``throughput`` (the roofline speed model). Training:
``training`` (memory per GPU of one layout), ``training_fit`` (the fewest GPUs, suggestions, the
6x rule of thumb), ``training_time`` (FLOPs, utilisation, communication, spot restarts) and
``training_facts`` (data/training.json).

May import: errors, vocabulary, workload, gpus, model, engines.
"""
