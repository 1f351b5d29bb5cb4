"""Plans for the generate golden matrix, built directly (no price snapshot or model registry), so
the goldens change only when rendering changes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from llmplan.plan.candidate import Candidate, Shape
from llmplan.providers.base import Offering, Price
from llmplan.sizing.memory import SizingResult
from llmplan.sizing.precision import Precision
from llmplan.workload import Workload

GIB = 1024**3


@dataclass(frozen=True)
class Case:
    cloud: str
    topology: str
    engine: str
    tier: str
    instance_type: str
    gpu: str
    gpu_count: int
    tp: int
    pp: int
    nodes_per_replica: int = 1
    replicas_per_node: int = 1
    nodes: int = 1
    fast_network: str | None = None
    model: str = "meta-llama/Llama-3.1-70B-Instruct"
    weights_gib: float = 131.0
    hourly: float = 10.0
    region: str = "us-east-1"
    kv_cache_dtype: str = "auto"

    @property
    def id(self) -> str:
        return f"{self.cloud}-{self.topology}-{self.engine}-{self.tier}"

    @property
    def replicas(self) -> int:
        return self.nodes // self.nodes_per_replica * self.replicas_per_node


def _c(cloud: str, region: str, **kw: object) -> Case:
    return Case(cloud=cloud, region=region, **kw)  # type: ignore[arg-type]


CASES: list[Case] = []
for cloud, region, small, small_gpu, big, big_gpu, fast, quad in (
    ("aws", "us-east-1", "g6e.xlarge", "L40S", "p5.48xlarge", "H100-80GB", "efa", "g6e.12xlarge"),
    ("gcp", "us-central1", "g2-standard-8", "L4", "a3-highgpu-8g", "H100-80GB", "gpudirect-tcpx",
     "g2-standard-48"),
    ("azure", "eastus", "Standard_NC24ads_A100_v4", "A100-80GB", "Standard_ND96isr_H100_v5",
     "H100-80GB", "infiniband", "Standard_NC96ads_A100_v4"),
):
    eight = dict(model="meta-llama/Llama-3.1-8B-Instruct", weights_gib=15.0, hourly=1.8)
    CASES += [
        _c(cloud, region, topology="single", engine="vllm", tier="on-demand", instance_type=small,
           gpu=small_gpu, gpu_count=1, tp=1, pp=1, **eight),
        _c(cloud, region, topology="single", engine="sglang", tier="spot", instance_type=small,
           gpu=small_gpu, gpu_count=1, tp=1, pp=1, kv_cache_dtype="fp8", **eight),
        _c(cloud, region, topology="single", engine="tgi", tier="reserved-1y", instance_type=quad,
           gpu=small_gpu, gpu_count=4, tp=2, pp=1, replicas_per_node=2, **eight),
        _c(cloud, region, topology="single", engine="trtllm", tier="reserved-3y",
           instance_type=big, gpu=big_gpu, gpu_count=8, tp=8, pp=1, hourly=55.0),
        _c(cloud, region, topology="dp", engine="vllm", tier="on-demand", instance_type=quad,
           gpu=small_gpu, gpu_count=4, tp=1, pp=1, replicas_per_node=4, **eight),
        _c(cloud, region, topology="replicas", engine="vllm", tier="spot", instance_type=small,
           gpu=small_gpu, gpu_count=1, tp=1, pp=1, nodes=3, **eight),
        _c(cloud, region, topology="replicas", engine="tgi", tier="on-demand", instance_type=quad,
           gpu=small_gpu, gpu_count=4, tp=4, pp=1, nodes=2, **eight),
        _c(cloud, region, topology="replicas", engine="sglang", tier="reserved-3y",
           instance_type=big, gpu=big_gpu, gpu_count=8, tp=8, pp=1, nodes=2, hourly=55.0),
        _c(cloud, region, topology="multinode", engine="vllm", tier="on-demand", instance_type=big,
           gpu=big_gpu, gpu_count=8, tp=8, pp=2, nodes_per_replica=2, nodes=2, fast_network=fast,
           model="meta-llama/Llama-3.1-405B-Instruct", weights_gib=756.0, hourly=55.0),
        _c(cloud, region, topology="multinode", engine="sglang", tier="spot", instance_type=big,
           gpu=big_gpu, gpu_count=8, tp=8, pp=2, nodes_per_replica=2, nodes=4, fast_network=fast,
           model="meta-llama/Llama-3.1-405B-Instruct", weights_gib=756.0, hourly=20.0),
        _c(cloud, region, topology="multinode", engine="vllm", tier="reserved-1y",
           instance_type=big, gpu=big_gpu, gpu_count=8, tp=8, pp=2, nodes_per_replica=2,
           nodes=2, fast_network=fast, model="meta-llama/Llama-3.1-405B-Instruct",
           weights_gib=756.0, hourly=40.0),
    ]


def workload(case: Case) -> Workload:
    return Workload(model=case.model, context=8192, concurrency=32, engine=case.engine,
                    kv_cache_dtype=case.kv_cache_dtype, tiers=(case.tier,), clouds=(case.cloud,))


def candidate(case: Case, model: str | None = None) -> Candidate:
    per_replica_gpus = case.tp * case.pp
    offering = Offering(
        cloud=case.cloud, region=case.region, instance_type=case.instance_type, gpu=case.gpu,
        gpu_count=case.gpu_count, gpu_memory_gib=80.0, vcpus=96, memory_gib=1024.0,
        interconnect="nvlink", fast_network=case.fast_network,
    )
    price = Price(hourly_usd=case.hourly, source="snapshot", as_of="2026-09-01",
                  origin="tests/generate_cases.py")
    sizing = SizingResult(
        model_id=model or case.model, parameters=70_000_000_000, active_parameters=70_000_000_000,
        gpu=case.gpu, gpu_count=per_replica_gpus, tensor_parallel=case.tp,
        pipeline_parallel=case.pp, engine=case.engine,
        precision=Precision(weights="bf16", method=None, kv_cache=case.kv_cache_dtype),
        context=8192, concurrency=max(1, -(-32 // case.replicas)),
        memory_fraction=0.9 if case.engine != "sglang" else 0.85,
        usable_bytes_per_gpu=79 * GIB, budget_bytes_per_gpu=71 * GIB,
        weights_bytes_per_gpu=int(case.weights_gib * GIB / per_replica_gpus),
        activation_bytes_per_gpu=2 * GIB, non_torch_bytes_per_gpu=1 * GIB,
        kv_cache_bytes_per_gpu=20 * GIB, kv_bytes_per_token_per_gpu=40_960,
        kv_bytes_per_request_per_gpu=40_960 * 8192, kv_tokens=524_288,
        max_concurrency=64.0, fits=True,
    )
    shape = Shape(case.tp, case.pp, case.nodes_per_replica, case.replicas_per_node)
    return Candidate(offering, shape, case.tier, price, sizing, case.nodes, case.replicas)


def hostile(case: Case, model: str) -> tuple[Candidate, Workload]:
    return candidate(case, model), replace(workload(case), model=model)


# --- reading rendered HCL back (python-hcl2 keeps strings quoted and escaped)

_META = {"count", "for_each", "depends_on", "lifecycle", "provider", "__is_block__",
         "__comments__", "__start_line__", "__end_line__"}


def hcl_unquote(raw: str) -> str:
    """The value Terraform gives a quoted HCL string or heredoc as python-hcl2 returns it."""
    import re

    if raw.startswith('"<<'):
        body = raw[1:-1]
        first = body.index("\n")
        marker = body[2:first].lstrip("-")
        assert body.endswith("\n" + marker), raw[-40:]
        text = body[first + 1:-len(marker)]
        return text.replace("$${", "${").replace("%%{", "%{")
    assert raw.startswith('"') and raw.endswith('"'), raw
    inner = raw[1:-1]
    simple = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}

    def unescape(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] == "u":
            return chr(int(esc[1:], 16))
        return simple[esc]

    text = re.sub(r"\\(u[0-9a-fA-F]{4}|[nrt\"\\])", unescape, inner)
    # Terraform's template escapes, applied after the string escapes.
    return text.replace("$${", "${").replace("%%{", "%{")


def attribute_paths(body: object, prefix: str = "") -> set[str]:
    """Dotted argument and nested-block names used in one resource body."""
    out: set[str] = set()
    items = body if isinstance(body, list) else [body]
    for item in items:
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            if key in _META and not (prefix and key == "count"):
                continue
            if key == "dynamic":
                for dyn in value if isinstance(value, list) else [value]:
                    for name, spec in dyn.items():
                        name = name.strip('"')
                        out.add(prefix + name)
                        out |= attribute_paths(spec.get("content", {}), f"{prefix}{name}.")
                continue
            out.add(prefix + key)
            blocks = value if isinstance(value, list) else [value]
            if blocks and all(isinstance(b, dict) and b.get("__is_block__") for b in blocks):
                out |= attribute_paths(blocks, f"{prefix}{key}.")
    return out


def resources(doc: dict) -> list[tuple[str, str, str, dict]]:
    """(kind, type, name, body) of every resource and data block."""
    out = []
    for kind in ("resource", "data"):
        for block in doc.get(kind, []):
            for rtype, named in block.items():
                for name, body in named.items():
                    out.append((kind, rtype.strip('"'), name.strip('"'), body))
    return out
