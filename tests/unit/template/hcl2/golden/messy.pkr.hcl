# a comment
variable   "x"{
type=string
   default =   "a${ var.y }b"  # trailing
  description="long one" // another
}
locals{
a=1
bbbbb    = [1,2 , 3]
c = {a=1, "b c" = -1 , d = 2 - -3}
  d = <<EOT
   keep   this ${ upper("x") }
  %{ if true }yes%{ endif }
   EOT
e=[for x in [1,2]: x*2 if x>1]
f=var.list[0].name
g = !true && (1 <= 2) || false ? "a" : "b"
h = [
1,
  2,
   ]
i = {
        for k, v in local.m : k => v...
}
  j = "$${not} %%{this}"
  k = fn(a, b...)
  l = var.x[*].id
  /* block */ m = 1
}

build {
  sources = ["source.docker.x"]
provisioner "shell" {
   inline = [
 "echo hi",
   ]
  }
}
