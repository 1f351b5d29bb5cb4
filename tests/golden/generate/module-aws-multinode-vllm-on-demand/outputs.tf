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
