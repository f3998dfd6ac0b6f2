"""Credentials end to end against real sshd hosts: temporary key pairs (build data, masking,
ssh_clear_authorized_keys), an ssh-agent of the test's own, bastion keys and agents."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from builder.api import build
from builder.artifact import Artifact
from builder.common.steps import StepCleanupTempKeys, StepConnect, StepProvision, StepSSHKeyGen
from builder.components import Builder, Hook
from builder.events import Message
from builder.multistep import CancelToken, run_steps
from builder.null.builder import NullRun
from builder.null.config import NullConfig
from builder.plugins import registry
from builder.testing import RecordingSink
from builder.ui import Ui
from tests.conftest import run_cli, write_template
from tests.integration.conftest import KeyPair, SSHHost

# ---------------------------------------------------------------------- temporary key pairs


@dataclass
class InstallKey:
    """Puts the temporary public key on the host, as cloud-init or a boot command would."""

    name: ClassVar[str] = "InstallKey"
    host: SSHHost

    def run(self, ctx: NullRun) -> None:
        assert ctx.ssh_key is not None
        line = ctx.ssh_key.public_line
        for home in (f"/home/{self.host.user}", "/root"):
            code, out = self.host.exec(
                f"mkdir -p {home}/.ssh && echo '{line}' >> {home}/.ssh/authorized_keys"
            )
            assert code == 0, out

    def cleanup(self, ctx: NullRun) -> None:
        """The key stays: removing it is StepCleanupTempKeys' job."""


def keygen_builder(host: SSHHost) -> type[Builder]:
    """A null builder that, like Packer's qemu/vsphere builders, makes a temporary key."""

    class KeygenConfig(NullConfig):
        generates_key = True  # no auth option needed: the builder makes a key pair

    class KeygenBuilder(Builder):
        Config = KeygenConfig
        builder_id = "test.keygen"
        config: KeygenConfig

        def run(self, ui: Ui, hook: Hook, cancel: CancelToken) -> Artifact | None:
            ctx = NullRun(
                ui=ui, cancel=cancel, hook=hook, options=self.options,
                resources=self.options.resources, config=self.config,
            )  # fmt: skip
            steps = [StepSSHKeyGen(), InstallKey(host), StepConnect(), StepProvision()]
            run_steps([*steps, StepCleanupTempKeys()], ctx)
            return Artifact("test.keygen", "Null", [])

    return KeygenBuilder


def authorized_keys(host: SSHHost, home: str) -> str:
    code, out = host.exec(f"cat {home}/.ssh/authorized_keys")
    assert code == 0, out
    return out


@pytest.mark.parametrize(
    ("kind", "bits", "prefix"), [("ed25519", 0, "ssh-ed25519 "), ("rsa", 2048, "ssh-rsa ")]
)
def test_temporary_key_build_data_masking_and_clear_authorized_keys(
    sshd_host, ssh_keypair, tmp_path: Path, kind: str, bits: int, prefix: str
) -> None:
    other = ssh_keypair("ed25519")
    host = sshd_host(password=None, authorized_keys=[other.public_line])
    registry.register("builder", f"keygen-{kind}", keygen_builder(host))
    builder: dict[str, Any] = {
        "type": f"keygen-{kind}",
        "ssh_host": host.host,
        "ssh_port": host.port,
        "ssh_username": host.user,
        "ssh_timeout": "20s",
        "temporary_key_pair_type": kind,
        "temporary_key_pair_name": f"packer_test_{kind}",
        "ssh_clear_authorized_keys": True,
    }
    if bits:
        builder["temporary_key_pair_bits"] = bits
    inline = [
        "echo 'pub={{build `SSHPublicKey`}}'",
        "umask 077; printf '%s\\n' '{{build `SSHPrivateKey`}}' > /tmp/key.pem",
        "cat /tmp/key.pem",
        "ssh-keygen -y -f /tmp/key.pem | cut -d' ' -f2",
    ]
    if kind == "rsa":
        inline.append("ssh-keygen -l -f /tmp/key.pem | cut -d' ' -f1")
    path = write_template(
        tmp_path, {"builders": [builder], "provisioners": [{"type": "shell", "inline": inline}]}
    )
    sink = RecordingSink()
    result = build(str(path), sink=sink)
    assert not result.errors, result.errors
    said = sink.texts()
    assert f"Creating temporary {kind.upper()} SSH key for instance..." in said
    assert "Trying to remove ephemeral keys from authorized_keys files" in said
    messages = sink.texts(Message)
    pub = next(m for m in messages if m.startswith("pub="))[4:]
    assert pub.startswith(prefix) and pub.endswith(f" packer_test_{kind}")
    assert pub.split()[1] in messages  # the host derived the same public key from it
    if kind == "rsa":
        assert "2048" in messages  # temporary_key_pair_bits
    # ssh_clear_authorized_keys: the temporary line is gone for the user and for root,
    # the user's own key stays
    for home in (f"/home/{host.user}", "/root"):
        assert f"packer_test_{kind}" not in authorized_keys(host, home)
    assert other.public_line in authorized_keys(host, f"/home/{host.user}")
    assert list(Path(os.environ["HOME"]).iterdir()) == []  # no key file, no known_hosts


