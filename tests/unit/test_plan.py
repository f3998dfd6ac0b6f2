"""`pybuild plan`: offline, the same selection and errors as validate, every format checked."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

SCHEMAS = Path(__file__).parents[2] / "builder" / "schemas"

# GitHub Actions: `strategy.matrix: ${{ fromJSON(...) }}` takes an object whose `include`
# is a list of objects of scalar values; at most 256 jobs per matrix (GitHub's docs).
GITHUB_MATRIX = {
    "type": "object",
    "required": ["include"],
    "additionalProperties": False,
    "properties": {
        "include": {
            "type": "array",
            "minItems": 1,
            "maxItems": 256,
            "items": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"type": ["string", "number", "boolean"]},
            },
        }
    },
}
# GitLab CI: `parallel: matrix:` is a list (at most 200 jobs) of objects mapping variable
# names to a string or number, or a list of them (the rule in GitLab's ci.json schema).
_VALUE = {"type": ["string", "number"]}
GITLAB_PARALLEL = {
    "type": "object",
    "required": ["parallel"],
    "properties": {
        "parallel": {
            "type": "object",
            "required": ["matrix"],
            "additionalProperties": False,
            "properties": {
                "matrix": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 200,
                    "items": {
                        "type": "object",
                        "additionalProperties": {
                            "oneOf": [_VALUE, {"type": "array", "items": _VALUE}]
                        },
                        "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                    },
                }
            },
        }
    },
}

TEMPLATE: dict[str, Any] = {
    "variables": {"token": "tok-9f8e7d6c5b4a", "region": "eu-west-1"},
    "sensitive-variables": ["token"],
    "builders": [
        {"type": "docker", "image": "debian:bookworm", "commit": True},
        {
            "type": "amazon-ebs",
            "name": "aws",
            "region": "{{user `region`}}",
            "source_ami_filter": {
                "filters": {"name": "debian-12-amd64-*"},
                "owners": ["136693071363"],
                "most_recent": True,
            },
            "instance_type": "t3.micro",
            "ami_name": "base-{{timestamp}}",
            "ssh_username": "admin",
            "ami_regions": ["us-east-1"],
        },
        {
            "type": "null",
            "name": "box",
            "ssh_host": "192.0.2.10",
            "ssh_username": "u",
            "ssh_password": "{{user `token`}}",
        },
        {"type": "null", "name": "unused", "communicator": "none"},
    ],
    "provisioners": [
        {
            "type": "shell",
            "inline": ["echo {{user `token`}} on {{build `ID`}}"],
            "max_retries": 2,
            "timeout": "5m",
            "except": ["unused"],
            "override": {"box": {"inline": ["echo box"]}},
        },
        {"type": "shell", "inline": ["echo only-aws"], "only": ["aws"], "pause_before": "10s"},
    ],
    "post-processors": [
        [
            {"type": "docker-tag", "repository": "acme/base", "tags": ["1"], "only": ["docker"]},
            {"type": "manifest", "output": "out/manifest.json"},
        ],
        [{"type": "checksum", "keep_input_artifact": True, "output": "sums/{{.ChecksumType}}"}],
    ],
}


def plan(cli: Callable[..., Any], *args: str) -> subprocess.CompletedProcess[str]:
    proc: subprocess.CompletedProcess[str] = cli("plan", *args)
    return proc


def builds_of(text: str) -> dict[str, Any]:
    return {b["name"]: b for b in json.loads(text)["builds"]}


@pytest.fixture
def schema() -> Any:
    doc = json.loads((SCHEMAS / "plan-v1.schema.json").read_text())
    jsonschema.validators.validator_for(doc).check_schema(doc)
    return doc


def test_plan_is_offline_and_imports_no_platform_sdk(template: Callable[..., Path]) -> None:
    path = template(TEMPLATE)
    code = (
        "import socket, sys\n"
        "def no_network(*a, **k): raise AssertionError('plan opened a socket')\n"
        "socket.socket.connect = no_network\n"
        "from builder.cli import main\n"
        f"rc = main(['plan', '-format=json', '-except=unused', {str(path)!r}])\n"
        "heavy = [m for m in ('boto3', 'botocore', 'docker', 'paramiko', 'pyVmomi', 'openstack') "
        "if m in sys.modules]\n"
        "print(rc, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr


def test_json_plan_follows_the_schema_and_the_selection(
    cli: Callable[..., Any], template: Callable[..., Path], schema: Any
) -> None:
    template(TEMPLATE)
    proc = plan(cli, "-format=json", "-except=unused", "t.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    jsonschema.validate(json.loads(proc.stdout), schema)
    builds = builds_of(proc.stdout)
    assert sorted(builds) == ["aws", "box", "docker"]

    aws = builds["aws"]
    steps = [s["name"] for s in aws["steps"]]
    assert steps[:4] == ["StepPreValidate", "StepSourceAMIInfo", "StepNetworkInfo", "StepKeyPair"]
    creates = {c["resource"]: c for s in aws["steps"] for c in s["creates"]}
    assert creates["amazon.key_pair"]["what"] == "temporary key pair packer_<uuid>"
    assert creates["amazon.security_group"]["what"] == (
        "temporary security group packer_<uuid> allowing 22/tcp from 0.0.0.0/0"
    )
    assert creates["amazon.instance"]["what"] == (
        "instance t3.micro from the newest AMI matching name=debian-12-amd64-* "
        "owned by 136693071363"
    )
    copies = [c["what"] for s in aws["steps"] for c in s["creates"] if "copy" in c["what"]]
    assert copies == ["copy of the AMI in us-east-1", "the copy's snapshots in us-east-1"]
    assert aws["settings"]["region"] == "eu-west-1"  # resolved
    assert aws["settings"]["ami_name"].startswith("base-1")  # {{timestamp}} rendered now
    assert aws["communicator"]["host"] == "the machine's address (known at run time)"
    assert aws["communicator"]["auth"] == "temporary key pair made for the build"
    # only/except: the second shell is aws-only, with its pause
    assert [(p["index"], p["pause_before"]) for p in aws["provisioners"]] == [(0, "0s"), (1, "10s")]

    box = builds["box"]
    [shell] = box["provisioners"]  # override applied, the aws-only one dropped
    assert shell["settings"]["inline"] == ["echo box"]
    assert (shell["max_retries"], shell["timeout"]) == (2, "5m0s")
    assert box["communicator"]["auth"] == "password <sensitive>"
    assert box["communicator"]["host"] == "192.0.2.10"

    docker = builds["docker"]
    [shell] = docker["provisioners"]
    assert shell["settings"]["inline"] == ["echo <sensitive> on {{ build `ID` }}"]
    assert shell["runtime"] == ["inline"]
    chains = docker["post_processors"]
    assert [[p["type"] for p in c] for c in chains] == [["docker-tag", "manifest"], ["checksum"]]
    assert chains[0][0]["creates"] == [
        {"resource": "docker.tag", "what": "tag acme/base:1", "name": "acme/base:1"}
    ]
    # aws has no docker-tag: its first chain starts at manifest
    assert [[p["type"] for p in c] for c in aws["post_processors"]] == [["manifest"], ["checksum"]]
    paths = {f["path"]: f for f in docker["files"]}
    assert paths["sums/md5"]["mode"] == "append"  # md5 is the default checksum type
    assert "tok-9f8e7d6c5b4a" not in proc.stdout


def test_text_plan_reads_as_a_plan_and_masks_secrets(
    cli: Callable[..., Any], template: Callable[..., Path]
) -> None:
    template(TEMPLATE)
    proc = plan(cli, "-only=aws,box", "t.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "==> aws (amazon-ebs)" in out and "==> box (null)" in out and "==> docker" not in out
    assert "creates amazon.key_pair: temporary key pair packer_<uuid>" in out
    assert "communicator: ssh u@192.0.2.10:22, auth password <sensitive>" in out
    assert "1. shell (max_retries 2, timeout 5m0s)" in out
    assert "2 build(s) planned; nothing was created." in out
    assert "tok-9f8e7d6c5b4a" not in out


def test_matrix_formats_are_valid_for_github_and_gitlab(
    cli: Callable[..., Any], template: Callable[..., Path]
) -> None:
    template(TEMPLATE)
    github = plan(cli, "-format=github-matrix", "-except=unused", "t.json")
    assert github.returncode == 0 and github.stdout.count("\n") == 1  # one line for $GITHUB_OUTPUT
    doc = json.loads(github.stdout)
    jsonschema.validate(doc, GITHUB_MATRIX)
    assert [e["only"] for e in doc["include"]] == ["aws", "box", "docker"]
    gitlab = plan(cli, "-format=gitlab-matrix", "t.json")
    doc = json.loads(gitlab.stdout)
    jsonschema.validate(doc, GITLAB_PARALLEL)
    assert [e["PYBUILD_ONLY"] for e in doc["parallel"]["matrix"]] == [
        "aws",
        "box",
        "docker",
        "unused",
    ]


def test_existing_outputs_are_reported(
    cli: Callable[..., Any], template: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / "out.txt").write_text("old")
    template({"builders": [{"type": "file", "target": "out.txt", "content": "new"}]})
    [build] = builds_of(plan(cli, "-format=json", "t.json").stdout).values()
    assert build["files"] == [
        {
            "path": "out.txt",
            "what": "the file",
            "mode": "overwrite",
            "exists": True,
            "needs_force": False,
        }
    ]
    assert build["provisioners"] == []  # the file builder runs none
    assert (tmp_path / "out.txt").read_text() == "old"  # planning wrote nothing


def test_a_broken_template_gets_validates_errors(
    cli: Callable[..., Any], template: Callable[..., Path]
) -> None:
    template('{\n  "builders": [\n    {"type": "null", "communicator": "none", "bogus": 1}\n  ]\n}')
    planned, validated = plan(cli, "t.json"), cli("validate", "t.json")
    assert planned.returncode == validated.returncode == 1
    assert planned.stdout == validated.stdout
    assert "t.json:3" in planned.stdout and "bogus" in planned.stdout
    assert "Traceback" not in planned.stderr


def test_unknown_format_is_a_usage_error(
    cli: Callable[..., Any], template: Callable[..., Path]
) -> None:
    template({"builders": [{"type": "null", "communicator": "none"}]})
    proc = plan(cli, "-format=yaml", "t.json")
    assert proc.returncode == 1 and "expected one of" in proc.stdout


def test_an_existing_output_directory_is_planned_as_needing_force(
    cli: Callable[..., Any], template: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / "output-qemu").mkdir()
    template(
        {
            "builders": [
                {
                    "type": "qemu",
                    "iso_url": "file:///nonexistent.iso",
                    "iso_checksum": "none",
                    "communicator": "none",
                    "shutdown_timeout": "1s",
                }
            ]
        }
    )
    assert cli("validate", "t.json").returncode == 1  # as packer: it exists, no -force
    [build] = builds_of(plan(cli, "-format=json", "t.json").stdout).values()
    [out] = [f for f in build["files"] if f["path"].endswith("output-qemu")]
    assert out["mode"] == "refuse" and out["exists"] and out["needs_force"]
    [forced] = builds_of(plan(cli, "-format=json", "-force", "t.json").stdout).values()
    assert not [f for f in forced["files"] if f["needs_force"]]
    assert "-force needed" in plan(cli, "t.json").stdout
