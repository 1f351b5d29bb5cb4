locals {
  size = "Standard_ND96isr_H100_v5"
  tags = {
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
  destination_port_range      = "8000"
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

# Multi-node: 1 replica group(s), each a scale set of 2 VMs in one placement group.
# Azure wires InfiniBand only between the VMs of one scale set (ND-series size pages), hence a set
# per group; the HPC image brings the InfiniBand drivers and NCCL's topology files.
# The VMs run one boot script and work out their rank and the head (the lowest instance ID) at boot.
resource "azurerm_linux_virtual_machine_scale_set" "llm" {
  count                        = 1
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
  custom_data                  = base64encode(templatefile("${path.module}/boot.sh.tftpl", { hf_token_secret = var.hf_token_secret, engine_image = var.engine_image, key_vault_name = var.key_vault_name, identity_client_id = azurerm_user_assigned_identity.llm.client_id, node_rank = 0, head_address = "" }))
  admin_username                  = "azureuser"
  disable_password_authentication = true
  encryption_at_host_enabled      = var.encryption_at_host
  tags                            = local.tags

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
  count                = 1
  scope                = azurerm_linux_virtual_machine_scale_set.llm[count.index].id
  role_definition_name = "Reader"
  principal_id         = azurerm_user_assigned_identity.llm.principal_id
}
