"""`validate` of HCL2 templates that packer 1.6.6 reads (its HCL2 is beta: variables, locals,
sources, build blocks): pybuild accepts what packer accepts and rejects what it rejects.

Marked `packer`: skipped with a reason when packer is not installed (.ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = [
    pytest.mark.packer,
    pytest.mark.skipif(shutil.which("packer") is None, reason="Debian's packer is not installed"),
]

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "docker" / "template.pkr.hcl"
CORPUS = Path(__file__).parent / "corpus"
NULL = 'source "null" "n" {\n  communicator = "none"\n}\n'
BUILD = 'build {\n  sources = ["source.null.n"]\n  provisioner "shell-local" {\n    inline = [%s]\n  }\n}\n'

CASES: dict[str, tuple[str, list[str], bool]] = {
    "variables-locals-functions": (
        'variable "a" {\n  type = list(string)\n  default = ["x", "y"]\n}\n'
        'locals {\n  j = join("-", [for s in var.a : upper(s)])\n  k = local.j\n}\n'
        + NULL
        + BUILD % 'local.k, "${length(var.a)}", format("%03d", 7)',
        [],
        True,
    ),
    "named-build-local-source-name": (
        NULL + 'build {\n  name = "b"\n  source "source.null.n" {\n    name = "other"\n  }\n'
        '  provisioner "shell-local" {\n    only = ["null.other"]\n    inline = ["echo ${build.name}"]\n  }\n}\n',
        [],
        True,
    ),
    "unknown-option": (
        'source "null" "n" {\n  communicator = "none"\n  bogus = 1\n}\n' + BUILD % '"x"',
        [],
        False,
    ),
    "unset-variable": ('variable "v" {\n  type = string\n}\n' + NULL + BUILD % "var.v", [], False),
    "variable-given": (
        'variable "v" {\n  type = string\n}\n' + NULL + BUILD % "var.v",
        ["-var", "v=given"],
        True,
    ),
    "undeclared-cli-variable": (NULL + BUILD % '"x"', ["-var", "nope=1"], False),
    "unknown-source": (
        NULL + 'build {\n  sources = ["source.null.missing"]\n}\n',
        [],
        False,
    ),
    "bad-default-type": (
        'variable "v" {\n  type = number\n  default = "abc"\n}\n' + NULL + BUILD % '"x"',
        [],
        False,
    ),
    "validation-rule-fails": (
        'variable "v" {\n  default = "ab"\n  validation {\n    condition = length(var.v) > 2\n'
        '    error_message = "The value is too short."\n  }\n}\n' + NULL + BUILD % '"x"',
        [],
        False,
    ),
    "unknown-function": (NULL + BUILD % 'nosuch("x")', [], False),
    "syntax-error": (NULL + "build {\n  sources = [\n}\n", [], False),
    "unknown-provisioner": (
        NULL + 'build {\n  sources = ["source.null.n"]\n  provisioner "nope" {\n  }\n}\n',
        [],
        False,
    ),
}


def packer_validate(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CHECKPOINT_DISABLE="1", PACKER_NO_COLOR="1")
    return subprocess.run(
        ["packer", "validate", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_agrees_with_packer(tmp_path: Path, name: str) -> None:
    text, args, valid = CASES[name]
    (tmp_path / "t.pkr.hcl").write_text(text)
    theirs = packer_validate(tmp_path, *args, "t.pkr.hcl")
    ours = run_cli("validate", *args, "t.pkr.hcl", cwd=tmp_path)
    assert (theirs.returncode == 0) is valid, theirs.stdout + theirs.stderr
    assert (ours.returncode == 0) is valid, ours.stdout + ours.stderr
    assert "Traceback" not in ours.stdout + ours.stderr


@pytest.mark.parametrize(
    "path", [EXAMPLE, CORPUS / "blocks.pkr.hcl"], ids=["docker-example", "blocks"]
)
def test_shared_templates_validate_under_both(path: Path) -> None:
    assert packer_validate(path.parent, path.name).returncode == 0
    assert run_cli("validate", path.name, cwd=path.parent).returncode == 0
