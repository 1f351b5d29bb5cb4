"""What every ``llmplan check`` rule shares: the rule record, findings, and the deployment a rule
looks at (a GPU compute resource, what it serves, and what tags/config declare).

Helpers here turn a deployment into sizing inputs the way the engine itself would: flags first,
then ``llmplan-*`` tags, then ``.llmplan.yaml``, then the engine's defaults. A value that is
written but not resolvable makes the helper return None, and the rule stays silent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from llmplan.model.references import resolve_model
from llmplan.serving.intent import Intent
from llmplan.serving.served import ENGINE_NAMES, QUANTIZATION, Served
from llmplan.terraform.values import Unknown
from llmplan.vocabulary import (
    ENGINES,
    PRECISIONS,
    QUANTIZATIONS,
    PrecisionName,
    QuantizationName,
    Severity,
    narrow,
)

if TYPE_CHECKING:
    from llmplan.engines.profiles import EngineProfile
    from llmplan.gpus import GpuSpec
    from llmplan.model.architecture import ModelArchitecture
    from llmplan.sizing.memory import SizingResult
    from llmplan.terraform.compute.reader import Compute
    from llmplan.workload import Workload


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    file: str
    line: int
    resource: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "file": self.file,
                "line": self.line, "resource": self.resource, "message": self.message}


@dataclass
class Deployment:
    """One thing a rule judges: a compute resource and/or what runs on it.

    ``neighbours`` are the serving workloads found anywhere in the same module (for rules that
    ask "could this run here", like spot capacity for unpinned pods).
    """

    compute: Compute | None
    served: Served | None
    intent: Intent
    region: str | None = None
    neighbours: list[Served] = field(default_factory=list)

    @property
    def resource(self) -> str:
        if self.compute is not None:
            return self.compute.address
        return self.served.origin if self.served is not None else ""

    def at_compute(self, line: int | None = None) -> tuple[str, int]:
        if self.compute is not None:
            return self.compute.file, line or self.compute.type_line
        return self.at_served()

    def at_served(self) -> tuple[str, int]:
        if self.served is not None and self.served.file:
            return self.served.file, self.served.line
        assert self.compute is not None
        return self.compute.file, self.compute.type_line


Check = Callable[[Deployment], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """One rule: a stable id, a title, its severity, the resources it reads, its check."""

    id: str
    title: str
    severity: Severity
    reads: tuple[str, ...]
    check: Check

    def finding(self, dep: Deployment, where: tuple[str, int], message: str,
                severity: Severity | None = None) -> Finding:
        return Finding(self.id, severity or self.severity, where[0], where[1], dep.resource,
                       message)


# --- sizing inputs, resolved the way the engine would


def known_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def model(dep: Deployment) -> tuple[ModelArchitecture | None, str]:
    """The served model's architecture (flags, then tags, then config), and its display label."""
    ref: Any = dep.served.model if dep.served is not None else None
    if ref is None:
        ref = dep.intent.model
    if ref is None or isinstance(ref, Unknown):
        return None, ""
    arch, label = resolve_model(ref)
    return arch, label


def engine_name(dep: Deployment) -> str | None:
    if dep.served is not None:
        return dep.served.engine
    return dep.intent.engine or ("vllm" if dep.intent.model else None)


def engine_profile(dep: Deployment) -> EngineProfile | None:
    name = engine_name(dep)
    if name not in ENGINE_NAMES:
        return None
    from llmplan.engines.profiles import get_engine

    return get_engine(str(name))


def gpu_spec(dep: Deployment) -> GpuSpec | None:
    compute = dep.compute
    if compute is None or not compute.gpu or (compute.spec and compute.spec.partial_gpu):
        return None
    from llmplan.gpus import canonical_gpu_name, get_gpu

    name = canonical_gpu_name(compute.gpu)
    return get_gpu(name) if name else None


def gpus_available(dep: Deployment) -> int | None:
    """GPUs the engine can see: its container's request, else the machine's GPUs."""
    served = dep.served
    if served is not None and served.gpus is not None:
        return known_int(served.gpus)
    if dep.compute is not None and dep.compute.gpu_count:
        # A replica spanning machines (SGLang --nnodes, or the llmplan-nodes tag for Ray-based
        # vLLM) sees the GPUs of all of them.
        nodes = known_int(served.nodes) if served is not None else None
        return dep.compute.gpu_count * (nodes or dep.intent.nodes or 1)
    return None


def parallelism(dep: Deployment) -> tuple[int, int, int] | None:
    """(TP, PP, DP) with the engine's defaults; None when a size is written but unknown."""
    served = dep.served
    if served is None:
        return None  # nothing runs yet: see declared_layout()
    sizes = []
    for name in ("tp", "pp", "dp"):
        value = getattr(served, name)
        if value is None:
            if name == "tp" and served.engine == "tgi":
                value = gpus_available(dep)  # TGI shards over every visible GPU by default
                if value is None:
                    return None
            else:
                value = 1
        if known_int(value) is None or value < 1:
            return None
        sizes.append(int(value))
    return sizes[0], sizes[1], sizes[2]


