output "endpoint" {
  description = "OpenAI-compatible API of each replica group's head VM (private addresses)."
  value       = [for nic in azurerm_network_interface.head : "http://${nic.private_ip_address}:8000"]
}

output "instance_ids" {
  description = "Head and worker VMs."
  value       = concat(azurerm_linux_virtual_machine.head[*].id, azurerm_linux_virtual_machine.worker[*].id)
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
