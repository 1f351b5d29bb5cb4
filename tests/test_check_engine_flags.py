"""Reading what is served: engine command lines, container specs, env, tags and config."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from llmplan.model.references import resolve_model
from llmplan.serving.intent import intent_from_labels, load_config
from llmplan.serving.scan import scan_text, scan_value
from llmplan.serving.served import Served
from llmplan.terraform.values import Unknown


def _one(text: str, metadata: dict[str, object] | None = None) -> Served:
    (served,) = scan_text(text, "f", 1, "o", metadata).served
    return served


@pytest.mark.parametrize(("script", "engine", "model", "tp"), [
    ("vllm serve meta-llama/Llama-3.1-8B-Instruct --tensor-parallel-size 2", "vllm",
     "meta-llama/Llama-3.1-8B-Instruct", 2),
    ("python3 -m vllm.entrypoints.openai.api_server --model m/x -tp=4", "vllm", "m/x", 4),
    ("docker run --gpus all -p 8000:8000 vllm/vllm-openai:v0.10.2 --model m/x", "vllm", "m/x",
     None),
    ("python -m sglang.launch_server --model-path m/x --tp 8", "sglang", "m/x", 8),
    ("text-generation-launcher --model-id m/x --num-shard 2", "tgi", "m/x", 2),
    ("docker run ghcr.io/huggingface/text-generation-inference:3.0 --model-id m/x", "tgi",
     "m/x", None),
    ("trtllm-serve m/x --tp_size 4 --max_seq_len 8192", "trtllm", "m/x", 4),
])
def test_engine_command_lines(script: str, engine: str, model: str, tp: int | None) -> None:
    served = _one(f"#!/bin/bash\nset -e\n{script}\n")
    assert (served.engine, served.model, served.tp) == (engine, model, tp)


def test_flags_memory_context_quantization() -> None:
    served = _one("vllm serve m/x --max-model-len 32768 --gpu-memory-utilization=0.85 "
                  "--max-num-seqs 64 --quantization awq --kv-cache-dtype fp8 --dtype half "
                  "-pp 2 --data-parallel-size 2")
    assert (served.context, served.memory_fraction, served.max_num_seqs) == (32768, 0.85, 64)
    assert (served.quantization, served.kv_cache_dtype, served.dtype) == ("awq", "fp8", "half")
    assert (served.pp, served.dp) == (2, 2)


def test_continuations_variables_arrays_and_metadata() -> None:
    script = """#!/bin/bash
MODEL=$(get_metadata "model-name" "fallback/model")
LEN=4096
ARGS=(
    --model "$MODEL"      # the model
    --max-model-len "${LEN}"
)
docker run -d --gpus all \\
  vllm/vllm-openai:latest "${ARGS[@]}" \\
  --tensor-parallel-size ${TP:-2}
"""
    served = _one(script, {"model-name": "google/gemma-3-12b-it"})
    assert (served.model, served.context, served.tp) == ("google/gemma-3-12b-it", 4096, 2)


def test_unresolved_values_are_unknown() -> None:
    served = _one("vllm serve ${var.model} --tensor-parallel-size ${var.tp} --max-model-len $LEN")
    assert isinstance(served.model, Unknown) and isinstance(served.tp, Unknown)
    assert isinstance(served.context, Unknown)


def test_docker_gpus_option_counts_devices() -> None:
    served = _one('docker run --gpus \'"device=0,1"\' vllm/vllm-openai:v0.10.2 --model m/x')
    assert served.gpus == 2


def test_exact_lines_point_at_the_command() -> None:
    (served,) = scan_text("#!/bin/bash\n\necho hi\nvllm serve m/x \\\n  -tp 2\n", "f", 10, "o",
                          exact=True).served
    assert served.line == 13


def test_base64_user_data_is_decoded() -> None:
    encoded = base64.b64encode(b"#!/bin/bash\nvllm serve m/x -tp 2\n").decode()
    assert _one(encoded).tp == 2


def test_kubernetes_manifest_with_gpu_request_and_node_selector() -> None:
    manifest = """
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      nodeSelector:
        node.kubernetes.io/instance-type: g5.12xlarge
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.10.2
          command: ["python3", "-m", "vllm.entrypoints.openai.api_server"]
          args: ["--model", "m/x", "--tensor-parallel-size", "4"]
          resources:
            limits:
              nvidia.com/gpu: "4"
"""
    served = _one(manifest)
    assert (served.engine, served.model, served.tp, served.gpus) == ("vllm", "m/x", 4, 4)
    assert served.node_selector == {"node.kubernetes.io/instance-type": "g5.12xlarge"}


def test_sh_c_command_and_leaderworkerset_size() -> None:
    manifest = """
kind: LeaderWorkerSet
spec:
  leaderWorkerTemplate:
    size: 4
    leaderTemplate:
      spec:
        containers:
          - name: leader
            image: my-registry/vllm:custom
            command: ["sh", "-c", "ray start --head; python3 -m vllm.entrypoints.openai.api_server --model m/x --pipeline-parallel-size 4"]
            resources:
              limits:
                nvidia.com/gpu: "1"
