# nested blocks: one block where the option is an object, repeated blocks where it is a
# list, dynamic blocks over a collection
variable "volumes" {
  default = [
    { device = "/dev/sdb", size = 10 },
    { device = "/dev/sdc", size = 20 },
  ]
}

source "amazon-ebs" "disks" {
  region        = "us-east-1"
  source_ami    = "ami-12345678"
  instance_type = "t3.micro"
  ssh_username  = "admin"
  ami_name      = "disks"

  aws_polling {
    delay_seconds = 5
    max_attempts  = 10
  }

  launch_block_device_mappings {
    device_name = "/dev/xvda"
    volume_size = 8
  }

  dynamic "launch_block_device_mappings" {
    for_each = var.volumes
    iterator = vol
    content {
      device_name           = vol.value.device
      volume_size           = vol.value.size
      delete_on_termination = vol.key == 0
    }
  }
}

build {
  sources = ["source.amazon-ebs.disks"]
}
