"""Run the rules over files and folders: parse, evaluate each module once per variable set,
build deployments, check, suppress, and return findings sorted by file and line.

Terraform's unit is the folder, so a file named on the command line brings its whole module in
as context, and findings anywhere in that module are reported. A module (folder of ``.tf``
files) is evaluated with its defaults and auto-loaded tfvars; each other ``.tfvars`` file named
(``presets/gemma3-27b.tfvars``) is a variant evaluated on top, and what it changes is reported
at that file, on the first line it sets a variable the module used. Modules without GPU compute
or engines in sight are only syntax-checked. Big runs spread modules over forked processes.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from llmplan.check.base import Deployment, Finding
from llmplan.check.rules import RULES, llm000, llm009
from llmplan.serving.intent import CheckConfig, find_config, load_config
from llmplan.serving.scan import HINT
from llmplan.terraform.compute.reader import PREFILTER
from llmplan.terraform.evaluation import Evaluation
from llmplan.terraform.files import (
    group_paths,
    is_auto_tfvars,
    is_terraform,
    is_tfvars,
    scan_files,
)
from llmplan.terraform.module import Module
from llmplan.terraform.syntax import check_syntax, parse_file
from llmplan.vocabulary import SEVERITIES

SEVERITY_ORDER = {name: i for i, name in enumerate(SEVERITIES)}


@dataclass
class CheckResult:
    files_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


PARALLEL_BYTES = 64 * 1024  # below this, one process is faster than forking workers


def run_check(paths: Sequence[str | Path], skip: Collection[str] = ()) -> CheckResult:
    files = scan_files(paths)
    result = CheckResult(files_checked=len(files))
    skips = frozenset(s.upper() for s in skip)
    jobs = [(directory, requested, skips) for directory, requested in group_paths(files).items()]
    for findings, notes in _map(_check_group, jobs):
        result.findings += findings
        result.notes += notes
    absolute = [replace(f, file=str(Path(f.file).resolve())) for f in result.findings]
    unique = {(f.file, f.line, f.rule, f.resource, f.message): f for f in absolute}
    result.findings = sorted(unique.values(), key=lambda f: (
        f.file, f.line, SEVERITY_ORDER.get(f.severity, 3), f.rule, f.message))
    return result


_Job = tuple[Path, list[Path], frozenset[str]]


def _check_group(job: _Job) -> tuple[list[Finding], list[str]]:
    """One module's findings: evaluated when it has GPU compute or engines in sight and the
    files asked about can change them, else only its files syntax-checked."""
    directory, requested, skips = job
    out = CheckResult()
    try:
        module = Module(directory, repo_root(directory))
        if _relevant(module) and _touches(module, requested):
            _check_module(module, requested, set(skips), out)
        elif llm000.RULE.id not in skips:
            failures = (check_syntax(p) for p in requested)
            out.findings += [llm000.finding_for(f) for f in failures if f is not None]
    except Exception as exc:  # noqa: BLE001 - one odd folder must not stop the hook
        if os.environ.get("LLMPLAN_DEBUG"):
            raise
        out.notes.append(f"{directory}: internal error ({type(exc).__name__}: {exc}); "
                         "please report it")
    return out.findings, out.notes


def _map(func: Callable[[_Job], tuple[list[Finding], list[str]]], jobs: list[_Job]
         ) -> list[tuple[list[Finding], list[str]]]:
    """Run module jobs, in forked worker processes when there is enough to parse.

    Parsing is CPU-bound and python-hcl2 trees cannot be sent between processes, but findings
    can: each worker checks whole modules and returns what it found.
    """
    import multiprocessing

    weights = {job[0]: _weight(job) for job in jobs}
    size = sum(weights.values())
    cpus = os.cpu_count() or 1
    if (size < PARALLEL_BYTES or len(jobs) < 2 or cpus < 2
            or "fork" not in multiprocessing.get_all_start_methods()):
        return [func(job) for job in jobs]
    from concurrent.futures import ProcessPoolExecutor

    from hcl2.parser import parser

    parser()  # load the grammar once, before forking, so every worker inherits it
    # Biggest modules first, so that the workers finish at about the same time.
    ordered = sorted(jobs, key=lambda job: -weights[job[0]])
    with ProcessPoolExecutor(max_workers=min(cpus, len(jobs)),
                             mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(func, ordered, chunksize=1))


def _weight(job: _Job) -> int:
    """Bytes a job may parse: the folder's .tf files (a GPU module is read whole) and the
    requested files."""
    directory, requested, _ = job
    paths = set(requested)
    with contextlib.suppress(OSError):
        paths.update(p for p in directory.iterdir() if p.suffix == ".tf")
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


def _relevant(module: Module) -> bool:
    return any(PREFILTER.search(text) or HINT.search(text) for text in module.texts.values())


_INPUTS = re.compile(r"^\s*(variable|locals)\b", re.M)


def _touches(module: Module, requested: list[Path]) -> bool:
    """Whether the files asked about can change what the module's GPU compute looks like:
    editing only outputs.tf or versions.tf of a big GPU module needs a syntax check, not a
    re-evaluation of the whole module."""
    for path in requested:
        if not is_terraform(path):
            return True
        text = module.texts.get(path.resolve())
        if text is None or PREFILTER.search(text) or HINT.search(text) or _INPUTS.search(text):
            return True
    return False


def repo_root(directory: Path) -> Path:
    """Where file()/templatefile() may read: the enclosing git checkout, else the cwd or the
    module's parent (so ``${path.module}/../templates`` still resolves)."""
    probe = directory.resolve()
    for candidate in (probe, *probe.parents):
        if (candidate / ".git").exists():
            return candidate
    cwd = Path.cwd().resolve()
    return cwd if cwd in probe.parents or cwd == probe else probe.parent


