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
