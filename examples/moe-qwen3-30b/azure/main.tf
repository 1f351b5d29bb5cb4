# Rendered by llmplan: one self-contained Terraform configuration.
# model "Qwen/Qwen3-30B-A3B", engine sglang, 1 x "Standard_NC96ads_A100_v4" (4 x "A100-80GB" each), tier on-demand
# parallelism: TP=1 x PP=4; 1 replica(s) on 1 node(s)
# plan price: $14.69/hour, $10,725/month (snapshot prices as of "2023-12-18")
# Required inputs are the variables without a default; see each description.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
  }
}

provider "azurerm" {
  features {}
}

variable "location" {
  description = "Azure region the plan was priced in."
  type        = string
  default     = "westus2"
}

variable "zone" {
  description = "Availability zone offering Standard_NC96ads_A100_v4 (null: let Azure choose)."
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
  default     = "lmsysorg/sglang:v0.5.23"
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

locals {
  size = "Standard_NC96ads_A100_v4"
  tags = {
    "llmplan-model"       = "Qwen/Qwen3-30B-A3B"
    "llmplan-engine"      = "sglang"
    "llmplan-context"     = "16384"
    "llmplan-concurrency" = "64"
    "llmplan-nodes"       = "1"
    "workload"            = "realtime"
    "llmplan-tier"        = "on-demand"
    "llmplan-parallelism" = "tp1-pp4-nodes1-dp1"
  }
}

resource "azurerm_resource_group" "llm" {
  name     = "${var.name}-rg"
  location = var.location
  tags     = local.tags
}

# A user-assigned identity: its Key Vault role exists before any VM boots and reads the token.
resource "azurerm_user_assigned_identity" "llm" {
  name                = "${var.name}-nodes"
  resource_group_name = azurerm_resource_group.llm.name
  location            = azurerm_resource_group.llm.location
  tags                = local.tags
}

data "azurerm_key_vault" "hf_token" {
  count               = var.key_vault_name == "" ? 0 : 1
  name                = var.key_vault_name
  resource_group_name = var.key_vault_resource_group
}

resource "azurerm_role_assignment" "hf_token" {
  count                = var.key_vault_name == "" ? 0 : 1
  scope                = data.azurerm_key_vault.hf_token[0].id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.llm.principal_id
}

resource "azurerm_virtual_network" "llm" {
  name                = "${var.name}-vnet"
  resource_group_name = azurerm_resource_group.llm.name
  location            = azurerm_resource_group.llm.location
  address_space       = [var.address_space]
  tags                = local.tags
}

resource "azurerm_subnet" "llm" {
  name                            = "${var.name}-gpu"
  resource_group_name             = azurerm_resource_group.llm.name
  virtual_network_name            = azurerm_virtual_network.llm.name
  address_prefixes                = [var.subnet_prefix]
  default_outbound_access_enabled = false
}

# Outbound through a NAT gateway (images, model hub, Key Vault): the VMs have no public IP.
resource "azurerm_public_ip" "nat" {
  name                = "${var.name}-nat"
  resource_group_name = azurerm_resource_group.llm.name
  location            = azurerm_resource_group.llm.location
  allocation_method   = "Static"
  sku                 = "Standard"
  tags                = local.tags
}

resource "azurerm_nat_gateway" "llm" {
  name                = "${var.name}-nat"
  resource_group_name = azurerm_resource_group.llm.name
  location            = azurerm_resource_group.llm.location
  sku_name            = "Standard"
  tags                = local.tags
}

resource "azurerm_nat_gateway_public_ip_association" "llm" {
  nat_gateway_id       = azurerm_nat_gateway.llm.id
  public_ip_address_id = azurerm_public_ip.nat.id
}

resource "azurerm_subnet_nat_gateway_association" "llm" {
  subnet_id      = azurerm_subnet.llm.id
  nat_gateway_id = azurerm_nat_gateway.llm.id
}

# The default rules already allow the virtual network in and deny the internet.
resource "azurerm_network_security_group" "llm" {
  name                = "${var.name}-nsg"
  resource_group_name = azurerm_resource_group.llm.name
  location            = azurerm_resource_group.llm.location
  tags                = local.tags
}

resource "azurerm_network_security_rule" "engine_clients" {
  count                       = length(var.client_cidrs) > 0 ? 1 : 0
  name                        = "engine-api-clients"
  description                 = "engine API from client_cidrs"
  priority                    = 200
  direction                   = "Inbound"
  access                      = "Allow"
  protocol                    = "Tcp"
  source_port_range           = "*"
  destination_port_range      = "30000"
  source_address_prefixes     = var.client_cidrs
  destination_address_prefix  = "VirtualNetwork"
  resource_group_name         = azurerm_resource_group.llm.name
  network_security_group_name = azurerm_network_security_group.llm.name
}

resource "azurerm_network_security_rule" "ssh" {
  count                       = length(var.ssh_cidrs) > 0 ? 1 : 0
  name                        = "ssh"
  description                 = "SSH from ssh_cidrs"
  priority                    = 210
  direction                   = "Inbound"
  access                      = "Allow"
  protocol                    = "Tcp"
  source_port_range           = "*"
  destination_port_range      = "22"
  source_address_prefixes     = var.ssh_cidrs
  destination_address_prefix  = "VirtualNetwork"
  resource_group_name         = azurerm_resource_group.llm.name
  network_security_group_name = azurerm_network_security_group.llm.name
}

resource "azurerm_subnet_network_security_group_association" "llm" {
  subnet_id                 = azurerm_subnet.llm.id
  network_security_group_id = azurerm_network_security_group.llm.id
}

resource "azurerm_network_interface" "llm" {
  name                           = "${var.name}-nic"
  resource_group_name            = azurerm_resource_group.llm.name
  location                       = azurerm_resource_group.llm.location
  accelerated_networking_enabled = true
  tags                           = local.tags

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.llm.id
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_linux_virtual_machine" "llm" {
  name                       = "${var.name}-0"
  network_interface_ids      = [azurerm_network_interface.llm.id]
  resource_group_name        = azurerm_resource_group.llm.name
  location                   = azurerm_resource_group.llm.location
  size                       = local.size
  zone                       = var.zone
  allow_extension_operations = false
  provision_vm_agent         = true
  custom_data                = base64encode(<<EOT
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
KEY_VAULT_NAME='${replace(var.key_vault_name, "'", "'\\''")}'
IDENTITY_CLIENT_ID='${replace(azurerm_user_assigned_identity.llm.client_id, "'", "'\\''")}'
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

# Azure Key Vault, with the VM's user-assigned managed identity (token from the instance
# metadata service, never stored).
json_field() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
fetch_secret() {
  local url access
  url="http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&client_id=$IDENTITY_CLIENT_ID"
  access="$(curl -sf -H Metadata:true "$url" | json_field access_token)"
  url="https://$KEY_VAULT_NAME.vault.azure.net/secrets/$HF_TOKEN_SECRET?api-version=7.4"
  curl -sf -H "Authorization: Bearer $access" "$url" | json_field value
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
  docker run -d --name llmplan-engine --restart unless-stopped --gpus all --ipc=host --shm-size 16g -v /opt/llmplan/hf-cache:/root/.cache/huggingface -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN -p 30000:30000 "$ENGINE_IMAGE" python3 -m sglang.launch_server --model-path Qwen/Qwen3-30B-A3B --host 0.0.0.0 --port 30000 --tp-size 1 --pp-size 4 --mem-fraction-static 0.88 --context-length 16384 --max-running-requests 64
fi
EOT
  )
  admin_username                  = "azureuser"
  disable_password_authentication = true
  encryption_at_host_enabled      = var.encryption_at_host
  tags                            = local.tags

  admin_ssh_key {
    username   = "azureuser"
    public_key = var.ssh_public_key
  }

  source_image_reference {
    publisher = "microsoft-dsvm"
    offer     = "ubuntu-hpc"
    sku       = "2204"
    version   = "latest"
  }

  # Sized for the weights (58 GiB) in the model cache plus the image and engine container.
  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Premium_LRS"
    disk_size_gb         = 250
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.llm.id]
  }

  depends_on = [azurerm_role_assignment.hf_token, azurerm_subnet_nat_gateway_association.llm]
}

output "endpoint" {
  description = "OpenAI-compatible API of the engine (private address)."
  value       = "http://${azurerm_network_interface.llm.private_ip_address}:30000"
}

output "instance_ids" {
  description = "The GPU VM."
  value       = [azurerm_linux_virtual_machine.llm.id]
}

output "hourly_cost_usd" {
  description = "The plan's compute price per hour (on-demand), all nodes."
  value       = 14.692
}

output "monthly_cost_usd" {
  description = "The plan's compute price per month (730 hours)."
  value       = 10725.16
}

output "price_source" {
  description = "Where the plan's price came from and as of when."
  value       = "snapshot prices as of 2023-12-18"
}
