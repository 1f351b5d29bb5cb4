"""``llmplan generate``: Terraform for the cheapest fitting plan on one cloud, or a forced type.

stdout gets one self-contained ``main.tf``; ``-o DIR`` writes a module folder instead. Diagnostics
and the "prices as of" note go to stderr.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from llmplan.commands.output import note
from llmplan.commands.plan import add_pricing_argument
from llmplan.commands.spec import add_workload_arguments, workload_from_args

if TYPE_CHECKING:
    from llmplan.plan.candidate import Candidate
    from llmplan.plan.planner import PlanResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from llmplan.render.clouds import cloud_names

    parser.add_argument("--cloud", required=True, choices=cloud_names(),
                        help="the cloud to render Terraform for")
    add_workload_arguments(parser)
    add_pricing_argument(parser)
    g = parser.add_argument_group("generate")
    g.add_argument("--instance-type", dest="instance_type",
                   help="use this instance type (checked that it fits) instead of the cheapest")
    g.add_argument("-o", "--output", dest="output",
                   help="write a module folder (versions.tf, variables.tf, main.tf, outputs.tf, "
                        "boot script, README.md) instead of one main.tf on stdout")
    g.add_argument("--force", action="store_true",
                   help="with -o: write into a non-empty folder (replaces the generated files "
                        "only; state and tfvars are left alone)")
    g.add_argument("--name", default="llm", help="prefix for resource names (default llm)")
    g.add_argument("--verify", action="store_true",
                   help="after boot, once the engine is healthy, compare its KV-cache capacity "
                        "with the plan's and record the result in the node's journal and log "
                        "and, on AWS and GCP, in tags / guest attributes on the instance")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from llmplan.model.registry import served_model_id
    from llmplan.plan.planner import plan
    from llmplan.render.deployment import deployment
    from llmplan.render.terraform import render

    if args.force and not args.output:
        note("warning: --force has no effect without -o")
    output = Path(args.output) if args.output else None
    if output is not None:
        _check_target(output, force=args.force)
    workload = replace(workload_from_args(args), clouds=(args.cloud,))
    result = plan(workload, pricing=args.pricing, clouds=(args.cloud,), require_fit=False)
    for line in result.prices.notes:
        note(line)
    chosen = choose(result, args.cloud, args.instance_type)
    dep = deployment(chosen, result.workload, served_model_id(workload.model), name=args.name,
                     verify=args.verify)
    note(f"plan: {dep.nodes} x {dep.instance_type} in {dep.region} ({dep.tier}), "
         f"{dep.parallelism}; max concurrency {dep.max_concurrency:.1f}; "
         f"${dep.hourly_usd:,.2f}/hour, ${dep.monthly_usd:,.0f}/month "
         f"({dep.price_source} prices as of {dep.price_as_of})")
    for line in dep.launch.notes:
        note(f"note: {line}")
    if dep.verify and dep.engine not in ("vllm", "sglang", "tgi"):
        note(f"note: --verify: {dep.engine} publishes no capacity figures llmplan reads; the "
             "node will record the check as skipped")
    if output is None:
        rendered = render(dep, "inline")
        print(rendered.main_tf, end="")
        return 0
    rendered = render(dep, "module")
    write_module(output, rendered.files, force=args.force)
    note(f"wrote {len(rendered.files)} files to {output}")
    return 0


def choose(result: PlanResult, cloud: str, instance_type: str | None) -> Candidate:
    """The cheapest candidate the engine can launch; with ``instance_type``, that type's."""
    from llmplan.engines.launch import supports
    from llmplan.errors import UsageError
    from llmplan.plan.planner import no_fit_message

    sel = result.selection
    engine = result.engine.name
    launchable: list[Candidate] = []
    refused: list[str] = []
    for c in sel.candidates:
        if c.offering.cloud != cloud:
            continue
        if instance_type and c.offering.instance_type != instance_type:
            continue
        s = c.shape
        why = supports(engine, s.tensor_parallel, s.pipeline_parallel, s.nodes_per_replica,
                       s.replicas_per_node)
        if why:
            refused.append(why)
            continue
        launchable.append(c)
    if launchable:
        return launchable[0]
    if instance_type:
        known = {o.instance_type for cat in result.prices.catalogs for o in cat.offerings
                 if o.cloud == cloud}
        if instance_type not in known:
            from llmplan.errors import did_you_mean

            raise UsageError(f"--instance-type: {instance_type} is not in the {cloud} catalog"
                             f"{did_you_mean(instance_type, known)}")
        why = sel.rejected.get(f"{cloud}:{instance_type}") or (
            refused[0] if refused else "no fitting layout in the requested regions and tiers")
        raise UsageError(f"--instance-type {instance_type} does not fit {result.arch.model_id} "
                         f"at context {result.workload.context:,} x concurrency "
                         f"{result.workload.concurrency}: {why}")
    if refused:
        raise UsageError(f"no {cloud} plan that {result.engine.display} can launch: "
                         f"{refused[0]} (try --engine vllm or sglang)")
    raise UsageError(no_fit_message(result.workload, result.arch, result.engine, result.prices,
                                    sel))


# --- writing a module folder


def _check_target(path: Path, *, force: bool) -> None:
    from llmplan.errors import UsageError

    if path.exists() and not path.is_dir():
        raise UsageError(f"-o {path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise UsageError(f"-o {path}: folder is not empty (use --force to replace the "
                         "generated files in it)")


def write_module(path: Path, files: dict[str, str], *, force: bool) -> None:
    """Write ``files`` into ``path`` so that a failure leaves either nothing or every file.

    Files are first written to a temporary folder beside ``path``. A new folder is then renamed
    into place in one step; into an existing (empty, or ``force``) folder each file is moved with
    an atomic rename, leaving everything else there (state, tfvars, .terraform) untouched.
    """
    import os
    import shutil
    import tempfile

    _check_target(path, force=force)
    parent = path.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=parent))
    try:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        if not path.exists():
            os.replace(tmp, path)
            return
        for name in files:
            os.replace(tmp / name, path / name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
