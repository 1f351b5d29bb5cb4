"""The pick is the cheapest fitting candidate: checked against a brute force on random workloads."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archs import deepseek_v3, llama31_8b, mixtral_8x7b
from llmplan.engines.profiles import get_engine
from llmplan.gpus import get_gpu
from llmplan.plan.select import select
from llmplan.providers.base import Catalog, Offering, Price
from llmplan.sizing.memory import parallelism_problems, size_on
from llmplan.sizing.precision import resolve_precision
from llmplan.workload import Workload

P = "2026-11-01"


def offering(
    itype: str,
    gpu: str,
    count: int,
    region: str,
    prices: dict[str, float],
    fast: str | None = None,
    cloud: str = "test",
) -> Offering:
    return Offering(
        cloud=cloud,
        region=region,
        instance_type=itype,
        gpu=gpu,
        gpu_count=count,
        gpu_memory_gib=get_gpu(gpu).memory_gb,
        vcpus=8 * count,
        memory_gib=64.0 * count,
        interconnect="nvlink" if count > 1 else "pcie",
        fast_network=fast,
        prices={t: Price(v, "snapshot", P, "test") for t, v in prices.items()},
    )


CATALOG = Catalog(
    cloud="test",
    source="snapshot",
    as_of=P,
    offerings=(
        offering("l4.1", "L4", 1, "r1", {"on-demand": 0.80, "spot": 0.35}),
        offering("l4.4", "L4", 4, "r1", {"on-demand": 4.60, "spot": 2.0}),
        offering("a10g.1", "A10G", 1, "r1", {"on-demand": 1.01}),
        offering("a10g.4", "A10G", 4, "r2", {"on-demand": 5.67, "reserved-1y": 3.6}),
        offering("l40s.1", "L40S", 1, "r1", {"on-demand": 1.86}),
        offering("l40s.4", "L40S", 4, "r2", {"on-demand": 10.5}),
        offering("a100.8", "A100-80GB", 8, "r1", {"on-demand": 32.0}, fast="efa"),
        offering("h100.8", "H100-80GB", 8, "r1", {"on-demand": 55.0, "spot": 30.0}, fast="efa"),
        offering("h100.8", "H100-80GB", 8, "r2", {"on-demand": 57.0}, fast="efa"),
        offering("h100.2", "H100-80GB", 2, "r2", {"on-demand": 14.2}),
    ),
)


def brute_force(arch, workload, tier):  # type: ignore[no-untyped-def]
    """The cheapest single-node plan; only when none fits, the cheapest multi-node one."""
    single = _brute_force(arch, workload, tier, multi_node=False)
    return single if single != math.inf else _brute_force(arch, workload, tier, multi_node=True)


def _brute_force(arch, workload, tier, multi_node):  # type: ignore[no-untyped-def]
    """Every (offering, TP, PP, nodes, replicas) written out the long way; the cheapest that fits."""
    engine = get_engine(workload.engine)
    precision = resolve_precision(arch, workload)
    one = replace(workload, concurrency=1)
    best = math.inf
    for o in CATALOG.offerings:
        price = o.price(tier)
        if price is None:
            continue
        g = o.gpu_count
        max_pp = g * (workload.max_nodes if o.fast_network else 1)
        for tp in range(1, g + 1):
            for pp in range(1, max_pp + 1):
                gpus = tp * pp
                if gpus <= g:
                    if g % gpus:
                        continue
                    per_node, nodes_per_replica = g // gpus, 1
                elif multi_node and tp == g and o.fast_network and pp <= workload.max_nodes:
                    per_node, nodes_per_replica = 1, pp
                else:
                    continue
                if parallelism_problems(arch, tp, pp, precision):
                    continue
                r = size_on(arch, one, get_gpu(o.gpu), engine, tp, pp)
                if r.kv_cache_bytes_per_gpu <= 0 or r.max_concurrency < 1:
                    continue
                replicas = 1
                while replicas * r.max_concurrency < workload.concurrency:
                    replicas += 1
                nodes = math.ceil(replicas / per_node) * nodes_per_replica
                if nodes <= 64:
                    best = min(best, price.hourly_usd * nodes)
    return best


ARCHS = {"dense": llama31_8b(), "moe": mixtral_8x7b(), "mla": deepseek_v3()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arch=st.sampled_from(["dense", "moe", "mla"]),
    context=st.sampled_from([1024, 4096, 8192, 32768]),
    concurrency=st.integers(min_value=1, max_value=300),
    precision=st.sampled_from([None, "fp8", "int4"]),
    kv=st.sampled_from(["auto", "fp8"]),
    tier=st.sampled_from(["on-demand", "spot", "reserved-1y"]),
    max_nodes=st.integers(min_value=1, max_value=4),
)
def test_pick_equals_brute_force_minimum(
    arch, context, concurrency, precision, kv, tier, max_nodes
):  # type: ignore[no-untyped-def]
    a = ARCHS[arch]
    w = Workload(
        model=a.model_id,
        context=context,
        concurrency=concurrency,
        precision=precision,
        kv_cache_dtype=kv,
        kind="batch",
        max_nodes=max_nodes,
    )
    sel = select(a, w, get_engine("vllm"), [CATALOG], tiers=[tier])
    expected = brute_force(a, w, tier)
    if expected == math.inf:
        assert sel.candidates == []
    else:
        assert sel.candidates, "brute force found a fit the selection missed"
        assert sel.candidates[0].hourly_usd == pytest.approx(expected)
        assert sel.candidates[0].max_concurrency >= concurrency


def test_candidates_are_sorted_and_fit() -> None:
    w = Workload(model="x", context=8192, concurrency=32, kind="batch")
    sel = select(llama31_8b(), w, get_engine("vllm"), [CATALOG], tiers=["on-demand"])
    prices = [c.hourly_usd for c in sel.candidates]
    assert prices == sorted(prices)
    assert all(c.max_concurrency >= 32 for c in sel.candidates)


def test_realtime_gets_no_spot_unless_allowed() -> None:
    w = Workload(model="x", context=4096, concurrency=4)
    sel = select(llama31_8b(), w, get_engine("vllm"), [CATALOG], tiers=["on-demand", "spot"])
    assert {c.tier for c in sel.candidates} == {"on-demand"}
    assert "--allow-spot" in sel.rejected.get("test:l4.1", "") or sel.candidates
    allowed = select(
        llama31_8b(),
        replace(w, allow_spot=True),
        get_engine("vllm"),
        [CATALOG],
        tiers=["on-demand", "spot"],
    )
    assert allowed.candidates[0].tier == "spot"


def test_multi_node_only_with_a_fast_network() -> None:
    # 405B-class weights that need two 8-GPU nodes: only the EFA types may span nodes.
    big = replace(
        llama31_8b(),
        total_parameters=405_000_000_000,
        num_layers=126,
        num_attention_heads=128,
        hidden_size=16384,
    )
    w = Workload(model="x", context=4096, concurrency=1, kind="batch", max_nodes=2)
    sel = select(big, w, get_engine("vllm"), [CATALOG], tiers=["on-demand"])
    assert sel.candidates
    for c in sel.candidates:
        assert c.shape.nodes_per_replica == 2 and c.offering.fast_network == "efa"


def test_gpu_and_region_filters() -> None:
    w = Workload(model="x", context=4096, concurrency=4, gpus=("h100",), regions=("r2",))
    sel = select(llama31_8b(), w, get_engine("vllm"), [CATALOG])
    assert {(c.offering.gpu, c.offering.region) for c in sel.candidates} == {("H100-80GB", "r2")}


def test_headroom_is_capacity_over_the_whole_demand() -> None:
    w = Workload(model="x", context=8192, concurrency=200, kind="batch")
    sel = select(llama31_8b(), w, get_engine("vllm"), [CATALOG], tiers=["on-demand"])
    for c in sel.candidates:
        # 200 requests spread over the replicas: capacity of all replicas over all 200.
        assert c.headroom == pytest.approx(c.max_concurrency / 200)
        assert c.headroom >= 1
