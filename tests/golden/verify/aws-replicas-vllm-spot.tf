# Rendered by llmplan: one self-contained Terraform configuration.
# model "meta-llama/Llama-3.1-8B-Instruct", engine vllm, 3 x "g6e.xlarge" (1 x "L40S" each), tier spot
# parallelism: TP=1 x PP=1; 3 replica(s) on 3 node(s)
# plan price: $5.40/hour, $3,942/month (snapshot prices as of "2026-09-01")
# Required inputs are the variables without a default; see each description.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "AWS region the plan was priced in."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix for resource names."
  type        = string
  default     = "llm"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name))
    error_message = "name: lowercase letters, digits and '-', starting with a letter, at most 20 characters."
  }
}

variable "subnet_id" {
  description = "Private subnet for the GPU nodes, in an availability zone that offers g6e.xlarge."
  type        = string
}

variable "ami_ssm_parameter" {
  description = "Public SSM parameter naming the GPU AMI (Deep Learning Base OSS NVIDIA driver AMI)."
  type        = string
  default     = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
}

variable "engine_image" {
  description = "Serving engine container image, pinned to a release."
  type        = string
  default     = "vllm/vllm-openai:v0.33.0"
  validation {
    condition     = can(regex("^[A-Za-z0-9./:@_-]+$", var.engine_image))
    error_message = "engine_image: a container image reference (registry/name:tag or @digest)."
  }
}

variable "hf_token_secret" {
  description = "Name of the AWS Secrets Manager secret holding the model hub token (empty: public model, no token)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[A-Za-z0-9/_+=.@-]*$", var.hf_token_secret))
    error_message = "hf_token_secret: a Secrets Manager secret name (letters, digits and /_+=.@-)."
  }
}

variable "client_cidrs" {
  description = "Extra CIDR blocks allowed to call the engine API (the VPC's own CIDR always is)."
  type        = list(string)
  default     = []
}

variable "ssh_cidrs" {
  description = "CIDR blocks allowed to SSH in. Empty by default: use SSM Session Manager instead."
  type        = list(string)
  default     = []
}

locals {
  instance_type = "g6e.xlarge"
  tags          = {
    "llmplan-model"       = "meta-llama/Llama-3.1-8B-Instruct"
    "llmplan-engine"      = "vllm"
    "llmplan-context"     = "8192"
    "llmplan-concurrency" = "32"
    "llmplan-nodes"       = "1"
    "workload"            = "realtime"
    "llmplan-tier"        = "spot"
    "llmplan-parallelism" = "tp1-pp1-nodes1-dp1"
  }
}

data "aws_partition" "current" {}

data "aws_ssm_parameter" "dlami" {
  name = var.ami_ssm_parameter
}

# Resolve the AMI once per plan; its root device name sizes the right volume.
data "aws_ami" "dlami" {
  owners = ["amazon"]
  filter {
    name   = "image-id"
    values = [data.aws_ssm_parameter.dlami.insecure_value]
  }
}

data "aws_subnet" "selected" {
  id = var.subnet_id
}

data "aws_vpc" "selected" {
  id = data.aws_subnet.selected.vpc_id
}

# The nodes' role: SSM Session Manager (instead of SSH) and read access to the token secret only.
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "llm" {
  name_prefix        = "${var.name}-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.llm.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

data "aws_secretsmanager_secret" "hf_token" {
  count = var.hf_token_secret == "" ? 0 : 1
  name  = var.hf_token_secret
}

data "aws_iam_policy_document" "hf_token" {
  count = var.hf_token_secret == "" ? 0 : 1
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [data.aws_secretsmanager_secret.hf_token[0].arn]
  }
}

resource "aws_iam_role_policy" "hf_token" {
  count  = var.hf_token_secret == "" ? 0 : 1
  name   = "read-model-hub-token"
  role   = aws_iam_role.llm.id
  policy = data.aws_iam_policy_document.hf_token[0].json
}

# generate --verify: each node records its capacity check in tags on itself. Only tag keys
# llmplan-verify* may be written, only on instances carrying this deployment's model tag, and
# only by a request made with an instance's own role credentials.
data "aws_iam_policy_document" "verify" {
  statement {
    actions   = ["ec2:CreateTags"]
    resources = ["arn:${data.aws_partition.current.partition}:ec2:${var.region}:*:instance/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/llmplan-model"
      values   = [local.tags["llmplan-model"]]
    }
    condition {
      test     = "ForAllValues:StringLike"
      variable = "aws:TagKeys"
      values   = ["llmplan-verify*"]
    }
    condition {
      test     = "Null"
      variable = "ec2:SourceInstanceARN"
      values   = ["false"]
    }
  }
}

