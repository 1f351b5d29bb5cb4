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
  user_data                   = templatefile("${path.module}/boot.sh.tftpl", { hf_token_secret = var.hf_token_secret, engine_image = var.engine_image, region = var.region, node_rank = 0, head_address = "" })

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
  user_data                   = templatefile("${path.module}/boot.sh.tftpl", { hf_token_secret = var.hf_token_secret, engine_image = var.engine_image, region = var.region, node_rank = count.index % 1 + 1, head_address = aws_instance.head[floor(count.index / 1)].private_ip })

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
