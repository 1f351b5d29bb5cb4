# Rendered by llmplan: one self-contained Terraform configuration.
# model "meta-llama/Llama-3.1-8B-Instruct", engine tgi, 1 x "g2-standard-48" (4 x "L4" each), tier reserved-1y
# parallelism: TP=2 x PP=1, 2 replicas per node (data parallel); 2 replica(s) on 1 node(s)
# plan price: $1.80/hour, $1,314/month (snapshot prices as of "2026-09-01")
# Required inputs are the variables without a default; see each description.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

variable "project" {
  description = "GCP project to deploy into."
  type        = string
}

variable "region" {
  description = "GCP region the plan was priced in."
  type        = string
  default     = "us-central1"
}

variable "zone" {
  description = "Zone in the region that offers g2-standard-48 (GPU capacity differs by zone)."
  type        = string
  default     = "us-central1-a"
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

variable "subnetwork" {
  description = "Name of the subnetwork (in the region) for the GPU VMs; they get no external IP, so it needs Cloud NAT or Private Google Access for downloads."
  type        = string
}

variable "image_family" {
  description = "Deep Learning VM image family (project deeplearning-platform-release) with the NVIDIA driver."
  type        = string
  default     = "common-cu128-ubuntu-2204-nvidia-570"
}

variable "engine_image" {
  description = "Serving engine container image, pinned to a release."
  type        = string
  default     = "ghcr.io/huggingface/text-generation-inference:3.3.4"
  validation {
    condition     = can(regex("^[A-Za-z0-9./:@_-]+$", var.engine_image))
    error_message = "engine_image: a container image reference (registry/name:tag or @digest)."
  }
}

variable "hf_token_secret" {
  description = "Secret Manager secret id holding the model hub token (empty: public model, no token)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]*$", var.hf_token_secret))
    error_message = "hf_token_secret: a Secret Manager secret id (letters, digits, '_' and '-')."
  }
}

variable "client_cidrs" {
  description = "Extra CIDR blocks allowed to call the engine API (the subnetwork's own range always is)."
  type        = list(string)
  default     = []
}

variable "ssh_cidrs" {
  description = "CIDR blocks allowed to SSH in. Empty by default: use IAP or OS Login through a bastion."
  type        = list(string)
  default     = []
}

variable "create_reservation" {
  description = "Also reserve the capacity (a zonal reservation, billed whether used or not). Off unless asked."
  type        = bool
  default     = false
}

locals {
  machine_type = "g2-standard-48"
  labels       = {
    "llmplan-model"       = "meta-llama-llama-3-1-8b-instruct"
    "llmplan-engine"      = "tgi"
    "llmplan-context"     = "8192"
    "llmplan-concurrency" = "32"
    "llmplan-nodes"       = "1"
    "workload"            = "realtime"
    "llmplan-tier"        = "reserved-1y"
    "llmplan-parallelism" = "tp2-pp1-nodes1-dp2"
  }
}

data "google_compute_image" "dlvm" {
  project = "deeplearning-platform-release"
  family  = var.image_family
}

data "google_compute_subnetwork" "llm" {
  name   = var.subnetwork
  region = var.region
}

# A dedicated service account: the VMs never run as the project's default compute account.
resource "google_service_account" "llm" {
  account_id   = "${var.name}-gpu-nodes"
  display_name = "llmplan GPU serving nodes"
}

resource "google_secret_manager_secret_iam_member" "hf_token" {
  count     = var.hf_token_secret == "" ? 0 : 1
  project   = var.project
  secret_id = var.hf_token_secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.llm.email}"
}

resource "google_project_iam_member" "logging" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.llm.email}"
}