def test_temporary_private_key_is_masked_in_output(sshd_host, tmp_path: Path) -> None:
    host = sshd_host(password=None)
    registry.register("builder", "keygen-mask", keygen_builder(host))
    builder = {
        "type": "keygen-mask",
        "ssh_host": host.host,
        "ssh_port": host.port,
        "ssh_username": host.user,
        "temporary_key_pair_type": "ed25519",
    }
    shell = {"type": "shell", "inline": ["echo '{{build `SSHPrivateKey`}}'"]}
    path = write_template(tmp_path, {"builders": [builder], "provisioners": [shell]})
    sink = RecordingSink()
    assert not build(str(path), sink=sink).errors
    messages = sink.texts(Message)
    assert "-----BEGIN OPENSSH PRIVATE KEY-----" in messages  # the key was printed...
    body = [m for m in messages if m and not m.startswith("-----")]
    assert body and all(m == "<sensitive>" for m in body), body  # ...but not its secret


def test_temporary_key_stays_without_clear_authorized_keys(sshd_host, tmp_path: Path) -> None:
    host = sshd_host(password=None)
    registry.register("builder", "keygen-keep", keygen_builder(host))
    builder = {
        "type": "keygen-keep",
        "ssh_host": host.host,
        "ssh_port": host.port,
        "ssh_username": host.user,
        "temporary_key_pair_type": "ed25519",
        "temporary_key_pair_name": "packer_kept",
    }
    path = write_template(tmp_path, {"builders": [builder]})
    sink = RecordingSink()
    assert not build(str(path), sink=sink).errors
    assert "Trying to remove ephemeral keys from authorized_keys files" not in sink.texts()
    assert " packer_kept" in authorized_keys(host, f"/home/{host.user}")


