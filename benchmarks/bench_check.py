"""Time ``llmplan check``: the whole corpus, every corpus file on its own, and a pre-commit run.

Each timed run is a fresh interpreter (what a pre-commit hook pays), with bytecode caching on
(``PYTHONDONTWRITEBYTECODE`` is dropped: an installed package has its .pyc files). Three
measurements:

- whole corpus: ``llmplan check <corpus>`` (every .tf/.tfvars file; the folders' other files are
  read as context);
- per file: ``llmplan check <file>`` for each file, the distribution (median, p90, max) and the
  slowest files;
- pre-commit sized: five changed files from GPU modules at once, like a commit touching them.

    python benchmarks/bench_check.py [--corpus ../shared/corpus/terraform] [--runs 5]
        [--per-file-limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "terraform"
PRE_COMMIT_FILES = [
    "lhzn-io__kanoa-mlops/infrastructure/gcp/main.tf",
    "lhzn-io__kanoa-mlops/infrastructure/gcp/presets/gemma3-27b.tfvars",
    "aws-ia__ecs-blueprints/terraform/ec2-examples/vllm-gpu/main.tf",
    "awslabs__ai-on-eks/infra/nvidia-triton-server/nvidia-triton-server.tf",
    "terraform-aws-modules__terraform-aws-vpc/main.tf",
]


def check(paths: list[str]) -> tuple[float, dict[str, object]]:
    command = [sys.executable, "-m", "llmplan", "check", "--format", "json", *paths]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"exit {proc.returncode}: {proc.stderr.strip()}")
    data: dict[str, object] = json.loads(proc.stdout)
    return elapsed, data


def report(label: str, runs: list[float]) -> None:
    runs = sorted(runs)
    print(f"{label:28s} median {statistics.median(runs) * 1000:7.0f} ms  "
          f"min {runs[0] * 1000:7.0f} ms  max {runs[-1] * 1000:7.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--per-file-limit", type=int, default=0,
                        help="time only the first N files (0: all)")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"{args.corpus}: no corpus here (give --corpus)")

    elapsed, data = check([str(args.corpus)])
    findings = data["findings"]
    assert isinstance(findings, list)
    per_rule: dict[str, int] = {}
    for f in findings:
        per_rule[f["rule"]] = per_rule.get(f["rule"], 0) + 1
    print(f"corpus {args.corpus}: {data['files_checked']} files, {len(findings)} findings "
          f"{dict(sorted(per_rule.items()))}")
    report("whole corpus", [elapsed] + [check([str(args.corpus)])[0]
                                        for _ in range(args.runs - 1)])

    hook = [str(args.corpus / f) for f in PRE_COMMIT_FILES if (args.corpus / f).exists()]
    report(f"pre-commit ({len(hook)} files)", [check(hook)[0] for _ in range(args.runs)])

    files = sorted(p for p in args.corpus.rglob("*") if p.suffix in (".tf", ".tfvars"))
    if args.per_file_limit:
        files = files[:args.per_file_limit]
    timed = [(check([str(p)])[0], p) for p in files]
    times = sorted(t for t, _ in timed)
    p90 = times[int(0.9 * (len(times) - 1))]
    print(f"{'per file (' + str(len(times)) + ' runs)':28s} median "
          f"{statistics.median(times) * 1000:7.0f} ms  p90 {p90 * 1000:7.0f} ms  "
          f"max {times[-1] * 1000:7.0f} ms")
    for seconds, path in sorted(timed, reverse=True)[:5]:
        print(f"    {seconds * 1000:7.0f} ms  {path.relative_to(args.corpus)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
