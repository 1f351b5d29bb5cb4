# Rendered by llmplan: one self-contained Terraform configuration.
# model "meta-llama/Llama-3.1-8B-Instruct", engine tgi, 2 x "g6e.12xlarge" (4 x "L40S" each), tier on-demand
# parallelism: TP=4 x PP=1; 2 replica(s) on 2 node(s)
# plan price: $3.60/hour, $2,628/month (snapshot prices as of "2026-09-01")
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
  description = "Private subnet for the GPU nodes, in an availability zone that offers g6e.12xlarge."
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
  default     = "ghcr.io/huggingface/text-generation-inference:3.3.4"
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
  instance_type = "g6e.12xlarge"
  tags          = {
    "llmplan-model"       = "meta-llama/Llama-3.1-8B-Instruct"
    "llmplan-engine"      = "tgi"
    "llmplan-context"     = "8192"
    "llmplan-concurrency" = "32"
    "llmplan-nodes"       = "1"
    "workload"            = "realtime"
    "llmplan-tier"        = "on-demand"
    "llmplan-parallelism" = "tp4-pp1-nodes1-dp1"
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
  from_port         = 8080
  to_port           = 8080
}

resource "aws_vpc_security_group_ingress_rule" "engine_clients" {
  for_each          = toset(var.client_cidrs)
  security_group_id = aws_security_group.llm.id
  description       = "engine API from client_cidrs"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 8080
  to_port           = 8080
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
  docker run -d --name llmplan-engine --restart unless-stopped --gpus all --ipc=host --shm-size 16g -v /opt/llmplan/hf-cache:/root/.cache/huggingface -e HF_TOKEN -e HUGGING_FACE_HUB_TOKEN -p 8080:8080 "$ENGINE_IMAGE" --model-id meta-llama/Llama-3.1-8B-Instruct --hostname 0.0.0.0 --port 8080 --num-shard 4 --max-input-tokens 8191 --max-total-tokens 8192 --max-batch-total-tokens 524288 --max-concurrent-requests 16 --cuda-memory-fraction 0.9
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

# 2 replicas on 2 nodes; the group replaces a failed node.
# Put a load balancer in front of the group for a single address.
resource "aws_autoscaling_group" "llm" {
  name_prefix               = "${var.name}-"
  min_size                  = 2
  max_size                  = 2
  desired_capacity          = 2
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
    value               = "tgi"
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
    value               = "on-demand"
    propagate_at_launch = true
  }

  tag {
    key                 = "llmplan-parallelism"
    value               = "tp4-pp1-nodes1-dp1"
    propagate_at_launch = true
  }
}

output "endpoint" {
  description = "The engine listens on this port on every instance of the group."
  value       = "port 8080 on each instance of autoscaling group ${aws_autoscaling_group.llm.name}"
}

output "group_id" {
  description = "The autoscaling group running the replicas."
  value       = aws_autoscaling_group.llm.id
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
