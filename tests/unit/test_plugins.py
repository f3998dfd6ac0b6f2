"""Plugins: entry-point discovery, the example third-party package, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builder.errors import PluginLoadError, UnknownPlugin
from builder.plugins import Registry, registry

NULL = {"type": "null", "communicator": "none"}


def test_builtins_come_from_entry_points() -> None:
    assert "null" in registry.names("builder")
    assert {"shell-local", "manifest", "checksum", "compress", "artifice"} <= set(
        registry.names("post-processor")
    )
    assert "shell-local" in registry.names("provisioner")


def test_unknown_type_lists_known_and_suggests() -> None:
    with pytest.raises(UnknownPlugin) as info:
        registry.check("post-processor", "manifset")
    msg = str(info.value)
    assert "unknown post-processor type 'manifset'" in msg and "did you mean 'manifest'?" in msg
    assert "checksum" in msg


def test_example_plugin_package_is_installed_and_builds(template, cli, tmp_path: Path) -> None:
    """examples/plugin is a separate distribution; .ci/run installs it like a user would."""
    assert "file-image" in Registry().names("builder"), (
        "the example plugin is not installed: pip install -e examples/plugin"
    )
    template(
        {
            "builders": [{"type": "file-image", "output": "img.txt", "content": "v1\n"}],
            "provisioners": [
                {"type": "shell-local", "inline": ["echo provisioning {{build `ID`}}"]}
            ],
            "post-processors": [{"type": "manifest", "output": "m.json"}],
        }
    )
    r = cli("build", "-color=false", "t.json")
    assert r.returncode == 0, r.stdout
    assert (tmp_path / "img.txt").read_text() == "v1\n"
    assert not (tmp_path / "img.txt.partial").exists()  # its step cleaned up
    assert "    file-image: provisioning img.txt" in r.stdout
    assert "--> file-image: File image: img.txt" in r.stdout
    assert (
        json.loads((tmp_path / "m.json").read_text())["builds"][0]["builder_type"] == "file-image"
    )


def test_example_plugin_failure_cleans_up(template, cli, tmp_path: Path) -> None:
    template({"builders": [{"type": "file-image", "output": "img.txt", "fail_after_write": True}]})
    r = cli("build", "-color=false", "t.json")
    assert r.returncode == 1
    assert "failing on purpose" in r.stdout
    assert not (tmp_path / "img.txt.partial").exists() and not (tmp_path / "img.txt").exists()


def test_plugin_that_is_not_a_builder_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint, EntryPoints

    reg = Registry()
    ep = EntryPoint(name="bogus", value="json:dumps", group="pybuild.builders")
    monkeypatch.setattr("builder.plugins.entry_points", lambda: EntryPoints([ep]))
    with pytest.raises(PluginLoadError, match="is not a subclass of builder.Builder"):
        reg.load("builder", "bogus")


def test_validate_imports_no_platform_sdk(template, tmp_path: Path) -> None:
    """`pybuild validate` of a multi-platform template imports no SDK and touches no network."""
    path = template(
        {
            "builders": [
                NULL,
                {"type": "docker", "image": "debian:bookworm", "commit": True},
                {
                    "type": "amazon-ebs",
                    "region": "eu-west-1",
                    "source_ami": "ami-12345678",
                    "instance_type": "t3.micro",
                    "ami_name": "pybuild-{{timestamp}}",
                    "ssh_username": "admin",
                },
                {
                    "type": "null",
                    "name": "ssh",
                    "ssh_host": "127.0.0.1",
                    "ssh_username": "u",
                    "ssh_password": "p",
                },
            ],
            "provisioners": [{"type": "shell", "inline": ["true"]}],
            "post-processors": ["manifest", "checksum"],
        }
    )
    code = (
        "import socket, sys\n"
        "def no_network(*a, **k): raise AssertionError('validate opened a socket')\n"
        "socket.socket.connect = no_network\n"
        "from builder.cli import main\n"
        f"rc = main(['validate', {str(path)!r}])\n"
        "heavy = [m for m in ('boto3', 'botocore', 'docker', 'paramiko', 'pyVmomi', 'openstack') "
        "if m in sys.modules]\n"
        "print(rc, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout


def test_platform_packages_import_only_public_engine_pieces() -> None:
    """A builder package never imports the engine, the CLI, or another platform."""
    import ast

    root = Path(__file__).resolve().parents[2] / "builder"
    # builder/common/ is the base every platform builds on, not a platform
    platforms = [
        p.name
        for p in root.iterdir()
        if p.is_dir() and p.name != "common" and any(p.rglob("builder.py"))
    ]
    assert "null" in platforms
    for name in platforms:
        for py in (root / name).rglob("*.py"):
            for node in ast.walk(ast.parse(py.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    mod = node.module
                    assert mod not in ("builder.engine", "builder.cli"), f"{py} imports {mod}"
                    others = [f"builder.{p}" for p in platforms if p != name]
                    assert not any(mod == o or mod.startswith(o + ".") for o in others), (
                        f"{py}: {mod}"
                    )
