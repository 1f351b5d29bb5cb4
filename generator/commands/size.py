"""``llmplan size``: the memory breakdown for a workload on one GPU type."""

from __future__ import annotations

import argparse

from llmplan.commands.output import FORMATS, emit_json, note
from llmplan.commands.spec import add_workload_arguments
from llmplan.commands.training_spec import add_training_arguments, spec_from_args
from llmplan.errors import UsageError
from llmplan.tables import table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_workload_arguments(parser, planning=False)
    hw = parser.add_argument_group("hardware")
    hw.add_argument(
        "--gpu", dest="gpu_type", default="H100-80GB", help="GPU type (default H100-80GB)"
    )
    hw.add_argument(
        "--gpus", dest="gpu_count", type=_count, help="GPUs per replica (default: fewest that fit)"
    )
    hw.add_argument("--tp", type=_count, help="tensor parallel size")
    hw.add_argument("--pp", type=_count, help="pipeline parallel size")
    add_training_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="table")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (got {text!r})")
    return value


def _layout(args: argparse.Namespace) -> tuple[int, int] | None:
    gpus, tp, pp = args.gpu_count, args.tp, args.pp
    if gpus is None and tp is None and pp is None:
        return None
    if tp is None and pp is None:
        assert gpus is not None
        from llmplan.sizing.fit import MAX_GPUS_PER_NODE

        tp = min(gpus, MAX_GPUS_PER_NODE)
        if gpus % tp:
            raise UsageError(
                f"--gpus {gpus}: cannot split into nodes of {MAX_GPUS_PER_NODE}; give --tp and --pp"
            )
        return tp, gpus // tp
    tp = tp or 1
    pp = pp or (gpus // tp if gpus else 1)
    if gpus is not None and tp * pp != gpus:
        raise UsageError(f"--gpus {gpus} does not equal --tp {tp} x --pp {pp}")
    return tp, pp


def run(args: argparse.Namespace) -> int:
    from llmplan.engines.profiles import get_engine
    from llmplan.gpus import get_gpu
    from llmplan.model.registry import load_model
    from llmplan.sizing.fit import fewest_gpus
    from llmplan.sizing.memory import parallelism_problems, size_on
    from llmplan.sizing.precision import resolve_precision

    workload, training = spec_from_args(args)
    if training is not None:
        from llmplan.commands.size_training import run_training

        return run_training(args, workload, training)
    arch = load_model(workload.model)
    gpu = get_gpu(args.gpu_type)
    engine = get_engine(workload.engine)
    layout = _layout(args)
    if layout is not None:
        problems = parallelism_problems(arch, *layout, resolve_precision(arch, workload))
        if problems:
            raise UsageError(f"TP={layout[0]} x PP={layout[1]} for {arch.model_id}: {problems[0]}")
        result = size_on(arch, workload, gpu, engine, *layout)
        if not result.fits:
            from dataclasses import replace

            from llmplan.sizing.fit import suggest

            result = replace(
                result, suggestions=tuple(suggest(arch, workload, gpu, engine, result))
            )
    else:
        result = fewest_gpus(arch, workload, gpu, engine)
    if args.format == "json":
        emit_json(result.to_json())
    else:
        print(render(result, markdown=args.format == "markdown"))
    if not result.fits and args.format == "json":
        # The table already lists why and what would fit; JSON readers get it on stderr too.
        note(f"does not fit: {'; '.join(result.reasons)}")
        for tip in result.suggestions:
            note(f"  would fit: {tip}")
    return 0


def render(result: object, *, markdown: bool = False) -> str:
    from llmplan.sizing.memory import SizingResult
    from llmplan.tables import markdown_table

    assert isinstance(result, SizingResult)
    r = result
    gib = r.to_json()
    rows = [
        ("model", r.model_id),
        (
            "parameters",
            f"{r.parameters:,} ({r.parameters / 1e9:.2f} B; "
            f"{r.active_parameters / 1e9:.2f} B active)",
        ),
        ("precision", f"{r.precision.label}, KV cache {r.precision.kv_cache}"),
        ("engine", f"{r.engine} (memory fraction {r.memory_fraction:g})"),
        ("GPUs", f"{r.gpu_count} x {r.gpu} (TP={r.tensor_parallel}, PP={r.pipeline_parallel})"),
        ("usable memory / GPU", f"{gib['usable_gib_per_gpu']} GiB"),
        ("weights / GPU", f"{gib['weights_gib_per_gpu']} GiB"),
        ("activations / GPU", f"{gib['activation_gib_per_gpu']} GiB"),
        ("runtime overhead / GPU", f"{gib['non_torch_gib_per_gpu']} GiB"),
        ("KV cache / GPU", f"{gib['kv_cache_gib_per_gpu']} GiB"),
        ("KV bytes / token / GPU", f"{r.kv_bytes_per_token_per_gpu:,}"),
        ("KV cache tokens", f"{r.kv_tokens:,}"),
        (
            "max concurrency",
            f"{r.max_concurrency:.2f} x {r.context:,}-token requests (asked {r.concurrency})",
        ),
        ("fits", "yes" if r.fits else "no: " + "; ".join(r.reasons)),
    ]
    rows += [("would fit", tip) for tip in r.suggestions]
    if markdown:
        return markdown_table(("", "value"), rows)
    return table(("", "value"), rows)
