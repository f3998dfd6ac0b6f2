# The docker example (template.json) in HCL2: a Debian image with cloud-init, built from the
# local base image, tagged, with a manifest. `pybuild build examples/docker/template.pkr.hcl`

variable "base_image" {
  type    = string
  default = "pybuild-test/debian:bookworm"
}

variable "repository" {
  type    = string
  default = "pybuild/debian-cloud-init"
}

variable "tag" {
  type    = string
  default = "latest"
}

variable "manifest" {
  type    = string
  default = "output-docker/manifest.json"
}

source "docker" "debian" {
  image  = var.base_image
  pull   = false
  commit = true
  changes = [
    "LABEL org.opencontainers.image.title=debian-cloud-init",
    "ENV DEBIAN_FRONTEND=noninteractive",
  ]
}

build {
  description = "A Debian image with cloud-init, built from the local base image, tagged, with a manifest."
  sources     = ["source.docker.debian"]

  provisioner "shell" {
    environment_vars = ["DEBIAN_FRONTEND=noninteractive"]
    inline = [
      "apt-get update && apt-get install -y --no-install-recommends cloud-init",
      "rm -rf /var/lib/apt/lists/*",
      "cloud-init --version > /etc/pybuild-build-info 2>&1",
      "echo \"built by ${source.type} build ${source.type}.${source.name}\" >> /etc/pybuild-build-info",
    ]
  }

  post-processors {
    post-processor "docker-tag" {
      repository = var.repository
      tags       = [var.tag]
    }
    post-processor "manifest" {
      output = var.manifest
    }
  }
}