def _check_module(module: Module, requested: list[Path], skip: set[str],
                  result: CheckResult) -> None:
    directory = module.directory
    variants: list[Path] = []
    for path in requested:
        parsed = parse_file(path)
        if parsed.failure is not None:
            if llm000.RULE.id not in skip:
                result.findings.append(llm000.finding_for(parsed.failure))
            continue
        if llm009.RULE.id not in skip:
            result.findings += llm009.findings_for(parsed.duplicates)
        if is_terraform(path):
            module.remember(parsed)
        elif is_tfvars(path) and not is_auto_tfvars(path):
            variants.append(path)
    config = load_config(find_config(directory))
    if config.problem:
        result.notes.append(config.problem)
    try:
        _evaluate_module(module, variants, config, skip, result)
    except RecursionError:
        result.notes.append(f"{directory}: too deeply nested to evaluate; only parsed")
    except Exception as exc:  # noqa: BLE001 - one odd module must not stop the hook
        if os.environ.get("LLMPLAN_DEBUG"):
            raise
        result.notes.append(f"{directory}: internal error while evaluating "
                            f"({type(exc).__name__}: {exc}); please report it")


def _evaluate_module(module: Module, variants: list[Path], config: CheckConfig,
                     skip: set[str], result: CheckResult) -> None:
    base = _evaluate(Evaluation(module), config, skip)
    result.findings += base
    seen = {(f.rule, f.resource, f.message) for f in base}
    for variant in variants:
        evaluation = Evaluation(module, [variant])
        findings = _evaluate(evaluation, config, skip)
        where = _variant_line(evaluation, variant)
        for finding in findings:
            if (finding.rule, finding.resource, finding.message) not in seen:
                result.findings.append(replace(finding, file=str(variant), line=where))


def _variant_line(evaluation: Evaluation, variant: Path) -> int:
    """The first line of the variant file that sets a variable the module used."""
    evaluation_used = evaluation.used_variables
    lines = [o.line for name, o in evaluation.origins.items()
             if o.file == str(variant) and o.kind == "tfvars" and name in evaluation_used]
    return min(lines) if lines else 1


def _evaluate(evaluation: Evaluation, config: CheckConfig, skip: set[str]) -> list[Finding]:
    from llmplan.check.deployments import build

    findings: list[Finding] = []
    deployments = build(evaluation, config)
    # Rules run after every deployment is built, so used_variables covers the whole module.
    for dep in deployments:
        findings += _run_rules(dep, skip)
    return findings


def _run_rules(dep: Deployment, skip: set[str]) -> list[Finding]:
    suppressed = skip | dep.intent.skip
    out: list[Finding] = []
    for rule in RULES:
        if rule.id in suppressed:
            continue
        out.extend(rule.check(dep))
    return out
