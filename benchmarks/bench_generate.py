"""Time a cold ``llmplan generate --cloud X > main.tf`` on the embedded snapshot, per cloud.

Each run is a fresh interpreter (what a user or CI pays), output discarded. Prints the median and
the spread of ``--runs`` runs. The target from the design: well under a second.

    python benchmarks/bench_generate.py [--runs 7] [--model meta-llama/Llama-3.1-70B]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def time_once(cloud: str, model: str) -> float:
    command = [sys.executable, "-m", "llmplan", "generate", "--cloud", cloud, "--model", model,
               "--context", "8192", "--concurrency", "32", "--pricing", "snapshot"]
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cloud}: exit {proc.returncode}: {proc.stderr.strip()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--model", default="meta-llama/Llama-3.1-70B")
    parser.add_argument("--clouds", default="aws,gcp,azure")
    args = parser.parse_args()
    print(f"cold `llmplan generate --cloud X > main.tf`, {args.runs} runs, model {args.model}")
    for cloud in args.clouds.split(","):
        time_once(cloud, args.model)  # warm the OS file cache, not the interpreter
        runs = sorted(time_once(cloud, args.model) for _ in range(args.runs))
        print(f"{cloud:6s} median {statistics.median(runs) * 1000:6.0f} ms  "
              f"min {runs[0] * 1000:6.0f} ms  max {runs[-1] * 1000:6.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