def context(dep: Deployment, arch: ModelArchitecture, engine_view: bool = False
            ) -> tuple[int | None, bool]:
    """(context tokens, whether it is the engine's own default), or (None, False) if unknown.

    The workload's context is what tags/config declare, else what the engine runs with. The
    engine's view (``engine_view``: what it must hold to start) ignores declarations: its flag,
    else its default, the model's full context.
    """
    served = dep.served
    value = served.context if served is not None else None
    if isinstance(value, Unknown):
        return None, False
    if dep.intent.context and not engine_view:
        return dep.intent.context, False
    if value is not None:
        return known_int(value), False
    if dep.intent.context and served is None:
        return dep.intent.context, False
    engine = engine_name(dep)
    if engine == "tgi":
        return min(arch.max_position_embeddings, 4096), True  # TGI adapts it to memory
    return arch.max_position_embeddings, True


def workload(dep: Deployment, arch: ModelArchitecture, ctx: int) -> Workload | None:
    """The spec Workload for sizing this deployment; None if a precision flag is unknown."""
    from llmplan.workload import Workload

    served = dep.served or Served("")
    precision: PrecisionName | None = None
    quantization: QuantizationName | None = None
    if isinstance(served.quantization, Unknown) or isinstance(served.dtype, Unknown):
        return None
    if isinstance(served.quantization, str):
        mapped = QUANTIZATION.get(served.quantization.lower(), None)
        if served.quantization.lower() not in QUANTIZATION:
            return None  # a method we do not model: do not guess its size
        if mapped is not None:
            precision = narrow(mapped[0], PRECISIONS)
            quantization = narrow(mapped[1], QUANTIZATIONS)
    elif isinstance(served.dtype, str):
        precision = narrow({"float32": "fp32", "float": "fp32", "half": "fp16", "float16": "fp16",
                            "bfloat16": "bf16"}.get(served.dtype.lower()), PRECISIONS)
    kv = served.kv_cache_dtype
    if isinstance(kv, Unknown):
        return None
    fraction = served.memory_fraction
    if isinstance(fraction, Unknown) or (fraction is not None and not 0 < fraction <= 1):
        return None
    return Workload(
        model=arch.model_id, context=max(1, ctx), concurrency=dep.intent.concurrency or 1,
        precision=precision, quantization=quantization,
        kv_cache_dtype="fp8" if isinstance(kv, str) and kv.lower().startswith("fp8") else "auto",
        engine=narrow(engine_name(dep), ENGINES) or "vllm", memory_fraction=fraction,
        kind=dep.intent.kind or "realtime",
    )


@dataclass(frozen=True)
class Sized:
    arch: ModelArchitecture
    gpu: GpuSpec
    engine: EngineProfile
    workload: Workload
    result: SizingResult
    context_is_default: bool
    label: str  # the model as written, and what it was sized as


def size(dep: Deployment, engine_view: bool = False) -> Sized | None:
    """One replica of this deployment sized on its GPUs; None when anything needed is unknown.

    ``engine_view`` sizes at the context the engine itself runs with (see :func:`context`)."""
    arch, label = model(dep)
    gpu = gpu_spec(dep)
    engine = engine_profile(dep)
    if arch is None or gpu is None or engine is None:
        return None
    par = parallelism(dep) if dep.served is not None else declared_layout(dep, arch)
    if par is None:
        return None
    ctx, is_default = context(dep, arch, engine_view)
    if ctx is None:
        return None
    spec = workload(dep, arch, ctx)
    if spec is None:
        return None
    from llmplan.sizing.memory import size_on

    tp, pp, _ = par
    result = size_on(arch, replace(spec, concurrency=1), gpu, engine, tp, pp)
    return Sized(arch, gpu, engine, spec, result, is_default, label)


def declared_layout(dep: Deployment, arch: ModelArchitecture) -> tuple[int, int, int] | None:
    """For a model declared by tag/config with no engine running yet: the widest valid layout
    of the machine's GPUs (what a careful operator would start), so a "does not fit" means the
    machine cannot hold it at all."""
    gpus = gpus_available(dep)
    if not dep.intent.model or gpus is None:
        return None
    from llmplan.sizing.fit import layouts
    from llmplan.sizing.memory import parallelism_problems

    for tp, pp in layouts(gpus):
        if not parallelism_problems(arch, tp, pp):
            return tp, pp, 1
    return None


def gib(n: float) -> str:
    return f"{n / 1024**3:.1f} GiB"
