# Rendered by llmplan: one self-contained Terraform configuration.
# model "meta-llama/Llama-3.1-405B-Instruct", engine vllm, 2 x "p5.48xlarge" (8 x "H100-80GB" each), tier on-demand
# parallelism: TP=8 x PP=2 over 2 nodes; 1 replica(s) on 2 node(s)
# plan price: $110.00/hour, $80,300/month (snapshot prices as of "2026-09-01")
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
  description = "Private subnet for the GPU nodes, in an availability zone that offers p5.48xlarge (EFA and the cluster placement group need one AZ)."
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
  instance_type = "p5.48xlarge"
  tags          = {
    "llmplan-model"       = "meta-llama/Llama-3.1-405B-Instruct"
    "llmplan-engine"      = "vllm"
    "llmplan-context"     = "8192"
    "llmplan-concurrency" = "32"
    "llmplan-nodes"       = "2"
    "workload"            = "realtime"
    "llmplan-tier"        = "on-demand"
    "llmplan-parallelism" = "tp8-pp2-nodes2-dp1"
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

# EFA and NCCL/Ray need all traffic between the nodes, both ways, inside this group only.
resource "aws_vpc_security_group_ingress_rule" "cluster" {
  security_group_id            = aws_security_group.llm.id
  description                  = "EFA, NCCL and Ray between the nodes"
  referenced_security_group_id = aws_security_group.llm.id
  ip_protocol                  = "-1"
}

resource "aws_vpc_security_group_egress_rule" "cluster" {
  security_group_id            = aws_security_group.llm.id
  description                  = "EFA, NCCL and Ray between the nodes"
  referenced_security_group_id = aws_security_group.llm.id
  ip_protocol                  = "-1"
}

resource "aws_placement_group" "llm" {
  name     = "${var.name}-cluster"
  strategy = "cluster"
  tags     = local.tags
}

resource "aws_launch_template" "llm" {
  name_prefix            = "${var.name}-"
  image_id               = data.aws_ami.dlami.id
  instance_type          = local.instance_type
  ebs_optimized          = true
  update_default_version = true

  iam_instance_profile {
    name = aws_iam_instance_profile.llm.name
  }

  # One EFA interface per network card: NCCL spreads the inter-node traffic over all of them.
  network_interfaces {
    device_index                = 0
    network_card_index          = 0
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 1
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 2
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 3
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 4
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 5
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 6
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 7
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 8
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 9
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 10
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 11
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 12
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 13
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 14
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 15
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 16
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 17
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 18
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 19
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 20
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 21
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 22
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 23
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 24
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 25
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 26
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 27
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 28
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 29
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 30
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
  }
  network_interfaces {
    device_index                = 1
    network_card_index          = 31
    interface_type              = "efa"
    subnet_id                   = var.subnet_id
    security_groups             = [aws_security_group.llm.id]
    associate_public_ip_address = false
    delete_on_termination       = true
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
      volume_size           = 1100
      iops                  = 8000
      throughput            = 1000
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  placement {
    group_name = aws_placement_group.llm.name
  }

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

# Multi-node: 1 replica group(s) of 2 nodes in one cluster placement group.
# The head of each group runs the engine's API; the workers join it.
resource "aws_instance" "head" {
  count = 1
  launch_template {
    id      = aws_launch_template.llm.id
    version = aws_launch_template.llm.latest_version
  }
  iam_instance_profile        = aws_iam_instance_profile.llm.name
  monitoring                  = true
  ebs_optimized               = true
  user_data_replace_on_change = true
  user_data                   = <<EOT
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

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  # Sized for the weights (756 GiB) in the model cache plus the OS and engine images;
  # gp3 with raised throughput so the weights load in minutes.
  root_block_device {
    volume_type           = "gp3"
    volume_size           = 1100
    iops                  = 8000
    throughput            = 1000
    encrypted             = true
    delete_on_termination = true
  }

  tags = merge(local.tags, { Name = "${var.name}-head-${count.index}" })
}

resource "aws_instance" "worker" {
  count = 1
  launch_template {
    id      = aws_launch_template.llm.id
    version = aws_launch_template.llm.latest_version
  }
  iam_instance_profile        = aws_iam_instance_profile.llm.name
  monitoring                  = true
  ebs_optimized               = true
  user_data_replace_on_change = true
  user_data                   = <<EOT
#!/bin/bash
# llmplan boot script, rendered by Terraform's templatefile() or inline from a heredoc.
# Starts the serving engine in its container with the flags the plan chose.
# Never put a user-supplied value in a comment here: a newline in it would end the comment.
set -euo pipefail
exec >>/var/log/llmplan-boot.log 2>&1

HF_TOKEN_SECRET='${replace(var.hf_token_secret, "'", "'\\''")}'
ENGINE_IMAGE='${replace(var.engine_image, "'", "'\\''")}'
NODE_RANK='${count.index % 1 + 1}'
HEAD_ADDR='${replace(aws_instance.head[floor(count.index / 1)].private_ip, "'", "'\\''")}'
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

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  # Sized for the weights (756 GiB) in the model cache plus the OS and engine images;
  # gp3 with raised throughput so the weights load in minutes.
  root_block_device {
    volume_type           = "gp3"
    volume_size           = 1100
    iops                  = 8000
    throughput            = 1000
    encrypted             = true
    delete_on_termination = true
  }

  tags = merge(local.tags, { Name = "${var.name}-worker-${count.index}" })
}

output "endpoint" {
  description = "OpenAI-compatible API of each replica group's head node (private addresses)."
  value       = [for head in aws_instance.head : "http://${head.private_ip}:8000"]
}

output "instance_ids" {
  description = "Head and worker instances."
  value       = concat(aws_instance.head[*].id, aws_instance.worker[*].id)
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
