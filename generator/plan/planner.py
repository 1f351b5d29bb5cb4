"""From a workload to a ranked selection: load model, engine and prices, select, explain failure.

Shared by ``plan``, ``generate`` and ``check`` so that they all agree on what is cheapest.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmplan.catalog.pricing import PricedCatalogs, load_catalogs, select_clouds
from llmplan.engines.profiles import EngineProfile, get_engine
from llmplan.errors import UsageError
from llmplan.gpus import get_gpu
from llmplan.model.architecture import ModelArchitecture
from llmplan.model.registry import load_model
from llmplan.plan.candidate import Selection
from llmplan.plan.select import select
from llmplan.providers.base import Offering
from llmplan.workload import Workload


@dataclass(frozen=True)
class PlanResult:
    workload: Workload
    arch: ModelArchitecture
    engine: EngineProfile
    prices: PricedCatalogs
    selection: Selection


def plan(
    workload: Workload,
    *,
    pricing: str = "snapshot",
    clouds: tuple[str, ...] = (),
    require_fit: bool = True,
) -> PlanResult:
    arch = load_model(workload.model)
    engine = get_engine(workload.engine)
    chosen = select_clouds(clouds or workload.clouds)
    prices = load_catalogs(chosen, pricing, workload.regions)
    selection = select(arch, workload, engine, prices.catalogs)
    if require_fit and not selection.candidates:
        raise UsageError(no_fit_message(workload, arch, engine, prices, selection))
    return PlanResult(workload, arch, engine, prices, selection)


def no_fit_message(
    workload: Workload,
    arch: ModelArchitecture,
    engine: EngineProfile,
    prices: PricedCatalogs,
    selection: Selection,
) -> str:
    """One line: why nothing fits, and what would."""
    from llmplan.sizing.fit import fewest_gpus

    biggest = max(
        (o for c in prices.catalogs for o in c.offerings if _matches(o, workload)),
        key=lambda o: (o.gpu_memory_gib * o.gpu_count, o.gpu_memory_gib),
        default=None,
    )
    why = next(iter(selection.rejected.values()), "no offering matches the filters")
    if biggest is not None:
        key = f"{biggest.cloud}:{biggest.instance_type}"
        why = selection.rejected.get(key, why)
    hint = ""
    if biggest is not None:
        result = fewest_gpus(
            arch,
            workload,
            get_gpu(biggest.gpu),
            engine,
            max_gpus=biggest.gpu_count * workload.max_nodes,
        )
        if result.suggestions:
            hint = "; would fit: " + "; or ".join(result.suggestions[:3])
    return (
        f"no instance fits {arch.model_id} at context {workload.context:,} x concurrency "
        f"{workload.concurrency} (tiers {', '.join(selection.considered_tiers)}): {why}{hint}"
    )


def _matches(offering: Offering, workload: Workload) -> bool:
    """Whether the --gpu and --region filters let this offering in (as selection applies them)."""
    from llmplan.plan.select import gpu_filter

    if workload.regions and offering.region not in workload.regions:
        return False
    wanted = gpu_filter(workload)
    return wanted is None or offering.gpu in wanted
