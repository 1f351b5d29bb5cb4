# Rendered by llmplan: one self-contained Terraform configuration.
# model "meta-llama/Llama-3.1-405B-Instruct", engine vllm, 2 x "a3-highgpu-8g" (8 x "H100-80GB" each), tier on-demand
# parallelism: TP=8 x PP=2 over 2 nodes; 1 replica(s) on 2 node(s)
# plan price: $110.00/hour, $80,300/month (snapshot prices as of "2026-09-01")
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
  description = "Zone in the region that offers a3-highgpu-8g (GPU capacity differs by zone)."
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
  default     = "vllm/vllm-openai:v0.33.0"
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
  machine_type = "a3-highgpu-8g"
  labels       = {
    "llmplan-model"       = "meta-llama-llama-3-1-405b-instruct"
    "llmplan-engine"      = "vllm"
    "llmplan-context"     = "8192"
    "llmplan-concurrency" = "32"
    "llmplan-nodes"       = "2"
    "workload"            = "realtime"
    "llmplan-tier"        = "on-demand"
    "llmplan-parallelism" = "tp8-pp2-nodes2-dp1"
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
    ports    = ["8000"]
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

# NCCL, Ray and torch.distributed between the nodes of this deployment only.
resource "google_compute_firewall" "cluster" {
  name                    = "${var.name}-cluster"
  network                 = data.google_compute_subnetwork.llm.network
  direction               = "INGRESS"
  description             = "all traffic between the GPU nodes"
  source_service_accounts = [google_service_account.llm.email]
  target_service_accounts = [google_service_account.llm.email]

  allow {
    protocol = "all"
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Compact placement: the nodes of each replica group sit close together in the zone.
resource "google_compute_resource_policy" "compact" {
  count  = 1
  name   = "${var.name}-compact-${count.index}"
  region = var.region

  group_placement_policy {
    vm_count    = 2
    collocation = "COLLOCATED"
  }
}

# Multi-node: 1 replica group(s) of 2 VMs, each group under one compact placement policy.
# This machine type's "gpudirect-tcpx" networking needs extra VPC networks (one per NIC) to reach full
# bandwidth between nodes; without them NCCL uses the primary NIC.
resource "google_compute_instance" "head" {
  # checkov:skip=CKV_GCP_38:CSEK means handing raw key material to Terraform (it lands in state); the disk is encrypted at rest by Google
  count                     = 1
  name                      = "${var.name}-head-${count.index}"
  zone                      = var.zone
  machine_type              = local.machine_type
  allow_stopping_for_update = true
  labels                    = local.labels
  resource_policies         = [google_compute_resource_policy.compact[count.index].self_link]

  # Sized for the weights (756 GiB) in the model cache plus the image and engine container.
  boot_disk {
    auto_delete = true
    initialize_params {
      image = data.google_compute_image.dlvm.self_link
      size  = 1100
      type  = "pd-ssd"
    }
  }

  network_interface {
    subnetwork = data.google_compute_subnetwork.llm.self_link
    nic_type   = "GVNIC"
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
    llmplan-model          = "meta-llama/Llama-3.1-405B-Instruct"
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
  docker run -d --name llmplan-engine --restart unless-stopped --gpus all --ipc=host --shm-size 16g -v /opt/llmplan/hf-cache:/root/.cache/huggingface -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN -e VLLM_HOST_IP --network host --entrypoint /bin/bash "$ENGINE_IMAGE" -c 'ray start --head --port=6379 --block'
  # Wait until every node of the replica has joined Ray, then serve from the head.
  for _ in $(seq 1 120); do
    gpus="$(docker exec llmplan-engine ray status 2>/dev/null | awk '/GPU/ {split($1, a, "/"); print int(a[2]); exit}')"
    [ "$${gpus:-0}" -ge 16 ] && break
    sleep 10
  done
  docker exec -d -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN llmplan-engine vllm serve meta-llama/Llama-3.1-405B-Instruct --host 0.0.0.0 --port 8000 --tensor-parallel-size 8 --pipeline-parallel-size 2 --max-model-len 8192 --max-num-seqs 32 --gpu-memory-utilization 0.9 --distributed-executor-backend ray
else
  docker run -d --name llmplan-engine --restart unless-stopped --gpus all --ipc=host --shm-size 16g -v /opt/llmplan/hf-cache:/root/.cache/huggingface -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN -e VLLM_HOST_IP -e HEAD_ADDR --network host --entrypoint /bin/bash "$ENGINE_IMAGE" -c 'ray start --address="$HEAD_ADDR:6379" --block'
fi
EOT
  }


}


resource "google_compute_instance" "worker" {
  # checkov:skip=CKV_GCP_38:CSEK means handing raw key material to Terraform (it lands in state); the disk is encrypted at rest by Google
  count                     = 1
  name                      = "${var.name}-worker-${count.index}"
  zone                      = var.zone
  machine_type              = local.machine_type
  allow_stopping_for_update = true
  labels                    = local.labels
  resource_policies         = [google_compute_resource_policy.compact[floor(count.index / 1)].self_link]

  # Sized for the weights (756 GiB) in the model cache plus the image and engine container.
  boot_disk {
    auto_delete = true
    initialize_params {
      image = data.google_compute_image.dlvm.self_link
      size  = 1100
      type  = "pd-ssd"
    }
  }

  network_interface {
    subnetwork = data.google_compute_subnetwork.llm.self_link
    nic_type   = "GVNIC"
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
    llmplan-model          = "meta-llama/Llama-3.1-405B-Instruct"
    startup-script         = <<EOT
#!/bin/bash
# llmplan boot script, rendered by Terraform's templatefile() or inline from a heredoc.
# Starts the serving engine in its container with the flags the plan chose.
# Never put a user-supplied value in a comment here: a newline in it would end the comment.
set -euo pipefail
exec >>/var/log/llmplan-boot.log 2>&1

HF_TOKEN_SECRET='${replace(var.hf_token_secret, "'", "'\\''")}'
ENGINE_IMAGE='${replace(var.engine_image, "'", "'\\''")}'
NODE_RANK='${count.index % 1 + 1}'
HEAD_ADDR='${replace(google_compute_instance.head[floor(count.index / 1)].network_interface[0].network_ip, "'", "'\\''")}'
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
  docker run -d --name llmplan-engine --restart unless-stopped --gpus all --ipc=host --shm-size 16g -v /opt/llmplan/hf-cache:/root/.cache/huggingface -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN -e VLLM_HOST_IP --network host --entrypoint /bin/bash "$ENGINE_IMAGE" -c 'ray start --head --port=6379 --block'
  # Wait until every node of the replica has joined Ray, then serve from the head.
  for _ in $(seq 1 120); do
    gpus="$(docker exec llmplan-engine ray status 2>/dev/null | awk '/GPU/ {split($1, a, "/"); print int(a[2]); exit}')"
    [ "$${gpus:-0}" -ge 16 ] && break
    sleep 10
  done
  docker exec -d -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN llmplan-engine vllm serve meta-llama/Llama-3.1-405B-Instruct --host 0.0.0.0 --port 8000 --tensor-parallel-size 8 --pipeline-parallel-size 2 --max-model-len 8192 --max-num-seqs 32 --gpu-memory-utilization 0.9 --distributed-executor-backend ray
else
  docker run -d --name llmplan-engine --restart unless-stopped --gpus all --ipc=host --shm-size 16g -v /opt/llmplan/hf-cache:/root/.cache/huggingface -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN -e VLLM_HOST_IP -e HEAD_ADDR --network host --entrypoint /bin/bash "$ENGINE_IMAGE" -c 'ray start --address="$HEAD_ADDR:6379" --block'
fi
EOT
  }


}

output "endpoint" {
  description = "OpenAI-compatible API of each replica group's head VM (internal addresses)."
  value       = [for head in google_compute_instance.head : "http://${head.network_interface[0].network_ip}:8000"]
}

output "instance_ids" {
  description = "Head and worker VMs."
  value       = concat(google_compute_instance.head[*].id, google_compute_instance.worker[*].id)
}

output "hourly_cost_usd" {
  description = "The plan's compute price per hour (on-demand), all nodes."
  value       = 110
}

output "monthly_cost_usd" {
  description = "The plan's compute price per month (730 hours)."
  value       = 80300
}

output "price_source" {
  description = "Where the plan's price came from and as of when."
  value       = "snapshot prices as of 2026-09-01"
}
