# locals in dependency order (declared out of order), a `local` block, the null data source
locals {
  full  = "${local.base}-${local.suffix}"
  base  = lower(data.null.input.output)
  suffix = format("%02d", 7)
}

local "token" {
  expression = sha256(local.full)
  sensitive  = true
}

data "null" "input" {
  input = "APP"
}

locals {
  layers = [for i in range(3) : "layer${i}"]
  by_name = { for l in local.layers : l => length(l) }
}

source "null" "l" {
  communicator = "none"
}

build {
  sources = ["source.null.l"]
  provisioner "shell-local" {
    inline = concat([local.full, local.token], local.layers, [jsonencode(local.by_name)])
  }
}
