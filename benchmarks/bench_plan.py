"""Time ``llmplan plan`` over the whole price snapshot: a cold process (median of several runs),
and ``select()`` alone in-process (the model, engine and catalogs loaded once). Prints both.

Run: python benchmarks/bench_plan.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

PLAIN = ["--model", "meta-llama/Llama-3.1-70B-Instruct", "--pricing", "snapshot"]
LOAD = [*PLAIN, "--rps", "40", "--prompt-tokens", "1000", "--output-tokens", "300"]
CASES = {
    "plan 70B (memory only)": PLAIN,
    "plan 70B --rps 40 --tpot-ms 50": [*LOAD, "--tpot-ms", "50"],
}


def cold_run(args: list[str]) -> float:
    cmd = [sys.executable, "-m", "llmplan", "plan", *args, "--format", "json"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def select_only(args: list[str], runs: int) -> float:
    """Median seconds of ``select()`` with everything it reads already loaded."""
    import argparse

    from llmplan.catalog.pricing import load_catalogs, select_clouds
    from llmplan.commands.plan import add_arguments
    from llmplan.commands.spec import workload_from_args
    from llmplan.engines.profiles import get_engine
    from llmplan.model.registry import load_model
    from llmplan.plan.select import select

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    workload = workload_from_args(parser.parse_args(args))
    arch, engine = load_model(workload.model), get_engine(workload.engine)
    catalogs = load_catalogs(select_clouds(()), "snapshot", ()).catalogs
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        select(arch, workload, engine, catalogs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    cold_run(PLAIN)  # warm the OS file cache once
    for name, args in CASES.items():
        cold = statistics.median(cold_run(args) for _ in range(runs))
        warm = select_only(args, runs)
        print(f"{name:34} cold process {cold * 1e3:7.0f} ms   select() {warm * 1e3:7.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
