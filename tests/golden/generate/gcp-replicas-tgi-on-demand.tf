# Rendered by llmplan: one self-contained Terraform configuration.
# model "meta-llama/Llama-3.1-8B-Instruct", engine tgi, 2 x "g2-standard-48" (4 x "L4" each), tier on-demand
# parallelism: TP=4 x PP=1; 2 replica(s) on 2 node(s)
# plan price: $3.60/hour, $2,628/month (snapshot prices as of "2026-09-01")
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

locals {
  machine_type = "g2-standard-48"
  labels       = {
    "llmplan-model"       = "meta-llama-llama-3-1-8b-instruct"
    "llmplan-engine"      = "tgi"
    "llmplan-context"     = "8192"
    "llmplan-concurrency" = "32"
    "llmplan-nodes"       = "1"
    "workload"            = "realtime"
    "llmplan-tier"        = "on-demand"
    "llmplan-parallelism" = "tp4-pp1-nodes1-dp1"
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
    ports    = ["8080"]
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

resource "google_compute_instance_template" "llm" {
  name_prefix  = "${var.name}-"
  machine_type = local.machine_type
  labels       = local.labels

  disk {
    boot         = true
    auto_delete  = true
    source_image = data.google_compute_image.dlvm.self_link
    disk_size_gb = 200
    disk_type    = "pd-ssd"
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
for name in llmplan-engine; do
  docker rm -f "$name" >/dev/null 2>&1 || true
done

if [ "$NODE_RANK" = "0" ]; then
  docker run -d --name llmplan-engine --restart unless-stopped --gpus all --ipc=host --shm-size 16g -v /opt/llmplan/hf-cache:/root/.cache/huggingface -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN -p 8080:8080 "$ENGINE_IMAGE" --model-id meta-llama/Llama-3.1-8B-Instruct --hostname 0.0.0.0 --port 8080 --num-shard 4 --max-input-tokens 8191 --max-total-tokens 8192 --max-batch-total-tokens 524288 --max-concurrent-requests 16 --cuda-memory-fraction 0.9
fi
EOT
  }



  lifecycle {
    create_before_destroy = true
  }
}

# 2 replicas on 2 VMs; the managed instance group recreates a failed VM.
# Put an internal load balancer in front of the group for a single address.
resource "google_compute_instance_group_manager" "llm" {
  name               = "${var.name}-replicas"
  base_instance_name = var.name
  zone               = var.zone
  target_size        = 2

  version {
    instance_template = google_compute_instance_template.llm.self_link_unique
  }

  named_port {
    name = "http"
    port = 8080
  }
}

output "endpoint" {
  description = "The engine listens on this port on every VM of the group."
  value       = "port 8080 on each VM of instance group ${google_compute_instance_group_manager.llm.name}"
}

output "group_id" {
  description = "The managed instance group running the replicas."
  value       = google_compute_instance_group_manager.llm.id
}

output "hourly_cost_usd" {
  description = "The plan's compute price per hour (on-demand), all nodes."
  value       = 3.6
}

output "monthly_cost_usd" {
  description = "The plan's compute price per month (730 hours)."
  value       = 2628
}

output "price_source" {
  description = "Where the plan's price came from and as of when."
  value       = "snapshot prices as of 2026-09-01"
}