resource "google_compute_firewall" "engine" {
  name                    = "${var.name}-engine-api"
  network                 = data.google_compute_subnetwork.llm.network
  direction               = "INGRESS"
  description             = "engine API from the subnetwork and client_cidrs"
  source_ranges           = concat([data.google_compute_subnetwork.llm.ip_cidr_range], var.client_cidrs)
  target_service_accounts = [google_service_account.llm.email]

  allow {
    protocol = "tcp"
    ports    = ["8080", "8081"]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_firewall" "ssh" {
  count                   = length(var.ssh_cidrs) > 0 ? 1 : 0
  name                    = "${var.name}-ssh"
  network                 = data.google_compute_subnetwork.llm.network
  direction               = "INGRESS"
  description             = "SSH from ssh_cidrs"
  source_ranges           = var.ssh_cidrs
  target_service_accounts = [google_service_account.llm.email]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Reserved tier: the plan's price is a 1-year committed use discount. Commitments are bought
# outside this configuration (console or gcloud): a google_compute_region_commitment cannot be
# deleted or cancelled once created, and terraform destroy would only forget it.
# The zonal reservation below is rendered only with create_reservation = true; it guarantees the
# capacity and bills whether used or not (the commitment's discount applies to it).
resource "google_compute_reservation" "llm" {
  count                         = var.create_reservation ? 1 : 0
  name                          = "${var.name}-gpus"
  zone                          = var.zone
  specific_reservation_required = true

  specific_reservation {
    count = 1
    instance_properties {
      machine_type = local.machine_type
    }
  }
}

resource "google_compute_instance" "llm" {
  # checkov:skip=CKV_GCP_38:CSEK means handing raw key material to Terraform (it lands in state); the disk is encrypted at rest by Google
  name                      = "${var.name}-0"
  zone                      = var.zone
  machine_type              = local.machine_type
  allow_stopping_for_update = true
  labels                    = local.labels

  # Sized for the weights (15 GiB) in the model cache plus the image and engine container.
  boot_disk {
    auto_delete = true
    initialize_params {
      image = data.google_compute_image.dlvm.self_link
      size  = 200
      type  = "pd-ssd"
    }
  }

  network_interface {
    subnetwork = data.google_compute_subnetwork.llm.self_link
  }

  # GPUs cannot live-migrate: the VM stops for host maintenance.
  scheduling {
    on_host_maintenance = "TERMINATE"
    automatic_restart   = true
  }

  # Secure Boot stays off: the image's NVIDIA driver modules are built on first boot, unsigned.
  shielded_instance_config {
    enable_secure_boot          = false
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  service_account {
    email  = google_service_account.llm.email
    scopes = ["cloud-platform"]
  }

  metadata = {
    install-nvidia-driver  = "True"
    block-project-ssh-keys = "true"
    enable-oslogin         = "TRUE"
    llmplan-model          = "meta-llama/Llama-3.1-8B-Instruct"
    startup-script         = <<EOT
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
PROJECT='${replace(var.project, "'", "'\\''")}'
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

# GCP Secret Manager, with the VM's dedicated service account.
fetch_secret() {
  gcloud secrets versions access latest --secret="$HF_TOKEN_SECRET" --project="$PROJECT" --quiet
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
for name in llmplan-engine llmplan-engine-1; do
  docker rm -f "$name" >/dev/null 2>&1 || true
done

if [ "$NODE_RANK" = "0" ]; then
  docker run -d --name llmplan-engine --restart unless-stopped --gpus '"device=0,1"' --ipc=host --shm-size 16g -v /opt/llmplan/hf-cache:/root/.cache/huggingface -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN -p 8080:8080 "$ENGINE_IMAGE" --model-id meta-llama/Llama-3.1-8B-Instruct --hostname 0.0.0.0 --port 8080 --num-shard 2 --max-input-tokens 8191 --max-total-tokens 8192 --max-batch-total-tokens 524288 --max-concurrent-requests 16 --cuda-memory-fraction 0.9
  docker run -d --name llmplan-engine-1 --restart unless-stopped --gpus '"device=2,3"' --ipc=host --shm-size 16g -v /opt/llmplan/hf-cache:/root/.cache/huggingface -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN -p 8081:8081 "$ENGINE_IMAGE" --model-id meta-llama/Llama-3.1-8B-Instruct --hostname 0.0.0.0 --port 8081 --num-shard 2 --max-input-tokens 8191 --max-total-tokens 8192 --max-batch-total-tokens 524288 --max-concurrent-requests 16 --cuda-memory-fraction 0.9
fi

# generate --verify: once the engine answers /health, compare its own KV-cache figures with the
# plan's and record the result (journalctl -u llmplan-verify, this log,
# /var/lib/llmplan/verify.json, guest attributes llmplan/verify*).
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
    python3 /opt/llmplan/verify_node.py --engine tgi --ports 8080,8081 --context 8192 --kv-tokens 524288 --demand 16 --tolerance 10 --cloud gcp \
    || echo "llmplan verify: could not start the check" >&2
fi
EOT

    enable-guest-attributes = "TRUE"
  }


  dynamic "reservation_affinity" {
    for_each = var.create_reservation ? [1] : []
    content {
      type = "SPECIFIC_RESERVATION"
      specific_reservation {
        key    = "compute.googleapis.com/reservation-name"
        values = [google_compute_reservation.llm[0].name]
      }
    }
  }

}

output "endpoint" {
  description = "OpenAI-compatible API of the engine (internal address)."
  value       = "http://${google_compute_instance.llm.network_interface[0].network_ip}:8080"
}

output "instance_ids" {
  description = "The GPU VM."
  value       = [google_compute_instance.llm.id]
}

output "hourly_cost_usd" {
  description = "The plan's compute price per hour (reserved-1y), all nodes."
  value       = 1.8
}

output "monthly_cost_usd" {
  description = "The plan's compute price per month (730 hours)."
  value       = 1314
}

output "price_source" {
  description = "Where the plan's price came from and as of when."
  value       = "snapshot prices as of 2026-09-01"
}
