# variable blocks: types, defaults from env(), conversions, validation, sensitive
variable "name" {
  type        = string
  default     = "app"
  description = "the image name"
  validation {
    condition     = length(var.name) > 2
    error_message = "The name must be longer than two characters."
  }
}

variable "count" {
  type    = number
  default = "3"
}

variable "tags" {
  type    = map(string)
  default = { team = "core", tier = 1 }
}

variable "ports" {
  type    = list(number)
  default = ["22", 80]
}

variable "settings" {
  type = object({
    size  = number
    label = optional(string, "none")
  })
  default = { size = 10 }
}

variable "home" {
  default = env("PYBUILD_CORPUS_HOME")
}

variable "password" {
  type      = string
  default   = "s3cret"
  sensitive = true
}

variables {
  legacy = "old style"
}

source "null" "v" {
  communicator = "none"
}

build {
  sources = ["source.null.v"]
  provisioner "shell-local" {
    inline = [
      "name=${var.name} count=${var.count * 2}",
      "tags=${join(",", [for k, v in var.tags : "${k}:${v}"])}",
      "ports=${join(" ", var.ports)} size=${var.settings.size} label=${var.settings.label}",
      "home=${var.home} legacy=${var.legacy} pw=${var.password}",
    ]
  }
}
