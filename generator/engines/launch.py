"""The serving engine's launch from a plan: container image, flags, and the shell lines that run it.

Pure: a :class:`LaunchSpec` (what the plan decided) becomes a :class:`Launch` (argument lists per
node role). Arguments stay lists until :func:`shell_line` quotes them with ``shlex.quote``, so a
hostile model name can never become shell syntax. Values only known on the machine at boot (the head
node's address, this node's rank) are :class:`ShellVar` references, rendered as ``"$NAME"``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from llmplan.errors import UsageError

# Container images pinned to a release, so a re-apply months later starts the same engine. The
# versions are the newest releases of each engine's PyPI package (vllm, sglang, tensorrt-llm) as of
# 2026-11-22, whose container tags follow the package version; TGI (maintenance mode) is its last
# 3.x release. Every rendered module exposes ``engine_image`` to override them.
ENGINE_IMAGES: dict[str, str] = {
    "vllm": "vllm/vllm-openai:v0.33.0",
    "sglang": "lmsysorg/sglang:v0.5.23",
    "tgi": "ghcr.io/huggingface/text-generation-inference:3.3.4",
    "trtllm": "nvcr.io/nvidia/tensorrt-llm/release:1.2.1",
}
ENGINE_PORTS: dict[str, int] = {"vllm": 8000, "sglang": 30000, "tgi": 8080, "trtllm": 8000}
RAY_PORT = 6379
SGLANG_DIST_PORT = 5000
HF_CACHE = "/opt/llmplan/hf-cache"
CONTAINER_NAME = "llmplan-engine"

# Workload --quantization -> each engine's flag value (None: the engine detects it from the
# checkpoint, so no flag). Runtime FP8 is the only method engines apply to a 16-bit checkpoint.
_QUANT_FLAGS: dict[str, dict[str, str | None]] = {
    "vllm": {"fp8": "fp8", "awq": "awq", "gptq": "gptq", "w8a8": None, "mxfp4": "mxfp4",
             "bitsandbytes": "bitsandbytes"},
    "sglang": {"fp8": "fp8", "awq": "awq", "gptq": "gptq", "w8a8": "w8a8_int8", "mxfp4": "mxfp4",
               "bitsandbytes": "bitsandbytes"},
    "tgi": {"fp8": "fp8", "awq": "awq", "gptq": "gptq", "w8a8": "compressed-tensors",
            "mxfp4": None, "bitsandbytes": "bitsandbytes"},
    "trtllm": {"fp8": None, "awq": None, "gptq": None, "w8a8": None, "mxfp4": None,
               "bitsandbytes": None},
}
_KV_FP8 = {"vllm": "fp8", "sglang": "fp8_e4m3", "tgi": "fp8_e4m3fn", "trtllm": None}


@dataclass(frozen=True)
class ShellVar:
    """A value the boot script knows only at run time; rendered as a double-quoted reference."""

    name: str

    def __str__(self) -> str:
        return f"${self.name}"


Arg = str | ShellVar


@dataclass(frozen=True)
class LaunchSpec:
    """What the plan decided for one replica and how replicas share a node."""

    engine: str
    model: str
    tensor_parallel: int
    pipeline_parallel: int
    nodes_per_replica: int
    replicas_per_node: int
    gpus_per_node: int
    context: int
    max_seqs: int
    memory_fraction: float
    kv_cache_dtype: str = "auto"
    quantization: str | None = None
    max_batched_tokens: int | None = None
    kv_tokens: int = 0


@dataclass(frozen=True)
class Container:
    """One ``docker run``: its name, published port, GPUs, and the engine arguments."""

    name: str
    port: int
    gpus: str
    args: tuple[Arg, ...]
    entrypoint: str | None = None
    env: tuple[str, ...] = ()


@dataclass(frozen=True)
class Launch:
    """The containers of each node role, plus the flags for checks and tests to read."""

    engine: str
    image: str
    port: int
    head: tuple[Container, ...]
    worker: tuple[Container, ...] = ()
    # After the head's containers start (vLLM + Ray: the serve command run inside the head).
    head_exec: tuple[Arg, ...] = ()
    flags: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(c.port for c in self.head)


NODE_RANK = ShellVar("NODE_RANK")
HEAD_ADDR = ShellVar("HEAD_ADDR")
NODE_IP = ShellVar("NODE_IP")
DIST_INIT_ADDR = ShellVar("DIST_INIT_ADDR")


def supports(engine: str, tensor_parallel: int, pipeline_parallel: int, nodes_per_replica: int,
             replicas_per_node: int) -> str | None:
    """Why ``engine`` cannot run this shape (None when it can)."""
    if engine == "tgi":
        if pipeline_parallel > 1:
            return "TGI shards with tensor parallelism only (no pipeline parallel)"
        if nodes_per_replica > 1:
            return "TGI cannot span nodes"
    if engine == "trtllm" and nodes_per_replica > 1:
        return "trtllm-serve multi-node needs an MPI launcher llmplan does not render"
    if engine not in ENGINE_IMAGES:
        return f"unknown engine {engine!r}"
    return None


def build(spec: LaunchSpec, image: str | None = None) -> Launch:
    """The launch for ``spec``; raises UsageError when the engine cannot run that shape."""
    why = supports(spec.engine, spec.tensor_parallel, spec.pipeline_parallel,
                   spec.nodes_per_replica, spec.replicas_per_node)
    if why:
        raise UsageError(f"cannot launch {spec.engine}: {why}")
    if spec.context < 1 or spec.max_seqs < 1:
        raise UsageError("context and max concurrency must be at least 1")
    builder = {"vllm": _vllm, "sglang": _sglang, "tgi": _tgi, "trtllm": _trtllm}[spec.engine]
    return builder(spec, image or ENGINE_IMAGES[spec.engine])


def _quant(spec: LaunchSpec) -> str | None:
    if spec.quantization is None:
        return None
    return _QUANT_FLAGS[spec.engine].get(spec.quantization)


def _fraction(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value < 1 else "1.0"


def _vllm(spec: LaunchSpec, image: str) -> Launch:
    port = ENGINE_PORTS["vllm"]
    flags: dict[str, str] = {
        "--tensor-parallel-size": str(spec.tensor_parallel),
        "--pipeline-parallel-size": str(spec.pipeline_parallel),
    }
    if spec.replicas_per_node > 1:
        flags["--data-parallel-size"] = str(spec.replicas_per_node)
    flags |= {
        "--max-model-len": str(spec.context),
        "--max-num-seqs": str(spec.max_seqs),
        "--gpu-memory-utilization": _fraction(spec.memory_fraction),
    }
    if spec.kv_cache_dtype == "fp8":
        flags["--kv-cache-dtype"] = "fp8"
    quant = _quant(spec)
    if quant:
        flags["--quantization"] = quant
    if spec.max_batched_tokens:
        flags["--max-num-batched-tokens"] = str(spec.max_batched_tokens)
    serve: list[Arg] = [spec.model, "--host", "0.0.0.0", "--port", str(port)]
    for key, value in flags.items():
        serve += [key, value]
    if spec.nodes_per_replica == 1:
        head = Container(CONTAINER_NAME, port, "all", tuple(serve))
        return Launch("vllm", image, port, (head,), flags=flags)
    # Multi-node: every node runs a Ray node in the engine image; the head then runs `vllm serve`
    # inside its container with the Ray executor (vLLM's documented multi-node route).
    flags["--distributed-executor-backend"] = "ray"
    serve += ["--distributed-executor-backend", "ray"]
    env = ("VLLM_HOST_IP",)
    ray_head: tuple[Arg, ...] = ("-c", "ray start --head --port=6379 --block")
    ray_worker: tuple[Arg, ...] = ("-c", f'ray start --address="$HEAD_ADDR:{RAY_PORT}" --block')
    head = Container(CONTAINER_NAME, port, "all", ray_head, entrypoint="/bin/bash", env=env)
    worker = Container(CONTAINER_NAME, port, "all", ray_worker, entrypoint="/bin/bash",
                       env=(*env, "HEAD_ADDR"))
    return Launch("vllm", image, port, (head,), (worker,), head_exec=("vllm", "serve", *serve),
                  flags=flags)


def _sglang(spec: LaunchSpec, image: str) -> Launch:
    port = ENGINE_PORTS["sglang"]
    flags: dict[str, str] = {"--tp-size": str(spec.tensor_parallel)}
    if spec.pipeline_parallel > 1:
        flags["--pp-size"] = str(spec.pipeline_parallel)
    if spec.replicas_per_node > 1:
        flags["--dp-size"] = str(spec.replicas_per_node)
    flags |= {
        "--mem-fraction-static": _fraction(spec.memory_fraction),
        "--context-length": str(spec.context),
        # SGLang's limit counts the whole server, all data-parallel ranks together.
        "--max-running-requests": str(spec.max_seqs * spec.replicas_per_node),
    }
    if spec.kv_cache_dtype == "fp8":
        flags["--kv-cache-dtype"] = "fp8_e4m3"
    quant = _quant(spec)
    if quant:
        flags["--quantization"] = quant
    if spec.max_batched_tokens:
        flags["--chunked-prefill-size"] = str(spec.max_batched_tokens)
    args: list[Arg] = ["python3", "-m", "sglang.launch_server", "--model-path", spec.model,
                       "--host", "0.0.0.0", "--port", str(port)]
    for key, value in flags.items():
        args += [key, value]
    if spec.nodes_per_replica == 1:
        return Launch("sglang", image, port, (Container(CONTAINER_NAME, port, "all", tuple(args)),),
                      flags=flags)
    flags |= {"--nnodes": str(spec.nodes_per_replica)}
    dist: list[Arg] = ["--nnodes", str(spec.nodes_per_replica), "--node-rank", NODE_RANK,
                       "--dist-init-addr", DIST_INIT_ADDR]
    node = Container(CONTAINER_NAME, port, "all", (*args, *dist))
    return Launch("sglang", image, port, (node,), (node,), flags=flags)


def _gpu_sets(spec: LaunchSpec) -> list[str]:
    """Docker ``--gpus`` values splitting a node's GPUs between its replicas."""
    if spec.replicas_per_node == 1:
        return ["all"]
    per = spec.tensor_parallel * spec.pipeline_parallel
    return ['"device=' + ",".join(str(g) for g in range(i * per, (i + 1) * per)) + '"'
            for i in range(spec.replicas_per_node)]


