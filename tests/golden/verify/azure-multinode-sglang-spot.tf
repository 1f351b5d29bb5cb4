# Rendered by llmplan: one self-contained Terraform configuration.
# model "meta-llama/Llama-3.1-405B-Instruct", engine sglang, 4 x "Standard_ND96isr_H100_v5" (8 x "H100-80GB" each), tier spot
# parallelism: TP=8 x PP=2 over 2 nodes; 2 replica(s) on 4 node(s)
# plan price: $80.00/hour, $58,400/month (snapshot prices as of "2026-09-01")
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
  size = "Standard_ND96isr_H100_v5"
  tags = {
    "llmplan-model"       = "meta-llama/Llama-3.1-405B-Instruct"
    "llmplan-engine"      = "sglang"
    "llmplan-context"     = "8192"
    "llmplan-concurrency" = "32"
    "llmplan-nodes"       = "2"
    "workload"            = "realtime"
    "llmplan-tier"        = "spot"
    "llmplan-parallelism" = "tp8-pp2-nodes2-dp1"
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

# Multi-node: 2 replica group(s), each a scale set of 2 VMs in one placement group.
# Azure wires InfiniBand only between the VMs of one scale set (ND-series size pages), hence a set
# per group; the HPC image brings the InfiniBand drivers and NCCL's topology files.
# The VMs run one boot script and work out their rank and the head (the lowest instance ID) at boot.
resource "azurerm_linux_virtual_machine_scale_set" "llm" {
  count                        = 2
  name                         = "${var.name}-g${count.index}"
  computer_name_prefix         = "${var.name}-g${count.index}-"
  resource_group_name          = azurerm_resource_group.llm.name
  location                     = azurerm_resource_group.llm.location
  sku                          = local.size
  instances                    = 2
  zones                        = var.zone == null ? null : [var.zone]
  # One placement group: the set's VMs share an InfiniBand fabric.
  single_placement_group       = true
  overprovision                = false
  upgrade_mode                 = "Manual"
  extension_operations_enabled = false
  provision_vm_agent           = true
  custom_data                  = base64encode(<<EOT
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

# Multi-node on a scale set: Terraform has no per-instance values, so each node finds its rank and
# the head here. Azure documents no order for a Uniform scale set's instance IDs, so the node lists
# its scale set's instances through Azure Resource Manager (the nodes' identity has Reader on the
# set), sorts them by instance ID and takes its position as its rank: the lowest ID is the head
# (rank 0). Workers reach the head by its computer name, which Azure-provided DNS resolves inside
# the virtual network. The list is read until all instances of the set are in it.
CLUSTER_SIZE=2
cluster_rank() {
  python3 -c '
import json, sys
want, me = int(sys.argv[1]), sys.argv[2]
vms = sorted(json.load(sys.stdin)["value"], key=lambda vm: int(vm["instanceId"]))
if len(vms) != want:
    sys.exit(1)
ids = [vm["instanceId"] for vm in vms]
print(ids.index(me), vms[0]["properties"]["osProfile"]["computerName"])
' "$@"
}
imds_field() {
  printf '%s' "$IMDS_COMPUTE" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
IMDS_COMPUTE=""
for _ in $(seq 1 30); do
  IMDS_COMPUTE="$(curl -sf -H Metadata:true 'http://169.254.169.254/metadata/instance/compute?api-version=2021-02-01' || true)"
  [ -n "$IMDS_COMPUTE" ] && break
  sleep 5
done
# A Uniform instance is named <scale set>_<instance id>.
INSTANCE_ID="$(imds_field name | sed 's/.*_//')"
list_url="https://management.azure.com/subscriptions/$(imds_field subscriptionId)/resourceGroups/$(imds_field resourceGroupName)/providers/Microsoft.Compute/virtualMachineScaleSets/$(imds_field vmScaleSetName)/virtualMachines?api-version=2024-07-01"
token_url="http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F&client_id=$IDENTITY_CLIENT_ID"
found=""
# The Reader role is granted once the scale set exists and takes minutes to apply: keep asking.
for _ in $(seq 1 90); do
  token="$(curl -sf -H Metadata:true "$token_url" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' || true)"
  found="$(curl -sf -H "Authorization: Bearer $token" "$list_url" | cluster_rank "$CLUSTER_SIZE" "$INSTANCE_ID" || true)"
  [ -n "$found" ] && break
  sleep 10
done
[ -n "$found" ] || { echo "could not list the $CLUSTER_SIZE instances of this scale set" >&2; exit 1; }
read -r NODE_RANK HEAD_NAME <<<"$found"
if [ "$NODE_RANK" != "0" ]; then
  for _ in $(seq 1 60); do
    HEAD_ADDR="$(getent hosts "$HEAD_NAME" | awk '{print $1; exit}' || true)"
    [ -n "$HEAD_ADDR" ] && break
    sleep 10
  done
  [ -n "$HEAD_ADDR" ] || { echo "cannot resolve the head node $HEAD_NAME" >&2; exit 1; }
fi
echo "node rank $NODE_RANK of $CLUSTER_SIZE, head $HEAD_NAME"
# The HPC image brings the InfiniBand ports up and names them mlx5_ib<N> during boot: wait for them
# so NCCL does not start on Ethernet only.
for _ in $(seq 1 60); do
  ls /sys/class/infiniband 2>/dev/null | grep -q '^mlx5_ib' && break
  sleep 10
done

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
  docker run -d --name llmplan-engine --restart unless-stopped --gpus all --ipc=host --shm-size 16g -v /opt/llmplan/hf-cache:/root/.cache/huggingface -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN --network host --device /dev/infiniband --cap-add IPC_LOCK --ulimit memlock=-1 -v /opt/microsoft:/opt/microsoft:ro -e NCCL_IB_DISABLE=0 -e NCCL_IB_HCA=mlx5_ib -e NCCL_SOCKET_IFNAME=eth0 -e NCCL_IB_PCI_RELAXED_ORDERING=1 -e NCCL_TOPO_FILE=/opt/microsoft/ndv5-topo.xml "$ENGINE_IMAGE" python3 -m sglang.launch_server --model-path meta-llama/Llama-3.1-405B-Instruct --host 0.0.0.0 --port 30000 --tp-size 8 --pp-size 2 --mem-fraction-static 0.85 --context-length 8192 --max-running-requests 16 --nnodes 2 --node-rank "$NODE_RANK" --dist-init-addr "$DIST_INIT_ADDR"
else
  docker run -d --name llmplan-engine --restart unless-stopped --gpus all --ipc=host --shm-size 16g -v /opt/llmplan/hf-cache:/root/.cache/huggingface -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN --network host --device /dev/infiniband --cap-add IPC_LOCK --ulimit memlock=-1 -v /opt/microsoft:/opt/microsoft:ro -e NCCL_IB_DISABLE=0 -e NCCL_IB_HCA=mlx5_ib -e NCCL_SOCKET_IFNAME=eth0 -e NCCL_IB_PCI_RELAXED_ORDERING=1 -e NCCL_TOPO_FILE=/opt/microsoft/ndv5-topo.xml "$ENGINE_IMAGE" python3 -m sglang.launch_server --model-path meta-llama/Llama-3.1-405B-Instruct --host 0.0.0.0 --port 30000 --tp-size 8 --pp-size 2 --mem-fraction-static 0.85 --context-length 8192 --max-running-requests 16 --nnodes 2 --node-rank "$NODE_RANK" --dist-init-addr "$DIST_INIT_ADDR"
fi

# generate --verify: once the engine answers /health, compare its own KV-cache figures with the
# plan's and record the result (journalctl -u llmplan-verify, this log,
# /var/lib/llmplan/verify.json).
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
    python3 /opt/llmplan/verify_node.py --engine sglang --ports 30000 --context 8192 --kv-tokens 524288 --demand 16 --tolerance 10 --cloud azure \
    || echo "llmplan verify: could not start the check" >&2
fi
EOT
  )

  spot_restore {
    enabled = true
  }
  admin_username                  = "azureuser"
  disable_password_authentication = true
  encryption_at_host_enabled      = var.encryption_at_host
  tags                            = local.tags
  # Spot: max_bid_price -1 pays at most the pay-as-you-go price and is never evicted for price.
  priority        = "Spot"
  eviction_policy = "Deallocate"
  max_bid_price   = -1

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

  # Sized for the weights (756 GiB) in the model cache plus the image and engine container.
  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Premium_LRS"
    disk_size_gb         = 1100
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.llm.id]
  }


  network_interface {
    name                           = "nic"
    primary                        = true
    accelerated_networking_enabled = true

    ip_configuration {
      name      = "internal"
      primary   = true
      subnet_id = azurerm_subnet.llm.id
    }
  }

  depends_on = [azurerm_role_assignment.hf_token, azurerm_subnet_nat_gateway_association.llm]
}

# The nodes list their own scale set's instances at boot to find their rank and the head.
resource "azurerm_role_assignment" "scale_set_reader" {
  count                = 2
  scope                = azurerm_linux_virtual_machine_scale_set.llm[count.index].id
  role_definition_name = "Reader"
  principal_id         = azurerm_user_assigned_identity.llm.principal_id
}

output "endpoint" {
  description = "Each group's head VM (lowest instance ID of its scale set; its boot log names it) serves the API on this port."
  value       = [for vmss in azurerm_linux_virtual_machine_scale_set.llm : "port 30000 on the head VM of scale set ${vmss.name}"]
}

output "group_ids" {
  description = "The scale sets, one per replica group."
  value       = azurerm_linux_virtual_machine_scale_set.llm[*].id
}

output "hourly_cost_usd" {
  description = "The plan's compute price per hour (spot), all nodes."
  value       = 80
}

output "monthly_cost_usd" {
  description = "The plan's compute price per month (730 hours)."
  value       = 58400
}

output "price_source" {
  description = "Where the plan's price came from and as of when."
  value       = "snapshot prices as of 2026-09-01"
}
