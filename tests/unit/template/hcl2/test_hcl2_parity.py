"""The JSON and HCL2 forms of a template give the same prepared builds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder.engine import RunOptions, load_template, prepare

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


def prepared(path: Path, **options: Any) -> dict[str, Any]:
    """What the engine would run, build by build: every plugin's validated config."""
    p = prepare(load_template(str(path)), RunOptions(record_resources=False, **options))
    assert not p.errors, p.errors
    return {
        b.name: {
            "type": b.type,
            "builder": b.builder.config.model_dump(mode="json"),
            "provisioners": [
                [r.spec.type, r.plugin.config.model_dump(mode="json"), r.max_retries,
                 r.spec.pause_before, r.spec.timeout]
                for r in b.provisioners
            ],
            "chains": [
                [[r.spec.type, r.spec.name, r.spec.keep_input_artifact,
                  r.plugin.config.model_dump(mode="json")] for r in chain]
                for chain in b.chains
            ],
        }
        for b in p.builds
    }  # fmt: skip


def test_docker_example_builds_the_same_from_json_and_hcl2() -> None:
    from_json = prepared(EXAMPLES / "docker" / "template.json")
    from_hcl = prepared(EXAMPLES / "docker" / "template.pkr.hcl")
    assert list(from_json) == ["docker"] and list(from_hcl) == ["docker.debian"]
    j, h = from_json["docker"], from_hcl["docker.debian"]
    # the one line that names the build: JSON renders {{build_name}} at run time ("docker"),
    # HCL2 has the build's name already
    j_inline, h_inline = j["provisioners"][0][1]["inline"], h["provisioners"][0][1]["inline"]
    assert (
        j_inline[3]
        == 'echo "built by {{build_type}} build {{build_name}}" >> /etc/pybuild-build-info'
    )
    assert h_inline[3] == 'echo "built by docker build docker.debian" >> /etc/pybuild-build-info'
    j_inline[3] = h_inline[3]
    assert j == h


def test_amazon_example_builds_the_same_from_json_and_hcl2() -> None:
    from_json = prepared(EXAMPLES / "aws" / "template.json")
    from_hcl = prepared(EXAMPLES / "aws" / "template.pkr.hcl")
    assert from_json["amazon-ebs"] == from_hcl["amazon-ebs.debian"]


def test_amazon_example_parity_holds_with_variables_given(tmp_path: Path) -> None:
    var_json = tmp_path / "v.json"
    var_json.write_text(json.dumps({"region": "eu-west-1", "instance_type": "t3.small"}))
    var_hcl = tmp_path / "v.pkrvars.hcl"
    var_hcl.write_text('region = "eu-west-1"\ninstance_type = "t3.small"\n')
    common = {"ssh_port": "2222"}
    from_json = prepare(
        load_template(str(EXAMPLES / "aws" / "template.json"), common, [str(var_json)]),
        RunOptions(record_resources=False),
    ).builds[0]
    from_hcl = prepare(
        load_template(str(EXAMPLES / "aws" / "template.pkr.hcl"), common, [str(var_hcl)]),
        RunOptions(record_resources=False),
    ).builds[0]
    assert from_json.builder.config.model_dump() == from_hcl.builder.config.model_dump()
    assert from_hcl.builder.config.region == "eu-west-1"
    assert from_hcl.builder.config.ssh_port == 2222


MULTI_JSON = {
    "variables": {"greeting": "hello"},
    "builders": [
        {"type": "null", "name": "one", "communicator": "none"},
        {"type": "null", "name": "two", "communicator": "none"},
    ],
    "provisioners": [
        {"type": "shell-local", "inline": ["echo hello"]},  # inline is rendered at run time
        {"type": "shell-local", "only": ["two"], "inline": ["echo only two"],
         "max_retries": 2, "pause_before": "1s"},
        {"type": "shell-local", "except": ["two"], "inline": ["echo not two"], "timeout": "5m"},
    ],
    "post-processors": [
        [{"type": "checksum", "checksum_types": ["sha256"], "output": "sums"},
         {"type": "manifest", "output": "m.json", "keep_input_artifact": True}],
        {"type": "manifest", "name": "second", "output": "m2.json", "only": ["one"]},
    ],
}  # fmt: skip

MULTI_HCL = """
variable "greeting" {
  default = "hello"
}

source "null" "one" {
  communicator = "none"
}

source "null" "two" {
  communicator = "none"
}

build {
  sources = ["source.null.one", "source.null.two"]

  provisioner "shell-local" {
    inline = ["echo ${var.greeting}"]
  }
  provisioner "shell-local" {
    only         = ["null.two"]
    inline       = ["echo only two"]
    max_retries  = 2
    pause_before = "1s"
  }
  provisioner "shell-local" {
    except  = ["null.two"]
    inline  = ["echo not two"]
    timeout = "5m"
  }

  post-processors {
    post-processor "checksum" {
      checksum_types = ["sha256"]
      output         = "sums"
    }
    post-processor "manifest" {
      output              = "m.json"
      keep_input_artifact = true
    }
  }
  post-processor "manifest" {
    name   = "second"
    output = "m2.json"
    only   = ["null.one"]
  }
}
"""


def test_a_multi_build_template_builds_the_same(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text(json.dumps(MULTI_JSON))
    (tmp_path / "t.pkr.hcl").write_text(MULTI_HCL)
    from_json = prepared(tmp_path / "t.json")
    from_hcl = prepared(tmp_path / "t.pkr.hcl")
    assert list(from_hcl) == ["null.one", "null.two"]
    assert from_json["one"] == from_hcl["null.one"]
    assert from_json["two"] == from_hcl["null.two"]
    assert len(from_hcl["null.two"]["provisioners"]) == 2
    assert [c[0][1] for c in from_hcl["null.one"]["chains"]] == ["checksum", "second"]


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        (["null.one"], ["null.one"]),
        (["*.two"], ["null.two"]),
        (["null.*"], ["null.one", "null.two"]),
    ],
)
def test_only_takes_hcl2_build_names_and_globs(
    tmp_path: Path, only: list[str], expected: list[str]
) -> None:
    (tmp_path / "t.pkr.hcl").write_text(MULTI_HCL)
    assert list(prepared(tmp_path / "t.pkr.hcl", only=only)) == expected
