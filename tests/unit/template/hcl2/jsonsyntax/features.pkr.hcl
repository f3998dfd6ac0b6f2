# Every construct the JSON form (features.pkr.json) has, in the native syntax.
variable "tags" {
  type    = list(string)
  default = ["a", "b"]
  validation {
    condition     = length(var.tags) > 0
    error_message = "At least one tag."
  }
}

variable "settings" {
  type = object({ name = string, count = number })
  default = { name = "app", count = 2 }
}

locals {
  prefix = "pybuild-${var.settings.name}"
}

local "secret" {
  expression = "s3cr3t"
  sensitive  = true
}

data "null" "greeting" {
  input = "hello ${local.prefix}"
}

source "docker" "app" {
  image   = "debian:${var.tags[0]}"
  commit  = true
  changes = [for t in var.tags : "LABEL tag=${t}"]
}

source "null" "n" {
  communicator = "none"
}

build {
  name = "multi"
  sources = ["source.null.n"]

  source "source.docker.app" {
    name  = "second"
    image = "debian:${var.tags[1]}"
  }

  provisioner "shell-local" {
    inline       = ["echo ${data.null.greeting.output} ${source.name} ${local.secret}", "echo ${var.settings.count * 2}"]
    pause_before = "2s"
    max_retries  = 3
    only         = ["docker.second"]
  }

  provisioner "shell-local" {
    except = ["docker.second"]
    inline = ["echo ${build.name}"]
  }

  post-processor "manifest" {
    output     = "${local.prefix}.json"
    strip_path = true
  }
}
