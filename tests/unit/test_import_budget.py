"""The import budget of start-up, without timing: what `pybuild validate` of a one-build
template and `pybuild version` import is pinned, so a new import shows up as a diff here.

No platform SDK, no HCL2 parser for a JSON template, no renderer the command does not use.
When a change adds a module to this path on purpose, update the list in the same commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

OURS = ("builder", "provisioners", "postprocessors")
HEAVY = (
    "boto3", "botocore", "docker", "paramiko", "pyVmomi", "openstack", "hcl2", "lark",
    "pycdlib", "pyfatfs", "cryptography", "jsonschema", "requests", "urllib3", "moto",
)  # fmt: skip

VALIDATE = {
    "builder", "builder.artifact", "builder.cli", "builder.common", "builder.common.builder",
    "builder.common.drivers", "builder.common.plan", "builder.common.run",
    "builder.communicator", "builder.communicator.base", "builder.communicator.config",
    "builder.components", "builder.config", "builder.engine", "builder.errors",
    "builder.faults", "builder.ledger", "builder.multistep", "builder.null",
    "builder.null.builder", "builder.null.config", "builder.plugins", "builder.redact",
    "builder.template", "builder.template.funcs", "builder.template.gotemplate",
    "builder.template.gotemplate.builtins", "builder.template.gotemplate.executor",
    "builder.template.gotemplate.gofmt", "builder.template.gotemplate.lexer",
    "builder.template.gotemplate.nodes", "builder.template.gotemplate.parser",
    "builder.template.gotemplate.strconv", "builder.template.gotemplate.values",
    "builder.template.interpolate", "builder.template.parse", "builder.template.template",
    "builder.template.variables", "provisioners", "provisioners.shell_local",
}  # fmt: skip

PROBE = """
import json, sys
from builder.cli import main
code = main(sys.argv[1:])
mods = sorted(m for m in sys.modules if m.split('.')[0] in {ours!r})
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})
print(json.dumps({{"code": code, "ours": mods, "heavy": heavy}}))
"""


def imported(tmp_path: Path, *args: str) -> dict[str, object]:
    probe = PROBE.format(ours=OURS, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", probe, *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_validate_of_a_one_build_template_imports_only_what_it_uses(tmp_path: Path) -> None:
    template = {
        "builders": [{"type": "null", "communicator": "none"}],
        "provisioners": [{"type": "shell-local", "inline": ["true"]}],
    }
    (tmp_path / "one.json").write_text(json.dumps(template))
    found = imported(tmp_path, "validate", "one.json")
    assert found["code"] == 0
    assert found["heavy"] == []
    # validating runs nothing: not the runner, its events and Ui, nor any build step
    ours = set(found["ours"])  # type: ignore[arg-type]
    assert {"added": sorted(ours - VALIDATE), "gone": sorted(VALIDATE - ours)} == {
        "added": [],
        "gone": [],
    }


def test_version_imports_the_cli_alone(tmp_path: Path) -> None:
    found = imported(tmp_path, "version")
    assert found["code"] == 0 and found["heavy"] == []
    assert found["ours"] == ["builder", "builder.cli"]
