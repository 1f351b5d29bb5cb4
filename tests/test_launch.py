"""The engine launch: flags per engine from a plan, refusals, and shell quoting."""

from __future__ import annotations

import shlex
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmplan.engines.launch import (
    ENGINE_IMAGES,
    LaunchSpec,
    ShellVar,
    build,
    docker_run,
    shell_line,
    supports,
)
from llmplan.errors import UsageError

BASE = LaunchSpec(engine="vllm", model="meta-llama/Llama-3.1-70B-Instruct", tensor_parallel=4,
                  pipeline_parallel=1, nodes_per_replica=1, replicas_per_node=2, gpus_per_node=8,
                  context=8192, max_seqs=24, memory_fraction=0.9, kv_cache_dtype="fp8",
                  quantization="fp8", max_batched_tokens=4096, kv_tokens=300_000)


def _pairs(args: tuple[object, ...]) -> dict[str, str]:
    text = [str(a) for a in args]
    return {a: text[i + 1] for i, a in enumerate(text[:-1]) if a.startswith("--")}


def test_vllm_flags() -> None:
    launch = build(BASE)
    assert launch.image == ENGINE_IMAGES["vllm"] and launch.image.startswith("vllm/vllm-openai:v")
    flags = _pairs(launch.head[0].args)
    assert flags["--tensor-parallel-size"] == "4"
    assert flags["--pipeline-parallel-size"] == "1"
    assert flags["--data-parallel-size"] == "2"
    assert flags["--max-model-len"] == "8192"
    assert flags["--max-num-seqs"] == "24"
    assert flags["--gpu-memory-utilization"] == "0.9"
    assert flags["--kv-cache-dtype"] == "fp8"
    assert flags["--quantization"] == "fp8"
    assert flags["--max-num-batched-tokens"] == "4096"
    assert launch.head[0].args[0] == BASE.model


def test_vllm_multinode_uses_ray() -> None:
    launch = build(replace(BASE, tensor_parallel=8, pipeline_parallel=2, nodes_per_replica=2,
                           replicas_per_node=1))
    assert "ray start --head" in " ".join(map(str, launch.head[0].args))
    assert "ray start --address=" in " ".join(map(str, launch.worker[0].args))
    serve = _pairs(launch.head_exec)
    assert serve["--tensor-parallel-size"] == "8" and serve["--pipeline-parallel-size"] == "2"
    assert serve["--distributed-executor-backend"] == "ray"
    assert launch.head_exec[:2] == ("vllm", "serve")


def test_sglang_flags_single_and_multinode() -> None:
    single = build(replace(BASE, engine="sglang"))
    flags = _pairs(single.head[0].args)
    assert flags["--tp-size"] == "4" and flags["--dp-size"] == "2"
    assert flags["--mem-fraction-static"] == "0.9"
    assert flags["--context-length"] == "8192"
    assert flags["--max-running-requests"] == "48"
    assert flags["--host"] == "0.0.0.0"
    assert flags["--kv-cache-dtype"] == "fp8_e4m3"
    multi = build(replace(BASE, engine="sglang", tensor_parallel=8, pipeline_parallel=2,
                          nodes_per_replica=2, replicas_per_node=1))
    args = multi.head[0].args
    assert _pairs(args)["--nnodes"] == "2" and _pairs(args)["--pp-size"] == "2"
    assert ShellVar("NODE_RANK") in args and ShellVar("DIST_INIT_ADDR") in args
    assert multi.worker == multi.head


def test_tgi_flags_and_one_container_per_replica() -> None:
    launch = build(replace(BASE, engine="tgi"))
    assert len(launch.head) == 2
    assert [c.gpus for c in launch.head] == ['"device=0,1,2,3"', '"device=4,5,6,7"']
    assert [c.port for c in launch.head] == [8080, 8081]
    flags = _pairs(launch.head[0].args)
    assert flags["--num-shard"] == "4"
    assert int(flags["--max-input-tokens"]) < int(flags["--max-total-tokens"]) == 8192
    assert int(flags["--max-batch-total-tokens"]) >= 8192
    assert flags["--quantize"] == "fp8"


def test_trtllm_flags() -> None:
    launch = build(replace(BASE, engine="trtllm", replicas_per_node=1, tensor_parallel=8))
    args = launch.head[0].args
    assert args[0] == "trtllm-serve"
    flags = _pairs(args)
    assert flags["--tp_size"] == "8" and flags["--pp_size"] == "1"
    assert flags["--max_batch_size"] == "24" and flags["--max_num_tokens"] == "4096"


@pytest.mark.parametrize(("engine", "pp", "nodes", "reason"), [
    ("tgi", 2, 1, "pipeline"),
    ("tgi", 1, 2, "cannot span nodes"),
    ("trtllm", 1, 2, "multi-node"),
])
def test_unsupported_shapes(engine: str, pp: int, nodes: int, reason: str) -> None:
    assert reason in (supports(engine, 8, pp, nodes, 1) or "")
    with pytest.raises(UsageError, match=reason):
        build(replace(BASE, engine=engine, pipeline_parallel=pp, nodes_per_replica=nodes,
                      replicas_per_node=1))


def test_docker_run_passes_the_token_by_name_only() -> None:
    launch = build(BASE)
    args = [str(a) for a in docker_run(launch.head[0], ShellVar("ENGINE_IMAGE"),
                                       network_host=False)]
    assert "--ipc=host" in args and args[args.index("--gpus") + 1] == "all"
    assert args[args.index("-e") + 1] == "HF_TOKEN"
    assert not any("HF_TOKEN=" in a for a in args)
    assert "$ENGINE_IMAGE" in args


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_shell_line_round_trips(words: list[str]) -> None:
    words = [w.replace("\x00", "") for w in words]
    line = shell_line([*words, ShellVar("HEAD_ADDR")])
    assert shlex.split(line) == [*words, "$HEAD_ADDR"]
