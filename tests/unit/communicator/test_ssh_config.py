"""CommunicatorConfig: Packer's cross-field rules for the ssh options, checked at validate time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ed25519

from builder.communicator.config import CommunicatorConfig, parse_private_key_problem
from builder.communicator.keygen import generate_key_pair, write_private_key
from builder.null.config import NullConfig
from tests.conftest import run_cli, write_template

GOOD = {"ssh_host": "10.0.0.1", "ssh_username": "u", "ssh_password": "p"}


def errors(**options: object) -> list[tuple[str, str]]:
    cfg = CommunicatorConfig.model_validate(options)
    return [(e.location.path, e.message) for e in cfg.check_communicator()]


def key_file(tmp_path: Path, kind: str = "ed25519") -> str:
    path = tmp_path / f"id_{kind}"
    write_private_key(str(path), generate_key_pair(kind, 2048 if kind == "rsa" else 0).private_pem)
    return str(path)


def test_a_complete_password_config_is_valid() -> None:
    assert errors(**GOOD) == []


def test_host_username_and_auth_are_required() -> None:
    found = errors()
    assert (
        "ssh_host",
        "a Host must be specified, please reference your communicator documentation",
    ) in found
    assert ("ssh_username", "An ssh_username must be specified") in found
    assert (
        "",
        "one authentication method must be specified, please reference your communicator "
        "documentation",
    ) in found


class AddressSupplied(CommunicatorConfig):
    """A builder that knows the machine's address (a cloud instance's IP)."""

    host_required = False


class KeyGenerated(AddressSupplied):
    """... and makes a temporary key pair when no auth option is set."""

    generates_key = True


def test_host_is_optional_when_the_builder_supplies_it() -> None:
    cfg = AddressSupplied.model_validate({"ssh_username": "u", "ssh_password": "p"})
    assert cfg.check() == []
    assert [
        e.location.keys
        for e in CommunicatorConfig.model_validate(
            {"ssh_username": "u", "ssh_password": "p"}
        ).check()
    ] == [("ssh_host",)]


def test_no_auth_is_fine_when_the_builder_generates_a_key() -> None:
    cfg = KeyGenerated.model_validate({"ssh_username": "u"})
    assert cfg.check() == []
    assert AddressSupplied.model_validate({"ssh_username": "u"}).check() != []


def test_dsa_temporary_keys_are_refused_only_when_generated() -> None:
    cfg = KeyGenerated.model_validate({"ssh_username": "u", "temporary_key_pair_type": "dsa"})
    found = cfg.check()
    assert [e.location.path for e in found] == ["temporary_key_pair_type"]
    assert "dsa" in found[0].message
    with_password = KeyGenerated.model_validate(
        {"ssh_username": "u", "ssh_password": "p", "temporary_key_pair_type": "dsa"}
    )
    assert with_password.check() == []


def test_only_one_auth_method(tmp_path: Path) -> None:
    found = errors(**GOOD, ssh_agent_auth=True)
    assert (
        "ssh_password",
        "only one of ssh_agent_auth, ssh_password, and ssh_private_key_file must be specified",
    ) in found
    found = errors(**GOOD, ssh_private_key_file=key_file(tmp_path))
    assert [p for p, _ in found] == ["ssh_private_key_file"]


def test_keypair_name_needs_a_key_or_the_agent(tmp_path: Path) -> None:
    found = errors(**GOOD, ssh_keypair_name="mine")
    assert found == [
        (
            "ssh_keypair_name",
            "ssh_private_key_file must be provided or ssh_agent_auth enabled when "
            "ssh_keypair_name is specified.",
        )
    ]
    assert errors(ssh_host="h", ssh_username="u", ssh_agent_auth=True, ssh_keypair_name="k") == []


@pytest.mark.parametrize("kind", ["rsa", "ecdsa", "ed25519"])
def test_private_key_files_must_parse(tmp_path: Path, kind: str) -> None:
    path = key_file(tmp_path, kind)
    assert errors(ssh_host="h", ssh_username="u", ssh_private_key_file=path) == []


def test_missing_or_bad_key_file(tmp_path: Path) -> None:
    found = errors(ssh_host="h", ssh_username="u", ssh_private_key_file=str(tmp_path / "nope"))
    assert found == [
        (
            "ssh_private_key_file",
            f"ssh_private_key_file is invalid: {tmp_path / 'nope'}: no such file",
        )
    ]
    junk = tmp_path / "junk"
    junk.write_text("not a key")
    found = errors(ssh_host="h", ssh_username="u", ssh_private_key_file=str(junk))
    assert found[0][1].endswith("not a PEM or OpenSSH private key")


def test_home_is_expanded_in_key_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    key_file(tmp_path)
    assert errors(ssh_host="h", ssh_username="u", ssh_private_key_file="~/id_ed25519") == []


def test_encrypted_keys_are_refused_with_a_hint(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.BestAvailableEncryption(b"secret"),
    )
    path = tmp_path / "enc"
    path.write_bytes(pem)
    cfg = CommunicatorConfig.model_validate(
        {"ssh_host": "h", "ssh_username": "u", "ssh_private_key_file": str(path)}
    )
    (err,) = cfg.check_communicator()
    assert "encrypted with a passphrase" in err.message and "ssh_agent_auth" in (err.hint or "")


def test_dsa_key_files_are_refused() -> None:
    key = dsa.generate_private_key(1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert "DSA keys are not supported" in (parse_private_key_problem(pem) or "")


def test_bastion_needs_password_key_or_agent(tmp_path: Path) -> None:
    found = errors(**GOOD, ssh_bastion_host="jump")
    assert found == [
        (
            "ssh_bastion_host",
            "ssh_bastion_password or ssh_bastion_private_key_file must be specified",
        )
    ]
    assert errors(**GOOD, ssh_bastion_host="jump", ssh_bastion_agent_auth=True) == []
    assert errors(**GOOD, ssh_bastion_host="jump", ssh_bastion_password="x") == []
    found = errors(**GOOD, ssh_bastion_host="jump", ssh_bastion_private_key_file="/nope")
    assert [p for p, _ in found] == ["ssh_bastion_private_key_file"]


def test_bastion_key_defaults_to_the_ssh_key(tmp_path: Path) -> None:
    path = key_file(tmp_path)
    cfg = CommunicatorConfig.model_validate(
        {
            "ssh_host": "h",
            "ssh_username": "u",
            "ssh_private_key_file": path,
            "ssh_bastion_host": "j",
        }
    )
    assert cfg.check_communicator() == []
    assert cfg.bastion_key_file == path
    assert cfg.bastion_username == "u"


def test_proxy_and_bastion_are_exclusive() -> None:
    found = errors(**GOOD, ssh_bastion_host="j", ssh_bastion_password="x", ssh_proxy_host="p")
    assert found == [
        ("ssh_proxy_host", "please specify either ssh_bastion_host or ssh_proxy_host, not both")
    ]


def test_ssh_wait_timeout_is_an_alias_that_wins() -> None:
    cfg = CommunicatorConfig.model_validate({"ssh_timeout": "1m", "ssh_wait_timeout": "90s"})
    assert cfg.ssh_timeout == 90.0
    assert CommunicatorConfig.model_validate({"ssh_timeout": "2m"}).ssh_timeout == 120.0


def test_defaults_are_packers() -> None:
    cfg = CommunicatorConfig()
    assert (cfg.communicator, cfg.ssh_port, cfg.ssh_timeout, cfg.ssh_handshake_attempts) == (
        "ssh",
        22,
        300.0,
        10,
    )
    assert (cfg.ssh_keep_alive_interval, cfg.ssh_proxy_port, cfg.temporary_key_pair_type) == (
        5.0,
        1080,
        "rsa",
    )


def test_zero_means_packers_default_and_negative_keep_alive_disables() -> None:
    cfg = CommunicatorConfig.model_validate(
        {
            "ssh_port": "0",
            "ssh_bastion_port": 0,
            "ssh_proxy_port": 0,
            "ssh_timeout": "0s",
            "ssh_keep_alive_interval": "0s",
            "ssh_handshake_attempts": 0,
        }
    )
    assert (cfg.ssh_port, cfg.ssh_bastion_port, cfg.ssh_proxy_port) == (22, 22, 1080)
    assert (cfg.ssh_timeout, cfg.ssh_keep_alive_interval, cfg.ssh_handshake_attempts) == (
        300.0,
        5.0,
        10,
    )
    assert (
        CommunicatorConfig.model_validate({"ssh_keep_alive_interval": "-1s"}).model_dump()[
            "ssh_keep_alive_interval"
        ]
        == -1.0
    )


def test_none_and_docker_communicators_need_nothing() -> None:
    assert CommunicatorConfig(communicator="none").check_communicator() == []
    assert CommunicatorConfig(communicator="docker").check_communicator() == []


def test_a_subclass_can_default_to_another_communicator() -> None:
    from typing import Literal

    class ContainerConfig(CommunicatorConfig):
        communicator: Literal["ssh", "none", "docker"] = "docker"

    assert ContainerConfig().communicator == "docker"
    assert ContainerConfig().check_communicator() == []


def test_null_builder_accepts_only_ssh_or_none() -> None:
    assert NullConfig().communicator == "ssh"
    with pytest.raises(ValueError):
        NullConfig.model_validate({"communicator": "docker"})


def test_validate_reports_every_problem_at_its_option(tmp_path: Path) -> None:
    write_template(
        tmp_path,
        {
            "builders": [
                {
                    "type": "null",
                    "ssh_host": "h",
                    "ssh_username": "u",
                    "ssh_private_key_file": "missing.pem",
                    "ssh_bastion_host": "j",
                    "ssh_proxy_host": "p",
                }
            ]
        },
    )
    proc = run_cli("validate", "t.json", cwd=tmp_path)
    assert proc.returncode == 1
    assert (
        "builders[0].ssh_private_key_file: ssh_private_key_file is invalid: missing.pem"
        in proc.stdout
    )
    assert "builders[0].ssh_proxy_host: please specify either" in proc.stdout


def test_validate_of_an_ssh_template_does_not_import_paramiko(tmp_path: Path) -> None:
    path = key_file(tmp_path)
    write_template(
        tmp_path,
        {
            "builders": [
                {"type": "null", "ssh_host": "h", "ssh_username": "u", "ssh_private_key_file": path}
            ]
        },
    )
    code = (
        "import sys\nfrom builder.cli import main\nrc = main(['validate', 't.json'])\n"
        "assert 'paramiko' not in sys.modules, 'paramiko was imported'\nsys.exit(rc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
