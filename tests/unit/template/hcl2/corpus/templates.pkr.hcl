# heredocs, directives, strip markers, escapes, templatefile(), file(), path.root
locals {
  script = <<-EOT
    #!/bin/sh
    %{ for p in ["curl", "jq"] ~}
    apt-get install -y ${p}
    %{ endfor ~}
    echo "$${HOME} %%{not a directive}"
    EOT
  plain  = <<EOT
literal ${upper("x")}
EOT
  ok     = "%{ if length(local.names) > 1 }many%{ else }one%{ endif }"
  names  = ["a", "b"]
  tmpl   = templatefile("${path.root}/corpus.tftpl", { who = "world", items = local.names })
  text   = trimspace(file("corpus.tftpl"))
}

source "null" "t" {
  communicator = "none"
}

build {
  sources = ["source.null.t"]
  provisioner "shell-local" {
    inline = [local.script, local.plain, local.ok, local.tmpl, "\"quoted\"\ttab"]
  }
}
