variable "location" {
  description = "Azure region the plan was priced in."
  type        = string
  default     = "eastus"
}

variable "zone" {
  description = "Availability zone offering Standard_ND96isr_H100_v5 (null: let Azure choose)."
  type        = string
  default     = null
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

variable "address_space" {
  description = "Address space of the virtual network created for the GPU VMs."
  type        = string
  default     = "10.42.0.0/16"
}

variable "subnet_prefix" {
  description = "Subnet for the GPU VMs, inside address_space."
  type        = string
  default     = "10.42.1.0/24"
}

variable "ssh_public_key" {
  description = "OpenSSH public key for the admin user (password login is disabled)."
  type        = string
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

variable "key_vault_name" {
  description = "Key Vault (RBAC authorization) holding the model hub token secret (empty: public model, no token)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[A-Za-z0-9-]*$", var.key_vault_name))
    error_message = "key_vault_name: a Key Vault name (letters, digits and '-')."
  }
}

variable "key_vault_resource_group" {
  description = "Resource group of key_vault_name."
  type        = string
  default     = ""
}

variable "hf_token_secret" {
  description = "Name of the Key Vault secret holding the model hub token."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[A-Za-z0-9-]*$", var.hf_token_secret))
    error_message = "hf_token_secret: a Key Vault secret name (letters, digits and '-')."
  }
}

variable "client_cidrs" {
  description = "Extra CIDR blocks allowed to call the engine API (the virtual network always is)."
  type        = list(string)
  default     = []
}

variable "ssh_cidrs" {
  description = "CIDR blocks allowed to SSH in. Empty by default: use Azure Bastion."
  type        = list(string)
  default     = []
}

variable "encryption_at_host" {
  description = "Encrypt temp and cache disks at the host (needs the EncryptionAtHost feature registered)."
  type        = bool
  default     = true
}
