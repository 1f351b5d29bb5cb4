"""Time ``size`` and ``plan`` with ``--task``: a cold process (median of several runs), and the
training selection alone in-process (model and catalogs loaded once). Prints both.

Run: python benchmarks/bench_training.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

SIZE = ["size", "--task", "finetune", "--method", "qlora", "--model",
        "meta-llama/Llama-3.1-70B-Instruct"]
PLAN = ["plan", "--task", "pretrain", "--tokens", "1e11", "--model", "meta-llama/Llama-3.1-8B",
        "--pricing", "snapshot"]
PLAN_70B = ["plan", "--task", "finetune", "--tokens", "1e9", "--model",
            "meta-llama/Llama-3.1-70B", "--max-nodes", "8", "--pricing", "snapshot"]
CASES = {
    "size --task finetune qlora 70B": SIZE,
    "plan --task pretrain 8B": PLAN,
    "plan --task finetune 70B, 8 nodes": PLAN_70B,
}


def cold_run(args: list[str]) -> float:
    cmd = [sys.executable, "-m", "llmplan", *args, "--format", "json"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def select_only(args: list[str], runs: int) -> float | None:
    """Median seconds of ``select_training()`` with everything it reads already loaded."""
    if args[0] != "plan":
        return None
    import argparse

    from llmplan.catalog.pricing import load_catalogs, select_clouds
    from llmplan.commands.plan import add_arguments
    from llmplan.commands.training_spec import spec_from_args
    from llmplan.model.registry import load_model
    from llmplan.plan.training import select_training

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    workload, training = spec_from_args(parser.parse_args(args[1:]))
    assert training is not None
    arch = load_model(workload.model)
    catalogs = load_catalogs(select_clouds(()), "snapshot", ()).catalogs
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        select_training(arch, training, workload, catalogs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    cold_run(SIZE)  # warm the OS file cache once
    for name, args in CASES.items():
        cold = statistics.median(cold_run(args) for _ in range(runs))
        warm = select_only(args, runs)
        inner = f"   select_training() {warm * 1e3:7.1f} ms" if warm is not None else ""
        print(f"{name:36} cold process {cold * 1e3:7.0f} ms{inner}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