def _tgi(spec: LaunchSpec, image: str) -> Launch:
    port = ENGINE_PORTS["tgi"]
    # max_input < max_total <= max_batch_total: TGI refuses to start otherwise.
    total = spec.context
    batch_total = max(spec.kv_tokens, total)
    flags: dict[str, str] = {
        "--num-shard": str(spec.tensor_parallel),
        "--max-input-tokens": str(max(1, total - 1)),
        "--max-total-tokens": str(total),
        "--max-batch-total-tokens": str(batch_total),
        "--max-concurrent-requests": str(spec.max_seqs),
        "--cuda-memory-fraction": _fraction(spec.memory_fraction),
    }
    if spec.kv_cache_dtype == "fp8":
        flags["--kv-cache-dtype"] = "fp8_e4m3fn"
    quant = _quant(spec)
    if quant:
        flags["--quantize"] = quant
    containers = _container_per_gpu_set(
        spec, port, flags, lambda p: ["--model-id", spec.model, "--hostname", "0.0.0.0",
                                      "--port", str(p)])
    notes: tuple[str, ...] = ()
    if len(containers) > 1:
        notes = (f"TGI has no data parallelism: {len(containers)} containers on ports "
                 f"{port}-{port + len(containers) - 1}, one per GPU set",)
    return Launch("tgi", image, port, containers, flags=flags, notes=notes)