# ---------------------------------------------------------------------- ssh-agent


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Any]:
    """`agent(*keys)`: a real ssh-agent started by the test, holding `keys`; its socket path.

    SSH_AUTH_SOCK is never set in the test process: pass it to the pybuild process only.
    """
    procs: list[subprocess.Popen[bytes]] = []

    def start(*keys: KeyPair) -> str:
        sock = str(tmp_path / f"agent{len(procs)}.sock")
        proc = subprocess.Popen(
            ["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        procs.append(proc)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            assert time.monotonic() < deadline, "ssh-agent did not start"
            time.sleep(0.02)
        for key in keys:
            subprocess.run(
                ["ssh-add", str(key.private_path)],
                env={"SSH_AUTH_SOCK": sock, "PATH": os.environ["PATH"]},
                check=True,
                capture_output=True,
                timeout=10,
            )
        return sock

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(5)


def null_template(host: SSHHost, provisioners: list[dict[str, Any]], **extra: Any) -> dict:
    builder = {
        "type": "null",
        "ssh_host": host.host,
        "ssh_port": host.port,
        "ssh_username": host.user,
        "ssh_timeout": "20s",
        **extra,
    }
    return {"builders": [builder], "provisioners": provisioners}


def test_agent_auth_and_forwarding_through_the_cli(
    sshd_host, ssh_keypair, agent, tmp_path: Path
) -> None:
    key = ssh_keypair("ed25519")
    host = sshd_host(password=None, authorized_keys=[key.public_line])
    sock = agent(key)
    assert "SSH_AUTH_SOCK" not in os.environ  # the test process has no agent
    check = {"type": "shell", "inline": ["ssh-add -l && echo status=0 || echo status=$?"]}
    write_template(tmp_path, null_template(host, [check], ssh_agent_auth=True))
    proc = run_cli("build", "-color=false", "t.json", cwd=tmp_path, env={"SSH_AUTH_SOCK": sock})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(ED25519)" in proc.stdout and "status=0" in proc.stdout  # forwarded to the host
    # ssh_disable_agent_forwarding: the host sees no agent (ssh-add exits 2)
    write_template(
        tmp_path,
        null_template(host, [check], ssh_agent_auth=True, ssh_disable_agent_forwarding=True),
    )
    proc = run_cli("build", "-color=false", "t.json", cwd=tmp_path, env={"SSH_AUTH_SOCK": sock})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "status=2" in proc.stdout and "(ED25519)" not in proc.stdout


def test_agent_auth_with_an_empty_or_missing_agent_fails_clearly(
    sshd_host, ssh_keypair, agent, tmp_path: Path
) -> None:
    host = sshd_host(password=None, authorized_keys=[ssh_keypair("ed25519").public_line])
    t = null_template(host, [], ssh_agent_auth=True, ssh_handshake_attempts=1)
    write_template(tmp_path, t)
    proc = run_cli("build", "-color=false", "t.json", cwd=tmp_path, env={"SSH_AUTH_SOCK": agent()})
    assert proc.returncode == 1
    assert "holds no keys" in proc.stdout
    proc = run_cli("build", "-color=false", "t.json", cwd=tmp_path)  # no SSH_AUTH_SOCK at all
    assert proc.returncode == 1
    assert "authentication error" in proc.stdout


def test_bastion_agent_auth(sshd_host, ssh_keypair, agent, tmp_path: Path) -> None:
    key = ssh_keypair("ed25519")
    bastion = sshd_host(user="jump", password=None, authorized_keys=[key.public_line])
    target = sshd_host(password=None, authorized_keys=[key.public_line])
    t = null_template(
        target,
        [{"type": "shell", "inline": ["echo reached $(whoami)"]}],
        ssh_agent_auth=True,
        ssh_bastion_host=bastion.host,
        ssh_bastion_port=bastion.port,
        ssh_bastion_username="jump",
        ssh_bastion_agent_auth=True,
    )
    write_template(tmp_path, t)
    sock = agent(key)
    proc = run_cli("build", "-color=false", "t.json", cwd=tmp_path, env={"SSH_AUTH_SOCK": sock})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "    null: reached pybuild" in proc.stdout
    assert "Accepted publickey for jump" in bastion.logs()


def test_bastion_key_file_defaults_to_the_ssh_key(sshd_host, ssh_keypair, tmp_path: Path) -> None:
    key, bastion_key = ssh_keypair("ecdsa", "pem"), ssh_keypair("rsa")
    bastion = sshd_host(user="jump", password=None, authorized_keys=[key.public_line])
    target = sshd_host(password=None, authorized_keys=[key.public_line])
    shell = {"type": "shell", "inline": ["echo reached $(whoami)"]}
    via = {
        "ssh_private_key_file": str(key.private_path),
        "ssh_bastion_host": bastion.host,
        "ssh_bastion_port": bastion.port,
        "ssh_bastion_username": "jump",
    }
    write_template(tmp_path, null_template(target, [shell], **via))
    proc = run_cli("build", "-color=false", "t.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "    null: reached pybuild" in proc.stdout
    assert "Accepted publickey for jump" in bastion.logs()  # the ssh key, on the bastion
    # a bastion key of its own, which the bastion does not accept: the bastion refuses
    wrong = {**via, "ssh_bastion_private_key_file": str(bastion_key.private_path)}
    write_template(tmp_path, null_template(target, [shell], ssh_handshake_attempts=1, **wrong))
    proc = run_cli("build", "-color=false", "t.json", cwd=tmp_path)
    assert proc.returncode == 1
    assert "authentication error" in proc.stdout and f"{bastion.port}" in proc.stdout
