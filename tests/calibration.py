"""Run the sizing model on each collected vLLM start-up log (tests/fixtures/vllm_startup)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from llmplan.engines.profiles import get_engine
from llmplan.errors import UsageError
from llmplan.gpus import GIB, canonical_gpu_name, get_gpu
from llmplan.model.registry import load_model
from llmplan.sizing.memory import size_on
from llmplan.workload import Workload

FIXTURES = Path(__file__).parent / "fixtures" / "vllm_startup"

# Checkpoints whose config.json architecture fields equal a bundled model's (same layers, widths,
# heads, vocab): derivatives and quantized re-uploads. The precision comes from the fixture.
SAME_ARCHITECTURE = {
    "Qwen/Qwen2-7B-Instruct": "Qwen/Qwen2.5-7B-Instruct",
    "RedHatAI/Llama-3.3-70B-Instruct-fp8-dynamic": "meta-llama/Llama-3.3-70B-Instruct",
    "Qwen/Qwen3-235B-A22B-FP8": "Qwen/Qwen3-235B-A22B",
    "neuralmagic/Meta-Llama-3.1-70B-Instruct-quantized.w8a8": "meta-llama/Llama-3.1-70B",
    "kaitchup/Phi-4-AutoRound-GPTQ-4bit": "microsoft/phi-4",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B": "Qwen/Qwen2.5-14B-Instruct",
}
_PRECISION = {
    "fp8": ("fp8", "fp8"),
    "w8a8": ("int8", "w8a8"),
    "gptq": ("int4", "gptq"),
    "awq": ("int4", "awq"),
    "mxfp4": (None, None),
}


@dataclass(frozen=True)
class Case:
    slug: str
    logged: dict[str, float | None]
    weights_gib: float
    kv_gib: float
    kv_tokens: int
    sliding: bool


def load_fixtures() -> list[dict[str, object]]:
    return [json.loads(p.read_text()) | {"slug": p.stem} for p in sorted(FIXTURES.glob("*.json"))]


def run_case(fx: dict[str, object]) -> Case | None:
    """Our estimate for one fixture, or None when it names hardware or a model we do not know."""
    gpu_name = fx.get("gpu")
    if not isinstance(gpu_name, str) or canonical_gpu_name(gpu_name) is None:
        return None
    model = str(fx["model"])
    try:
        arch = load_model(SAME_ARCHITECTURE.get(model, model))
    except UsageError:
        return None
    precision, method = None, None
    quant = str(fx.get("quantization") or "").lower()
    for marker, (p, m) in _PRECISION.items():
        if marker in quant or (marker == "w8a8" and "int8" in quant):
            precision, method = p, m
            break
    workload = Workload(
        model=arch.model_id,
        context=int(fx.get("max_model_len") or arch.max_position_embeddings),  # type: ignore[call-overload]
        precision=precision,
        quantization=method,
        kv_cache_dtype="fp8" if str(fx.get("kv_cache_dtype", "auto")).startswith("fp8") else "auto",
        memory_fraction=float(fx.get("gpu_memory_utilization") or 0.9),  # type: ignore[arg-type]
        max_batched_tokens=fx.get("max_num_batched_tokens") or None,  # type: ignore[arg-type]
    )
    tp = int(fx.get("tensor_parallel") or 1)  # type: ignore[call-overload]
    pp = int(fx.get("pipeline_parallel") or 1)  # type: ignore[call-overload]
    r = size_on(arch, workload, get_gpu(gpu_name), get_engine("vllm"), tp, pp)
    logged = fx["logged"]
    assert isinstance(logged, dict)
    return Case(
        slug=str(fx["slug"]),
        logged=logged,
        weights_gib=r.weights_bytes_per_gpu / GIB,
        kv_gib=r.kv_cache_bytes_per_gpu / GIB,
        kv_tokens=r.kv_tokens,
        sliding=bool(arch.sliding_window_layers),
    )


def errors(case: Case) -> dict[str, float]:
    """Relative errors (estimate / logged - 1) for what the log printed."""
    out: dict[str, float] = {}
    for key, ours in (
        ("weights", case.weights_gib),
        ("kv_gib", case.kv_gib),
        ("kv_tokens", float(case.kv_tokens)),
    ):
        logged_key = {"weights": "weights_gib", "kv_gib": "kv_cache_gib", "kv_tokens": "kv_tokens"}[
            key
        ]
        value = case.logged.get(logged_key)
        if value:
            out[key] = ours / float(value) - 1
    return out


if __name__ == "__main__":
    import statistics

    table: dict[str, list[float]] = {"weights": [], "kv_gib": [], "kv_tokens": []}
    for fx in load_fixtures():
        case = run_case(fx)
        if case is None:
            print(f"{fx['slug']:70s} skipped (GPU or model unknown)")
            continue
        errs = errors(case)
        for k, v in errs.items():
            if not (k == "kv_tokens" and case.sliding):
                table[k].append(abs(v))
        shown = "  ".join(f"{k} {v * 100:+6.1f}%" for k, v in errs.items())
        flag = " (sliding window)" if case.sliding else ""
        print(f"{case.slug:70s} {shown}{flag}")
    for k, v in table.items():
        if v:
            print(
                f"{k:10s} n={len(v):2d} median |err| {statistics.median(v) * 100:.1f}%  "
                f"worst {max(v) * 100:.1f}%"
            )
