# a named build, a source used with a local name and overrides, provisioner meta-arguments,
# build.* deferred to run time, source.* in provisioners, chains and single post-processors
source "docker" "base" {
  image   = "debian:bookworm"
  commit  = true
  changes = ["ENV A=1"]
}

build {
  name = "images"

  source "source.docker.base" {
    name    = "small"
    changes = ["ENV A=small"]
  }
  sources = ["source.docker.base"]

  provisioner "shell" {
    inline       = ["echo ${build.name} ${source.type}.${source.name} ${build.ID} ${build.ImageSha256}"]
    pause_before = "10s"
    max_retries  = 3
  }

  provisioner "shell" {
    only    = ["docker.small"]
    inline  = ["echo small only"]
    timeout = "1m30s"
    override = {
      "docker.small" = { inline = ["echo overridden"] }
    }
  }

  post-processor "docker-tag" {
    repository = "pybuild/${source.name}"
    tags       = ["latest"]
    except     = ["docker.base"]
  }

  post-processors {
    post-processor "manifest" {
      output = "manifest-${source.name}.json"
    }
  }

  error-cleanup-provisioner "shell-local" {
    inline = ["echo cleaning up"]
  }
}
