"""Time a cold ``llmplan size`` process (median of several runs) and print the figure.

Run: python benchmarks/bench_size.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

COMMANDS = {
    "size 70B on H100": [
        "size",
        "--model",
        "meta-llama/Llama-3.1-70B-Instruct",
        "--context",
        "8192",
        "--concurrency",
        "32",
        "--gpu",
        "H100-80GB",
    ],
    "size 8B json": ["size", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--format", "json"],
    "python -c pass (floor)": None,
}


def cold_run(args: list[str] | None) -> float:
    cmd = (
        [sys.executable, "-c", "pass"] if args is None else [sys.executable, "-m", "llmplan", *args]
    )
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    for label, args in COMMANDS.items():
        times = [cold_run(args) for _ in range(runs)]
        print(
            f"{label:28s} median {statistics.median(times) * 1000:7.1f} ms  "
            f"min {min(times) * 1000:7.1f} ms  ({runs} runs)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
