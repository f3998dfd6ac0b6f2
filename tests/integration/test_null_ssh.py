"""`pybuild build` with the null builder over SSH against real sshd test hosts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from builder.api import build
from builder.components import Provisioner
from builder.config import PluginConfig
from builder.events import Message
from builder.plugins import registry
from builder.testing import RecordingSink
from tests.conftest import run_cli, write_template
from tests.integration.conftest import SSHHost, free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def null_ssh(host: SSHHost, **extra: Any) -> dict[str, Any]:
    builder = {
        "type": "null",
        "ssh_host": host.host,
        "ssh_port": host.port,
        "ssh_username": host.user,
        "ssh_password": "{{user `pw`}}",
        "ssh_timeout": "30s",
    }
    builder.update(extra)
    return builder


def template_for(host: SSHHost, provisioners: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "variables": {"pw": host.password or ""},
        "sensitive-variables": ["pw"],
        "builders": [null_ssh(host, **extra)],
        "provisioners": provisioners,
    }


class RemoteEchoConfig(PluginConfig):
    command: str = "true"


class RemoteEcho(Provisioner):
    """A tiny provisioner: runs one command over the communicator, says each line."""

    Config = RemoteEchoConfig
    config: RemoteEchoConfig

    def provision(self, ui, communicator, data) -> None:
        assert communicator is not None
        result = communicator.run(
            self.config.command.replace(
                "HOSTDATA", f"{data['User']}@{data['Host']}:{data['Port']}"
            ),
            on_output=ui.message,
        )
        ui.say(f"exit {result.exit_status} conn {data['ConnType']}")


def test_engine_runs_an_in_test_provisioner_over_ssh(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    registry.register("provisioner", "remote-echo", RemoteEcho)
    path = write_template(
        tmp_path,
        template_for(host, [{"type": "remote-echo", "command": "echo HOSTDATA; whoami"}]),
    )
    sink = RecordingSink()
    result = build(str(path), sink=sink)
    assert not result.errors, result.errors
    messages = sink.texts(Message)
    assert messages == [f"pybuild@127.0.0.1:{host.port}", "pybuild"]
    assert "exit 0 conn ssh" in sink.texts()


def test_cli_build_with_shell_and_file_provisioners(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "sub" / "f.txt").write_text("in a tree\n")
    (tmp_path / "hello.txt").write_text("hello\n")
    t = template_for(
        host,
        [
            {"type": "file", "source": "hello.txt", "destination": "/tmp/hello.txt"},
            {"type": "file", "source": "tree/", "destination": "/tmp/tree"},
            {
                "type": "shell",
                "environment_vars": ["WHO={{build `User`}}"],
                "inline": [
                    "cat /tmp/hello.txt /tmp/tree/sub/f.txt",
                    'echo "as $WHO, password {{user `pw`}}"',
                ],
            },
            {
                "type": "file",
                "direction": "download",
                "source": "/tmp/hello.txt",
                "destination": "back/",
            },
        ],
    )
    write_template(tmp_path, t)
    proc = run_cli("build", "-color=false", "t.json", cwd=tmp_path)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    for line in (
        "==> null: Using ssh communicator to connect: 127.0.0.1",
        "==> null: Waiting for SSH to become available...",
        "==> null: Connected to SSH!",
        "    null: hello",
        "    null: in a tree",
        "    null: as pybuild, password <sensitive>",
    ):
        assert line in out, out
    assert host.password not in out
    assert (tmp_path / "back" / "hello.txt").read_text() == "hello\n"


def test_failing_script_reports_exit_code_and_last_lines(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    t = template_for(host, [{"type": "shell", "inline": ["echo before the failure", "exit 7"]}])
    write_template(tmp_path, t)
    proc = run_cli("build", "-color=false", "t.json", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Script exited with non-zero exit status: 7" in proc.stdout
    assert "before the failure" in proc.stdout


def test_reboot_with_expect_disconnect_and_next_provisioner_reconnects(
    sshd_host, tmp_path: Path
) -> None:
    host = sshd_host()
    reboot = (
        "sudo touch /run/pybuild-sshd.hold; "
        "sudo nohup setsid sh -c 'sleep 2; touch /run/pybuild-sshd.start' >/dev/null 2>&1 & "
        "sleep 0.2; sudo pkill -KILL -x sshd"
    )
    t = template_for(
        host,
        [
            {"type": "shell", "inline": [reboot], "expect_disconnect": True},
            {"type": "shell", "inline": ["echo back after reboot"], "start_retry_timeout": "30s"},
        ],
    )
    write_template(tmp_path, t)
    proc = run_cli("build", "-color=false", "t.json", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "    null: back after reboot" in proc.stdout


def test_wrong_password_fails_the_build_with_an_auth_error(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    t = template_for(host, [], ssh_handshake_attempts=1)
    t["variables"]["pw"] = "wrong"
    write_template(tmp_path, t)
    proc = run_cli("build", "-color=false", "t.json", cwd=tmp_path)
    assert proc.returncode == 1
    assert "authentication error" in proc.stdout
    assert "wrong" not in proc.stdout  # the password is sensitive


def test_unreachable_host_fails_after_ssh_timeout(tmp_path: Path) -> None:
    port = free_port()
    t = {
        "builders": [
            {
                "type": "null",
                "ssh_host": "127.0.0.1",
                "ssh_port": port,
                "ssh_username": "u",
                "ssh_password": "p",
                "ssh_timeout": "2s",
            }
        ]
    }
    write_template(tmp_path, t)
    start = time.monotonic()
    proc = run_cli("build", "-color=false", "t.json", cwd=tmp_path)
    assert proc.returncode == 1
    assert time.monotonic() - start < 30
    assert f"127.0.0.1:{port}" in proc.stdout and "Timeout waiting for SSH" in proc.stdout


def test_validate_needs_host_user_and_one_auth_and_imports_no_paramiko(tmp_path: Path) -> None:
    write_template(tmp_path, {"builders": [{"type": "null"}]})
    proc = run_cli("validate", "t.json", cwd=tmp_path)
    assert proc.returncode == 1
    assert "a Host must be specified" in proc.stdout
    assert "An ssh_username must be specified" in proc.stdout
    assert "one authentication method must be specified" in proc.stdout
    good = {
        "builders": [{"type": "null", "ssh_host": "h", "ssh_username": "u", "ssh_password": "p"}]
    }
    write_template(tmp_path, good)
    code = (
        "import sys; from builder.cli import main\n"
        "rc = main(['validate', 't.json'])\n"
        "assert 'paramiko' not in sys.modules, 'validate imported paramiko'\n"
        "sys.exit(rc)\n"
    )
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_template_installs_cloud_init_for_real(sshd_host, tmp_path: Path) -> None:
    """The example template and its scripts against a Debian host (reaches the mirror)."""
    host = sshd_host()
    template = EXAMPLES / "null-ssh" / "template.json"
    json.loads(template.read_text())
    proc = run_cli(
        "build",
        "-color=false",
        "-var",
        f"ssh_port={host.port}",
        "-var",
        f"ssh_username={host.user}",
        "-var",
        f"ssh_password={host.password}",
        str(template),
        cwd=tmp_path,
        timeout=600,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "install-vmware-tools: not running on VMware: skipping" in out
    assert "install-virtualbox-guest-additions: not running on VirtualBox: skipping" in out
    assert host.exec("cloud-init --version")[0] == 0
    assert host.password not in out
    # idempotent: a second run finds cloud-init and changes nothing
    again = run_cli(
        "build",
        "-color=false",
        "-var",
        f"ssh_port={host.port}",
        "-var",
        f"ssh_username={host.user}",
        "-var",
        f"ssh_password={host.password}",
        str(template),
        cwd=tmp_path,
        timeout=300,
    )
    assert again.returncode == 0
    assert "install-cloud-init: already installed" in again.stdout
