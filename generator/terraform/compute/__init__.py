"""GPU compute in evaluated Terraform: VMs, templates, groups, node pools, SageMaker variants."""
