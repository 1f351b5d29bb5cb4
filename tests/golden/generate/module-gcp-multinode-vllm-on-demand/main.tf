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
    startup-script         = templatefile("${path.module}/boot.sh.tftpl", { hf_token_secret = var.hf_token_secret, engine_image = var.engine_image, project = var.project, node_rank = 0, head_address = "" })
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
    startup-script         = templatefile("${path.module}/boot.sh.tftpl", { hf_token_secret = var.hf_token_secret, engine_image = var.engine_image, project = var.project, node_rank = count.index % 1 + 1, head_address = google_compute_instance.head[floor(count.index / 1)].network_interface[0].network_ip })
  }


}