def _container_per_gpu_set(
    spec: LaunchSpec, port: int, flags: dict[str, str], head: Callable[[int], list[Arg]]
) -> tuple[Container, ...]:
    """One server per GPU set on consecutive ports, for engines without data parallelism."""
    containers = []
    for i, gpus in enumerate(_gpu_sets(spec)):
        args = head(port + i)
        for key, value in flags.items():
            args += [key, value]
        name = CONTAINER_NAME if i == 0 else f"{CONTAINER_NAME}-{i}"
        containers.append(Container(name, port + i, gpus, tuple(args)))
    return tuple(containers)


def _trtllm(spec: LaunchSpec, image: str) -> Launch:
    port = ENGINE_PORTS["trtllm"]
    flags: dict[str, str] = {
        "--backend": "pytorch",
        "--tp_size": str(spec.tensor_parallel),
        "--pp_size": str(spec.pipeline_parallel),
        "--max_batch_size": str(spec.max_seqs),
        "--max_num_tokens": str(spec.max_batched_tokens or 8192),
        "--max_seq_len": str(spec.context),
        "--kv_cache_free_gpu_memory_fraction": _fraction(spec.memory_fraction),
    }
    containers = _container_per_gpu_set(
        spec, port, flags, lambda p: ["trtllm-serve", spec.model, "--host", "0.0.0.0",
                                      "--port", str(p)])
    notes: tuple[str, ...] = ()
    if len(containers) > 1:
        notes = (f"{len(containers)} trtllm-serve containers on ports "
                 f"{port}-{port + len(containers) - 1}, one per GPU set",)
    return Launch("trtllm", image, port, containers, flags=flags, notes=notes)


# --- shell rendering


def quote(arg: Arg) -> str:
    """One argument for a POSIX shell: literals single-quoted, run-time values as "$NAME"."""
    if isinstance(arg, ShellVar):
        return f'"${arg.name}"'
    return shlex.quote(arg)


def shell_line(args: tuple[Arg, ...] | list[Arg]) -> str:
    return " ".join(quote(a) for a in args)


def docker_run(container: Container, image: str | ShellVar, *, network_host: bool,
               extra: tuple[Arg, ...] = ()) -> list[Arg]:
    """The ``docker run`` argument list for one container (token passed by name, never value).

    ``extra``: options the cloud's node needs (e.g. its RDMA devices), placed before the image.
    """
    args: list[Arg] = ["docker", "run", "-d", "--name", container.name,
                       "--restart", "unless-stopped", "--gpus", container.gpus, "--ipc=host",
                       "--shm-size", "16g", "-v", f"{HF_CACHE}:/root/.cache/huggingface",
                       "-e", "HF_TOKEN", "-e", "HUGGING_FACE_HUB_TOKEN"]
    for name in container.env:
        args += ["-e", name]
    # Multi-node engines talk NCCL/Ray/torch.distributed on many ports: host networking.
    args += ["--network", "host"] if network_host else ["-p", f"{container.port}:{container.port}"]
    args += list(extra)
    if container.entrypoint:
        args += ["--entrypoint", container.entrypoint]
    args.append(image)
    args += list(container.args)
    return args