"""
    served = _one(manifest)
    assert (served.pp, served.gpus, served.group_size) == (4, 1, 4)


def test_ecs_container_definitions_json() -> None:
    definitions = json.dumps([{
        "name": "vllm", "image": "vllm/vllm-openai:v0.10.2",
        "command": ["--tensor-parallel-size", "4", "--model", "m/x"],
        "resourceRequirements": [{"type": "GPU", "value": "4"}],
    }])
    (served,) = scan_value({"container_definitions": definitions}, "f", 1, "o").served
    assert (served.tp, served.model, served.gpus) == (4, "m/x", 4)


def test_sagemaker_tgi_environment() -> None:
    container = {"image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-"
                          "inference:2.3.0-gpu-py310-cu121-ubuntu22.04",
                 "environment": {"HF_MODEL_ID": "m/x", "SM_NUM_GPUS": 4, "MAX_TOTAL_TOKENS": "4096",
                                 "MAX_BATCH_TOTAL_TOKENS": 8192}}
    (served,) = scan_value({"primary_container": [container]}, "f", 1, "o").served
    assert (served.engine, served.model, served.tp, served.context, served.max_batch_tokens) == (
        "tgi", "m/x", 4, 4096, 8192)


def test_triton_vllm_model_json_in_a_script() -> None:
    script = """#!/bin/bash
cat << EOF > model.json
{
    "model":"TinyLlama/TinyLlama-1.1B-Chat-v1.0",
    "gpu_memory_utilization": 0.9,
    "tensor_parallel_size": 4
}
EOF
cat << 'EOF' > Dockerfile
FROM nvcr.io/nvidia/tritonserver:23.11-vllm-python-py3
EOF
"""
    served = _one(script)
    assert served.server == "Triton (vLLM backend)"
    assert (served.model, served.tp, served.memory_fraction) == (
        "TinyLlama/TinyLlama-1.1B-Chat-v1.0", 4, 0.9)


def test_helm_values_with_env_and_karpenter_pool() -> None:
    values = """
image:
  repository: nvcr.io/nvidia/tritonserver
  tag: "24.06-vllm-python-py3"
environment:
  - name: tensor_parallel_size
    value: "1"
resources:
  limits:
    nvidia.com/gpu: 4
nodeSelector:
  NodeGroupType: g5-gpu-karpenter
"""
    served = _one(values)
    assert (served.engine, served.tp, served.gpus) == ("vllm", 1, 4)
    pool = """
nodePool:
  labels:
    - NodeGroupType: g5-gpu-karpenter
  requirements:
    - key: "karpenter.k8s.aws/instance-family"
      operator: In
      values: ["g5"]
    - key: "karpenter.sh/capacity-type"
      operator: In
      values: ["spot", "on-demand"]
"""
    (found,) = scan_text(pool, "f", 1, "o").karpenter
    assert found["families"] == ["g5"] and "spot" in found["capacity_types"]
    assert found["labels"] == {"NodeGroupType": "g5-gpu-karpenter"}


def test_text_without_engines_finds_nothing() -> None:
    assert scan_text("#!/bin/bash\napt-get install -y nginx\n", "f", 1, "o").served == []
    assert scan_value({"tags": {"Name": "web"}}, "f", 1, "o").served == []


def test_tags_and_labels() -> None:
    intent = intent_from_labels({"llmplan-model": "m/x", "LLMPLAN_CONTEXT": "8192",
                                 "llmplan-concurrency": "16", "workload": "Batch",
                                 "llmplan-skip": "llm006-llm005"})
    assert (intent.model, intent.context, intent.concurrency, intent.kind) == (
        "m/x", 8192, 16, "batch")
    assert intent.skip == {"LLM005", "LLM006"}


def test_config_file(tmp_path: Path) -> None:
    path = tmp_path / ".llmplan.yaml"
    path.write_text("defaults:\n  model: m/x\n  context: 4096\nskip: [LLM006]\n")
    config = load_config(path)
    assert (config.defaults.model, config.defaults.context) == ("m/x", 4096)
    assert config.defaults.skip == {"LLM006"} and config.problem is None
    path.write_text("- not a mapping\n")
    assert load_config(path).problem is not None


def test_model_references() -> None:
    arch, label = resolve_model("meta-llama/Llama-3.1-8B-Instruct")
    assert arch is not None and label == "meta-llama/Llama-3.1-8B"
    arch, label = resolve_model("unsloth/Meta-Llama-3.1-8B-Instruct")
    assert arch is not None and "sized as meta-llama/Llama-3.1-8B" in label
    assert resolve_model("my-org/private-model")[0] is None
    assert resolve_model("/models/llama")[0] is None
    assert resolve_model(Unknown("var.model"))[0] is None


def test_generated_tags_are_read_as_intent() -> None:
    from llmplan.serving.intent import intent_from_labels

    intent = intent_from_labels({
        "llmplan-model": "meta-llama/Llama-3.1-8B-Instruct", "llmplan-context": "8192",
        "llmplan-concurrency": "32", "llmplan-nodes": "2", "workload": "batch",
        "llmplan-tier": "reserved-1y", "llmplan:engine": "vllm",
    })
    assert (intent.context, intent.concurrency, intent.nodes) == (8192, 32, 2)
    assert (intent.kind, intent.tier, intent.engine) == ("batch", "reserved-1y", "vllm")
    assert intent_from_labels({"llmplan-tier": "cheap"}).tier is None
