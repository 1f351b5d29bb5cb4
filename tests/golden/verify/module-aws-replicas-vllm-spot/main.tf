locals {
  instance_type = "g6e.xlarge"
  tags          = {
    "llmplan-model"       = "meta-llama/Llama-3.1-8B-Instruct"
    "llmplan-engine"      = "vllm"
    "llmplan-context"     = "8192"
    "llmplan-concurrency" = "32"
    "llmplan-nodes"       = "1"
    "workload"            = "realtime"
    "llmplan-tier"        = "spot"
    "llmplan-parallelism" = "tp1-pp1-nodes1-dp1"
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

# generate --verify: each node records its capacity check in tags on itself. Only tag keys
# llmplan-verify* may be written, only on instances carrying this deployment's model tag, and
# only by a request made with an instance's own role credentials.
data "aws_iam_policy_document" "verify" {
  statement {
    actions   = ["ec2:CreateTags"]
    resources = ["arn:${data.aws_partition.current.partition}:ec2:${var.region}:*:instance/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/llmplan-model"
      values   = [local.tags["llmplan-model"]]
    }
    condition {
      test     = "ForAllValues:StringLike"
      variable = "aws:TagKeys"
      values   = ["llmplan-verify*"]
    }
    condition {
      test     = "Null"
      variable = "ec2:SourceInstanceARN"
      values   = ["false"]
    }
  }
}

resource "aws_iam_role_policy" "verify" {
  name   = "tag-own-verify-result"
  role   = aws_iam_role.llm.id
  policy = data.aws_iam_policy_document.verify.json
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

  # Spot: no max_price, so the instance pays the current spot price (AWS's recommendation).
  instance_market_options {
    market_type = "spot"
    spot_options {
      instance_interruption_behavior = "terminate"
      spot_instance_type             = "one-time"
    }
  }

  user_data = base64encode(templatefile("${path.module}/boot.sh.tftpl", { hf_token_secret = var.hf_token_secret, engine_image = var.engine_image, region = var.region, node_rank = 0, head_address = "" }))

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

# 3 replicas on 3 nodes; the group replaces a failed or reclaimed node.
# Put a load balancer in front of the group for a single address.
resource "aws_autoscaling_group" "llm" {
  name_prefix               = "${var.name}-"
  min_size                  = 3
  max_size                  = 3
  desired_capacity          = 3
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
    value               = "vllm"
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
    value               = "spot"
    propagate_at_launch = true
  }

  tag {
    key                 = "llmplan-parallelism"
    value               = "tp1-pp1-nodes1-dp1"
    propagate_at_launch = true
  }
}
