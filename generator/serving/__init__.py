"""What a machine serves: engine invocations found in boot scripts, manifests and container specs
(``scan``), the flags and environment they carry (``served``), and what tags and
``.llmplan.yaml`` declare (``intent``).

May import: errors, vocabulary, model, engines, terraform.
"""
