"""Model architectures: the config.json facts a size is computed from.

Holds the architecture record and its parameter counts (``architecture``), the bundled registry
and model lookup (``registry``), and how model names written in other people's Terraform map to
it (``references``).

May import: errors, vocabulary, workload.
"""
