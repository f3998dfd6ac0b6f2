# The amazon-ebs example (template.json) in HCL2: a Debian 12 AMI with cloud-init.
# Credentials come from the AWS_* environment (or leave them empty to use a profile / the
# default chain); `pybuild build -var region=eu-west-1 examples/aws/template.pkr.hcl`.

variable "aws_access_key" {
  type      = string
  default   = env("AWS_ACCESS_KEY_ID")
  sensitive = true
}

variable "aws_secret_key" {
  type      = string
  default   = env("AWS_SECRET_ACCESS_KEY")
  sensitive = true
}

variable "aws_session_token" {
  type      = string
  default   = env("AWS_SESSION_TOKEN")
  sensitive = true
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "source_ami_name" {
  type    = string
  default = "debian-12-amd64-*"
}

variable "source_ami_owner" {
  type    = string
  default = "136693071363"
}

variable "instance_type" {
  type    = string
  default = "t3.micro"
}

variable "ssh_username" {
  type    = string
  default = "admin"
}

# SSH goes to the instance's public IP (private in a VPC without one); `-var ssh_host=ADDR
# -var ssh_port=N` sends it elsewhere, e.g. through a tunnel.
variable "ssh_host" {
  type    = string
  default = ""
}

variable "ssh_port" {
  type    = number
  default = 22
}

locals {
  ami_date = legacy_isotime("20060102")
  started  = unix_timestamp_parse(timestamp())
}

source "amazon-ebs" "debian" {
  access_key = var.aws_access_key
  secret_key = var.aws_secret_key
  token      = var.aws_session_token
  region     = var.region

  source_ami_filter {
    filters = {
      name                = var.source_ami_name
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = [var.source_ami_owner]
    most_recent = true
  }

  instance_type = var.instance_type
  ssh_username  = var.ssh_username
  ssh_host      = var.ssh_host
  ssh_port      = var.ssh_port

  # {{ .SourceAMI }} and friends are the builder's own run-time data, as in JSON
  ami_name        = "debian-12-cloud-init-${local.ami_date}-${local.started}"
  ami_description = "Debian 12 with cloud-init, built from {{ .SourceAMI }} ({{ .SourceAMIName }})"
  run_tags        = { Name = "pybuild builder for {{ .SourceAMIName }}" }
  tags = {
    Name          = "debian-12-cloud-init"
    Base_AMI      = "{{ .SourceAMI }}"
    Base_AMI_Name = "{{ .SourceAMIName }}"
    Build_Region  = "{{ .BuildRegion }}"
    Built_By      = "pybuild"
  }
  snapshot_tags = { Name = "debian-12-cloud-init root" }

  aws_polling {
    delay_seconds = 5
    max_attempts  = 360
  }
}

build {
  sources = ["source.amazon-ebs.debian"]

  provisioner "shell" {
    environment_vars = ["DEBIAN_FRONTEND=noninteractive"]
    execute_command  = "{{ .Vars }} sudo -E sh -eu '{{ .Path }}'"
    inline = [
      "apt-get update -q",
      "apt-get install -y -q cloud-init",
      "cloud-init --version",
      "cloud-init clean --logs",
    ]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
}
