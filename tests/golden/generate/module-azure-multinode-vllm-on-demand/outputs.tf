output "endpoint" {
  description = "Each group's head VM (lowest instance ID of its scale set; its boot log names it) serves the API on this port."
  value       = [for vmss in azurerm_linux_virtual_machine_scale_set.llm : "port 8000 on the head VM of scale set ${vmss.name}"]
}

output "group_ids" {
  description = "The scale sets, one per replica group."
  value       = azurerm_linux_virtual_machine_scale_set.llm[*].id
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
