"""What a priced GPU resource can serve: max concurrent requests for the model its boot script
runs, sized with the same model as ``size`` (shown beside costs in a diff)."""

from __future__ import annotations

from llmplan.cost.lines import Capacity, CostLine
from llmplan.cost.usage import Context
from llmplan.terraform.plan_json import ResourceValues
from llmplan.vocabulary import ENGINES, narrow


def capacity_of(r: ResourceValues, ctx: Context, line: CostLine) -> Capacity | None:
    """What the boot script serves, sized on this resource's GPUs (None when not known)."""
    if not line.gpu or line.gpu_count <= 0 or line.count <= 0:
        return None
    try:
        return _capacity(r, ctx, line)
    except Exception:  # noqa: BLE001 - the capacity note is a bonus; a cost line never fails
        return None


def _capacity(r: ResourceValues, ctx: Context, line: CostLine) -> Capacity | None:
    from llmplan.engines.profiles import get_engine
    from llmplan.gpus import get_gpu
    from llmplan.model.references import resolve_model
    from llmplan.serving.scan import scan_value
    from llmplan.sizing.memory import size_on
    from llmplan.terraform.values import as_int
    from llmplan.workload import Workload

    sources = [r] + [ctx.resources[a] for a in sorted(r.references) if a in ctx.resources]
    served = None
    for source in sources:
        found = scan_value(dict(source.values), source.file, source.line, source.address)
        served = next((s for s in found.served if s.engine and s.model), None)
        if served is not None:
            break
    if served is None or served.engine is None:
        return None
    arch, _ = resolve_model(served.model)
    if arch is None:
        return None
    tp = as_int(served.tp) if served.tp is not None else line.gpu_count
    pp = as_int(served.pp) if served.pp is not None else 1
    context = as_int(served.context) if served.context is not None \
        else arch.max_position_embeddings
    if not tp or not pp or not context or tp * pp > line.gpu_count:
        return None
    engine = narrow(served.engine, ENGINES)
    if engine is None:
        return None
    workload = Workload(model=arch.model_id, context=context, concurrency=1, engine=engine)
    result = size_on(arch, workload, get_gpu(line.gpu), get_engine(engine), tp, pp)
    replicas = line.gpu_count // (tp * pp)
    per_instance = max(result.max_concurrency, 0.0) * replicas if result.fits else 0.0
    return Capacity(arch.model_id, context, per_instance * line.count, int(replicas * line.count))