resource "aws_iam_role_policy" "verify" {
  name   = "tag-own-verify-result"
  role   = aws_iam_role.llm.id
  policy = data.aws_iam_policy_document.verify.json
}

resource "aws_iam_instance_profile" "llm" {
  name_prefix = "${var.name}-"
  role        = aws_iam_role.llm.name
  tags        = local.tags
}

resource "aws_security_group" "llm" {
  name_prefix = "${var.name}-"
  description = "llmplan GPU nodes: engine API from the VPC, no SSH unless ssh_cidrs is set"
  vpc_id      = data.aws_subnet.selected.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "engine_vpc" {
  security_group_id = aws_security_group.llm.id
  description       = "engine API from inside the VPC"
  cidr_ipv4         = data.aws_vpc.selected.cidr_block
  ip_protocol       = "tcp"
  from_port         = 8000
  to_port           = 8000
}

resource "aws_vpc_security_group_ingress_rule" "engine_clients" {
  for_each          = toset(var.client_cidrs)
  security_group_id = aws_security_group.llm.id
  description       = "engine API from client_cidrs"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 8000
  to_port           = 8000
}

resource "aws_vpc_security_group_ingress_rule" "ssh" {
  for_each          = toset(var.ssh_cidrs)
  security_group_id = aws_security_group.llm.id
  description       = "SSH from ssh_cidrs"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
}

# Outbound: container registry, model hub, AWS APIs (SSM, Secrets Manager).
resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.llm.id
  description       = "image and model downloads, AWS APIs"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_launch_template" "llm" {
  name_prefix            = "${var.name}-"
  image_id               = data.aws_ami.dlami.id
  instance_type          = local.instance_type
  ebs_optimized          = true
  update_default_version = true
  vpc_security_group_ids = [aws_security_group.llm.id]

  iam_instance_profile {
    name = aws_iam_instance_profile.llm.name
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  block_device_mappings {
    device_name = data.aws_ami.dlami.root_device_name
    ebs {
      volume_type           = "gp3"
      volume_size           = 200
      iops                  = 8000
      throughput            = 1000
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  # Spot: no max_price, so the instance pays the current spot price (AWS's recommendation).
  instance_market_options {
    market_type = "spot"
    spot_options {
      instance_interruption_behavior = "terminate"
      spot_instance_type             = "one-time"
    }
  }

  user_data = base64encode(<<EOT
#!/bin/bash
# llmplan boot script, rendered by Terraform's templatefile() or inline from a heredoc.
# Starts the serving engine in its container with the flags the plan chose.
# Never put a user-supplied value in a comment here: a newline in it would end the comment.
set -euo pipefail
exec >>/var/log/llmplan-boot.log 2>&1

HF_TOKEN_SECRET='${replace(var.hf_token_secret, "'", "'\\''")}'
ENGINE_IMAGE='${replace(var.engine_image, "'", "'\\''")}'
NODE_RANK='${0}'
HEAD_ADDR='${replace("", "'", "'\\''")}'
REGION='${replace(var.region, "'", "'\\''")}'
NODE_IP="$(hostname -I | awk '{print $1}')"
if [ -z "$HEAD_ADDR" ]; then HEAD_ADDR="$NODE_IP"; fi
DIST_INIT_ADDR="$HEAD_ADDR:5000"
VLLM_HOST_IP="$NODE_IP"
export NODE_RANK HEAD_ADDR NODE_IP DIST_INIT_ADDR VLLM_HOST_IP

# The GPU image installs or loads the NVIDIA driver during first boot: wait for it.
for _ in $(seq 1 90); do
  nvidia-smi >/dev/null 2>&1 && break
  sleep 10
done
nvidia-smi
command -v docker >/dev/null || { echo "docker is missing from this image" >&2; exit 1; }

# AWS Secrets Manager, with the instance role's credentials (IMDSv2).
fetch_secret() {
  aws secretsmanager get-secret-value --region "$REGION" --secret-id "$HF_TOKEN_SECRET" \
    --query SecretString --output text
}

# The model hub token is read from the secret store at boot and handed to the containers by
# name (-e HF_TOKEN), so it never appears in user data, metadata or a process list.
HF_TOKEN=""
if [ -n "$HF_TOKEN_SECRET" ]; then
  HF_TOKEN="$(fetch_secret)"
fi
HUGGING_FACE_HUB_TOKEN="$HF_TOKEN"
export HF_TOKEN HUGGING_FACE_HUB_TOKEN

mkdir -p /opt/llmplan/hf-cache
docker pull "$ENGINE_IMAGE"
for name in llmplan-engine; do
  docker rm -f "$name" >/dev/null 2>&1 || true
done

if [ "$NODE_RANK" = "0" ]; then
  docker run -d --name llmplan-engine --restart unless-stopped --gpus all --ipc=host --shm-size 16g -v /opt/llmplan/hf-cache:/root/.cache/huggingface -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN -p 8000:8000 "$ENGINE_IMAGE" meta-llama/Llama-3.1-8B-Instruct --host 0.0.0.0 --port 8000 --tensor-parallel-size 1 --pipeline-parallel-size 1 --max-model-len 8192 --max-num-seqs 11 --gpu-memory-utilization 0.9
fi

# generate --verify: once the engine answers /health, compare its own KV-cache figures with the
# plan's and record the result (journalctl -u llmplan-verify, this log,
# /var/lib/llmplan/verify.json, EC2 tags llmplan-verify*).
# It runs as its own systemd unit, so boot does not wait for the model to load.
if [ "$NODE_RANK" = "0" ]; then
  mkdir -p /opt/llmplan
  cat > /opt/llmplan/verify_node.py <<'LLMPLAN_VERIFY_PY'
"""llmplan verify on the GPU node: the engine's KV-cache capacity against the plan's."""

# Run by the boot script of generate --verify, which carries this file verbatim, hence
# self-contained (python3 standard library, 3.10 as on Ubuntu 22.04). It waits for /health, reads
# the engine's own KV-cache tokens the way llmplan.verify.capacity does (tests hold the two to
# the same figures), compares them with the plan, and records the result: stdout (journalctl -u
# llmplan-verify), the boot log, a JSON file, and EC2 tags or GCE guest attributes. Exit 1 when
# the check fails. Every line has an even number of double quotes and no C comment opener:
# checkov's HCL reader checks heredocs inside function calls line by line.

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

AWS_IMDS = os.environ.get("LLMPLAN_VERIFY_AWS_IMDS", "http://169.254.169.254")
GCE_METADATA = os.environ.get("LLMPLAN_VERIFY_GCE_METADATA", "http://metadata.google.internal")
POLL_S = float(os.environ.get("LLMPLAN_VERIFY_POLL_S", "15"))
# Only the engine on this node and the metadata servers are called: never through a proxy.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(url: str, method: str = "GET", data: bytes | None = None,
         headers: dict[str, str] | None = None) -> str | None:
    """The body, or None for 404/405 (the endpoint does not exist)."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=10) as resp:
            return str(resp.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 405):
            return None
        raise


def metric(text: str | None, name: str) -> list[dict[str, str]]:
    """Label sets (plus "value") of one Prometheus metric's samples."""
    out = []
    for m in re.finditer(r"^" + re.escape(name) + r"(?:\{(.*)\})?\s+(\S+)", text or "", re.M):
        labels = dict(re.findall(r"(\w+)=\x22((?:[^\x22\\]|\\.)*)\x22", m.group(1) or ""))
        out.append({**labels, "value": m.group(2)})
    return out


def num(value: object) -> int | None:
    try:
        return int(float(str(value)))
    except ValueError:
        return None


def kv_tokens(engine: str, base: str) -> tuple[list[int], str]:
    """KV-cache tokens per engine instance (data-parallel rank), and where they were read."""
    if engine == "vllm":
        infos = metric(http(base + "/metrics"), "vllm:cache_config_info")
        out = []
        for i in sorted(infos, key=lambda i: num(i.get("engine", 0)) or 0):
            tokens = num(i.get("kv_cache_size_tokens"))
            if tokens is None and num(i.get("num_gpu_blocks")) is not None:
                tokens = (num(i["num_gpu_blocks"]) or 0) * (num(i.get("block_size")) or 0)
            if tokens is not None:
                out.append(tokens)
        return out, "vLLM /metrics vllm:cache_config_info"
    if engine == "sglang":
        body = http(base + "/server_info") or http(base + "/get_server_info") or "{}"
        info = json.loads(body)
        top = num(info.get("max_total_num_tokens"))
        ranks = [s for s in info.get("internal_states") or [] if isinstance(s, dict)]
        caps = [num((s.get("memory_usage") or {}).get("token_capacity")) or top for s in ranks]
        if not ranks and top is not None:
            caps = [top] * max(1, num(info.get("dp_size")) or 1)
        return [c for c in caps if c is not None], "SGLang server info max_total_num_tokens"
    if engine == "tgi":
        gauge = metric(http(base + "/metrics"), "tgi_batch_max_total_tokens")
        if gauge:
            return [num(gauge[0]["value"]) or 0], "TGI /metrics tgi_batch_max_total_tokens"
        old = num(json.loads(http(base + "/info") or "{}").get("max_batch_total_tokens"))
        return ([old] if old is not None else []), "TGI /info max_batch_total_tokens"
    return [], f"no capacity figures for {engine}"


def check(args: argparse.Namespace, port: int, deadline: float) -> dict[str, object]:
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            http(base + "/health")
            break
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                return {"port": port, "status": "fail", "summary": "engine never healthy"}
            time.sleep(POLL_S)
    try:
        tokens, source = kv_tokens(args.engine, base)
    except (OSError, ValueError) as exc:
        tokens, source = [], f"reading the engine failed: {exc}"
    if not tokens:
        return {"port": port, "status": "skip", "summary": source}
    kv = min(tokens)
    deviation = kv / args.kv_tokens - 1
    held = kv / args.context
    status = "pass"
    if deviation < -args.tolerance / 100 or held < args.demand:
        status = "fail"
    elif deviation > args.tolerance / 100:
        status = "warn"
    summary = (f"{kv:,} KV-cache tokens per replica vs {args.kv_tokens:,} planned "
               f"({deviation * 100:+.1f}%), {held:.1f} requests of {args.context:,} tokens "
               f"for {args.demand:g} per replica ({source})")
    return {"port": port, "status": status, "kv_tokens": kv, "deviation": round(deviation, 4),
            "summary": summary}


def publish(cloud: str, region: str, tags: dict[str, str]) -> str:
    """The result on the instance itself, where a narrow grant allows it."""
    try:
        if cloud == "aws":
            if not shutil.which("aws"):
                return "not published: no aws CLI on this image"
            token = http(AWS_IMDS + "/latest/api/token", "PUT", b"",
                         {"X-aws-ec2-metadata-token-ttl-seconds": "300"}) or ""
            auth = {"X-aws-ec2-metadata-token": token}
            meta = AWS_IMDS + "/latest/meta-data/"
            instance = http(meta + "instance-id", headers=auth) or ""
            region = region or http(meta + "placement/region", headers=auth) or ""
            pairs = [{"Key": "llmplan-" + k, "Value": v[:255]} for k, v in tags.items()]
            subprocess.run(["aws", "ec2", "create-tags", "--region", region, "--resources",
                            instance.strip(), "--tags", json.dumps(pairs)],
                           check=True, capture_output=True, timeout=60)
            return "EC2 tags llmplan-verify*"
        if cloud == "gcp":
            for key, value in tags.items():
                http(f"{GCE_METADATA}/computeMetadata/v1/instance/guest-attributes/llmplan/{key}",
                     "PUT", value.encode(), {"Metadata-Flavor": "Google"})
            return "guest attributes llmplan/verify*"
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return f"not published: {exc}"
    return "not published on the instance (log and file only)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    for name in ("--engine", "--ports"):
        p.add_argument(name, required=True)
    for name in ("--cloud", "--region"):
        p.add_argument(name, default="")
    for name in ("--context", "--kv-tokens"):
        p.add_argument(name, type=int, required=True)
    p.add_argument("--demand", type=float, default=1.0)
    p.add_argument("--tolerance", type=float, default=10.0)
    p.add_argument("--wait", type=float, default=7200.0)
    p.add_argument("--out", default="/var/lib/llmplan/verify.json")
    p.add_argument("--log", default="/var/log/llmplan-boot.log")
    args = p.parse_args(argv)
    deadline = time.monotonic() + args.wait
    results = [check(args, int(port), deadline) for port in args.ports.split(",")]
    order = ["pass", "skip", "warn", "fail"]
    status = max((str(r["status"]) for r in results), key=order.index)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    engine_kv = "/".join(str(r["kv_tokens"]) for r in results if "kv_tokens" in r) or "unknown"
    tags = {"verify": status, "verify-at": now,
            "verify-kv-tokens": f"engine {engine_kv} plan {args.kv_tokens}"}
    where = publish(args.cloud, args.region, tags)
    text = "\n".join([f"llmplan verify (capacity): {status.upper()}"]
                     + [f"  port {r['port']}: {r['status']}: {r['summary']}" for r in results]
                     + [f"  recorded in {args.out}; {where}"])
    print(text, flush=True)
    report = {"status": status, "checked_at": now, "published": where, "ports": results}
    for path, content, mode in ((args.out, json.dumps(report, indent=2) + "\n", "w"),
                                (args.log, text + "\n", "a")):
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, mode, encoding="utf-8") as handle:
                handle.write(content)
        except OSError as exc:
            print(f"cannot write {path}: {exc}", flush=True)
    return 1 if status == "fail" else 0


if __name__ == "__main__":
    raise SystemExit(main())
LLMPLAN_VERIFY_PY
  systemctl stop llmplan-verify.service >/dev/null 2>&1 || true
  systemctl reset-failed llmplan-verify.service >/dev/null 2>&1 || true
  systemd-run --unit llmplan-verify --collect \
    python3 /opt/llmplan/verify_node.py --engine vllm --ports 8000 --context 8192 --kv-tokens 524288 --demand 10.6667 --tolerance 10 --cloud aws --region "$REGION" \
    || echo "llmplan verify: could not start the check" >&2
fi
EOT
  )

  tag_specifications {
    resource_type = "instance"
    tags          = local.tags
  }

  tag_specifications {
    resource_type = "volume"
    tags          = local.tags
  }

  tags = local.tags
}

# 3 replicas on 3 nodes; the group replaces a failed or reclaimed node.
# Put a load balancer in front of the group for a single address.
resource "aws_autoscaling_group" "llm" {
  name_prefix               = "${var.name}-"
  min_size                  = 3
  max_size                  = 3
  desired_capacity          = 3
  vpc_zone_identifier       = [var.subnet_id]
  health_check_type         = "EC2"
  health_check_grace_period = 1800

  launch_template {
    id      = aws_launch_template.llm.id
    version = aws_launch_template.llm.latest_version
  }

  tag {
    key                 = "llmplan-model"
    value               = "meta-llama/Llama-3.1-8B-Instruct"
    propagate_at_launch = true
  }

  tag {
    key                 = "llmplan-engine"
    value               = "vllm"
    propagate_at_launch = true
  }

  tag {
    key                 = "llmplan-context"
    value               = "8192"
    propagate_at_launch = true
  }

  tag {
    key                 = "llmplan-concurrency"
    value               = "32"
    propagate_at_launch = true
  }

  tag {
    key                 = "llmplan-nodes"
    value               = "1"
    propagate_at_launch = true
  }

  tag {
    key                 = "workload"
    value               = "realtime"
    propagate_at_launch = true
  }

  tag {
    key                 = "llmplan-tier"
    value               = "spot"
    propagate_at_launch = true
  }

  tag {
    key                 = "llmplan-parallelism"
    value               = "tp1-pp1-nodes1-dp1"
    propagate_at_launch = true
  }
}

output "endpoint" {
  description = "The engine listens on this port on every instance of the group."
  value       = "port 8000 on each instance of autoscaling group ${aws_autoscaling_group.llm.name}"
}

output "group_id" {
  description = "The autoscaling group running the replicas."
  value       = aws_autoscaling_group.llm.id
}

output "hourly_cost_usd" {
  description = "The plan's compute price per hour (spot), all nodes."
  value       = 5.4
}

output "monthly_cost_usd" {
  description = "The plan's compute price per month (730 hours)."
  value       = 3942
}

output "price_source" {
  description = "Where the plan's price came from and as of when."
  value       = "snapshot prices as of 2026-09-01"
}
