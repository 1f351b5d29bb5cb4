"""One module per ``llmplan`` subcommand (``add_arguments(parser)`` and ``run(args) -> int``),
plus the workload flags and spec file (``spec``) and where output goes (``output``).

May import: anything in llmplan below cli.
"""
