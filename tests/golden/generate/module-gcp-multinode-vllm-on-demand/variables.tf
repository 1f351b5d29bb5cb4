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
