"""Run the rules over files and folders: parse, evaluate each module once per variable set,
build deployments, check, suppress, and return findings sorted by file and line.

A module (folder of ``.tf`` files) is evaluated with its defaults and auto-loaded tfvars; each
other ``.tfvars`` file named on the command line (``presets/gemma3-27b.tfvars``) is a variant
evaluated on top, and what it changes is reported at that file, on the first line it sets a
variable the module used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from llmplan.engine_flags import CheckConfig, find_config, load_config
from llmplan.engine_flags_scan import HINT
from llmplan.rules import RULES, llm000
from llmplan.rules.base import Deployment, Finding
from llmplan.tfgpu import PREFILTER
from llmplan.tfread import (
    Evaluation,
    Module,
    group_paths,
    is_auto_tfvars,
    is_terraform,
    is_tfvars,
    parse_file,
    scan_files,
)
from llmplan.tfread_syntax import ParseFailure, check_syntax

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class CheckResult:
    files_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


PARALLEL_BYTES = 32 * 1024  # below this, syntax checks are faster in-process than forked


def run_check(paths: Sequence[str | Path], skip: Collection[str] = ()) -> CheckResult:
    files = scan_files(paths)
    result = CheckResult(files_checked=len(files))
    skips = {s.upper() for s in skip}
    groups = group_paths(files)
    modules = {d: Module(d, repo_root(d)) for d in groups}
    # Modules with neither compute this checker knows nor an engine in sight only need their
    # files syntax-checked, which other processes can do meanwhile.
    relevant = {d: _relevant(m) for d, m in modules.items()}
    syntax_only = [p for d, requested in groups.items() if not relevant[d] for p in requested]
    collect = _syntax_checks(syntax_only)
    for directory, requested in groups.items():
        if relevant[directory]:
            _check_module(modules[directory], requested, skips, result)
    if llm000.RULE.id not in skips:
        result.findings += [llm000.finding_for(f) for f in collect() if f is not None]
    absolute = [replace(f, file=str(Path(f.file).resolve())) for f in result.findings]
    unique = {(f.file, f.line, f.rule, f.resource, f.message): f for f in absolute}
    result.findings = sorted(unique.values(), key=lambda f: (
        f.file, f.line, SEVERITY_ORDER.get(f.severity, 3), f.rule, f.message))
    return result


def _relevant(module: Module) -> bool:
    return any(PREFILTER.search(text) or HINT.search(text) for text in module.texts.values())


def _syntax_checks(paths: list[Path]) -> Callable[[], list[ParseFailure | None]]:
    """Start syntax-checking ``paths``; the returned function waits for the results (in order).

    Big batches go to forked worker processes (the parser is CPU-bound and python-hcl2 trees
    cannot be sent between processes, but a verdict can), so they overlap with the evaluation
    of the GPU modules in this process.
    """
    import multiprocessing

    cpus = os.cpu_count() or 1
    size = 0
    for path in paths:
        with contextlib.suppress(OSError):
            size += path.stat().st_size
    if size < PARALLEL_BYTES or cpus < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return lambda: [check_syntax(p) for p in paths]
    from concurrent.futures import ProcessPoolExecutor

    from hcl2.parser import parser

    parser()  # load the grammar once, before forking, so every worker inherits it
    pool = ProcessPoolExecutor(max_workers=max(1, cpus - 1),
                               mp_context=multiprocessing.get_context("fork"))
    results = pool.map(check_syntax, paths, chunksize=8)

    def collect() -> list[ParseFailure | None]:
        try:
            return list(results)
        finally:
            pool.shutdown()

    return collect


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
    from llmplan.rules.deployments import build

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
