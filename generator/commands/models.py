"""``llmplan models``: the bundled model architectures and their computed sizes."""

from __future__ import annotations

import argparse

from llmplan.commands.output import FORMATS, emit_json
from llmplan.tables import table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table")


def run(args: argparse.Namespace) -> int:
    from llmplan.model.registry import list_models, load_model

    archs = [load_model(name) for name in list_models()]
    if args.format == "json":
        emit_json(
            [
                {
                    "id": a.model_id,
                    "parameters": a.total_parameters,
                    "active_parameters": a.active_parameters,
                    "layers": a.num_layers,
                    "kv_heads": a.num_kv_heads,
                    "experts": a.num_experts,
                    "mla": a.is_mla,
                    "checkpoint_dtype": a.checkpoint_dtype,
                    "source": a.source,
                }
                for a in archs
            ]
        )
        return 0
    rows = [
        (
            a.model_id,
            f"{a.total_parameters / 1e9:.2f} B",
            f"{a.active_parameters / 1e9:.2f} B",
            a.num_layers,
            a.num_kv_heads,
            a.num_experts or "-",
            a.checkpoint_dtype,
        )
        for a in archs
    ]
    print(
        table(
            ("model", "params", "active", "layers", "kv heads", "experts", "checkpoint"),
            rows,
            right={1, 2, 3, 4, 5},
        )
    )
    return 0
