"""The communicator options every builder config shares (Packer's names and defaults)."""

from __future__ import annotations

import os
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from builder.config import Duration, PluginConfig, Secret, StrList, config_check, option_error
from builder.errors import TemplateError

_HOST_MISSING = "a Host must be specified, please reference your communicator documentation"
_ONE_AUTH = (
    "one authentication method must be specified, please reference your communicator documentation"
)
_ONLY_ONE_AUTH = (
    "only one of ssh_agent_auth, ssh_password, and ssh_private_key_file must be specified"
)


class CommunicatorConfig(PluginConfig):
    """`communicator` and the ssh_* options; a builder's Config inherits these.

    A builder whose default transport is not ssh overrides `communicator`'s default
    (docker: `"docker"`). `check_communicator()` returns the cross-field errors.
    """

    # What the builder supplies, for the cross-field checks: an address (a cloud
    # instance's IP), or a temporary key pair when no auth option is set.
    host_required: ClassVar[bool] = True
    generates_key: ClassVar[bool] = False

    communicator: Literal["ssh", "none", "docker"] = "ssh"
    pause_before_connecting: Duration = 0.0

    ssh_host: str = ""
    ssh_port: int = 22
    ssh_username: str = ""
    ssh_password: Secret = ""
    ssh_private_key_file: str = ""
    ssh_certificate_file: str = ""
    ssh_keypair_name: str = ""
    ssh_agent_auth: bool = False
    ssh_clear_authorized_keys: bool = False
    ssh_pty: bool = False
    ssh_timeout: Duration = 300.0
    ssh_wait_timeout: Duration | None = Field(
        default=None, description="deprecated alias of ssh_timeout"
    )
    ssh_handshake_attempts: int = 10
    ssh_keep_alive_interval: Duration = 5.0
    ssh_read_write_timeout: Duration = 0.0
    ssh_disable_agent_forwarding: bool = False
    ssh_file_transfer_method: Literal["sftp", "scp"] = "sftp"
    ssh_ciphers: StrList = Field(default_factory=list)
    ssh_key_exchange_algorithms: StrList = Field(default_factory=list)

    ssh_bastion_host: str = ""
    ssh_bastion_port: int = 22
    ssh_bastion_username: str = ""
    ssh_bastion_password: Secret = ""
    ssh_bastion_private_key_file: str = ""
    ssh_bastion_agent_auth: bool = False
    ssh_bastion_interactive: bool = False
    ssh_bastion_certificate_file: str = ""

    ssh_proxy_host: str = ""
    ssh_proxy_port: int = 1080
    ssh_proxy_username: str = ""
    ssh_proxy_password: Secret = ""

    temporary_key_pair_name: str = ""
    temporary_key_pair_type: Literal["rsa", "ed25519", "ecdsa", "dsa"] = "rsa"
    temporary_key_pair_bits: int = 0

    @model_validator(mode="after")
    def _packer_defaults(self) -> CommunicatorConfig:
        """`ssh_wait_timeout` (deprecated) wins over `ssh_timeout`; zero means the default.

        Packer's Prepare turns 0 (what an empty user variable becomes) into the default for
        the ports, ssh_timeout, ssh_keep_alive_interval (negative disables keep-alives)
        and ssh_handshake_attempts.
        """
        if self.ssh_wait_timeout:
            self.ssh_timeout = self.ssh_wait_timeout
        for name in (
            "ssh_port",
            "ssh_bastion_port",
            "ssh_proxy_port",
            "ssh_timeout",
            "ssh_keep_alive_interval",
            "ssh_handshake_attempts",
        ):
            if not getattr(self, name):
                setattr(self, name, type(self).model_fields[name].default)
        return self

    # ------------------------------------------------------------------ derived values
    @property
    def bastion_key_file(self) -> str:
        """`ssh_bastion_private_key_file`, defaulting to `ssh_private_key_file` (Packer)."""
        return self.ssh_bastion_private_key_file or self.ssh_private_key_file

    @property
    def bastion_username(self) -> str:
        """`ssh_bastion_username`, defaulting to `ssh_username`."""
        return self.ssh_bastion_username or self.ssh_username

    def auth_methods(self) -> list[str]:
        """The ssh auth options the user set, by option name."""
        found = []
        if self.ssh_agent_auth:
            found.append("ssh_agent_auth")
        if self.ssh_password:
            found.append("ssh_password")
        if self.ssh_private_key_file:
            found.append("ssh_private_key_file")
        return found

    # ------------------------------------------------------------------ validation
    @config_check
    def check_communicator(self) -> list[TemplateError]:
        """Packer's cross-field rules for the ssh options; empty when all is well.

        `host_required` and `generates_key` (class settings of the builder's config)
        say whether the builder supplies the address or a temporary key pair.
        """
        if self.communicator != "ssh":
            return []
        host_required, generates_key = self.host_required, self.generates_key
        errs: list[TemplateError] = []

        def err(path: str, message: str, hint: str | None = None) -> None:
            errs.append(option_error(message, *([path] if path else []), hint=hint))

        if host_required and not self.ssh_host:
            err("ssh_host", _HOST_MISSING)
        if not self.ssh_username:
            err(
                "ssh_username",
                "An ssh_username must be specified",
                'some builders used to default ssh_username to "root"',
            )
        methods = self.auth_methods()
        if not methods and not generates_key:
            err(
                "",
                _ONE_AUTH,
                "set ssh_password, ssh_private_key_file or ssh_agent_auth",
            )
        if len(methods) > 1:
            err(methods[-1], _ONLY_ONE_AUTH)
        if self.ssh_keypair_name and not (self.ssh_private_key_file or self.ssh_agent_auth):
            err(
                "ssh_keypair_name",
                "ssh_private_key_file must be provided or ssh_agent_auth enabled when "
                "ssh_keypair_name is specified.",
            )
        errs.extend(_check_key_file(self.ssh_private_key_file, "ssh_private_key_file"))
        errs.extend(_check_cert_file(self.ssh_certificate_file, "ssh_certificate_file"))
        if self.ssh_port <= 0 or self.ssh_port > 65535:
            err("ssh_port", f"ssh_port must be between 1 and 65535, got {self.ssh_port}")
        if self.ssh_handshake_attempts < 1:
            err("ssh_handshake_attempts", "ssh_handshake_attempts must be at least 1")
        errs.extend(self._check_bastion())
        if self.ssh_bastion_host and self.ssh_proxy_host:
            err(
                "ssh_proxy_host",
                "please specify either ssh_bastion_host or ssh_proxy_host, not both",
            )
        if generates_key and not methods:
            from builder.communicator.keygen import check_key_settings

            problem = check_key_settings(self.temporary_key_pair_type, self.temporary_key_pair_bits)
            if problem:
                err("temporary_key_pair_type", problem)
        return errs

    def _check_bastion(self) -> list[TemplateError]:
        if not self.ssh_bastion_host:
            return []
        if self.ssh_bastion_agent_auth:
            return []
        if not (self.ssh_bastion_password or self.bastion_key_file):
            return [
                option_error(
                    "ssh_bastion_password or ssh_bastion_private_key_file must be specified",
                    "ssh_bastion_host",
                )
            ]
        errs: list[TemplateError] = []
        if self.ssh_bastion_private_key_file:  # a defaulted one was checked already
            errs += _check_key_file(
                self.ssh_bastion_private_key_file, "ssh_bastion_private_key_file"
            )
        errs += _check_cert_file(self.ssh_bastion_certificate_file, "ssh_bastion_certificate_file")
        return errs


def expand_path(path: str) -> str:
    """`~` expanded, as Packer does for key files; relative paths stay relative to cwd."""
    return os.path.expanduser(path)


def _check_key_file(path: str, option: str) -> list[TemplateError]:
    """The key file must exist and parse (without importing paramiko)."""
    if not path:
        return []
    full = expand_path(path)
    problem = key_file_problem(full)
    if problem is None:
        return []
    hint = None
    if "encrypted" in problem:
        hint = "use ssh_agent_auth with an agent holding the key, or a key without passphrase"
    return [option_error(f"{option} is invalid: {problem}", option, hint=hint)]


def _check_cert_file(path: str, option: str) -> list[TemplateError]:
    if path and not os.path.isfile(expand_path(path)):
        return [option_error(f"certificate file does not exist: {expand_path(path)}", option)]
    return []


def key_file_problem(path: str) -> str | None:
    """Why `path` is not a usable private key (None when it is): missing, unreadable, bad."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(1 << 20)
    except FileNotFoundError:
        return f"{path}: no such file"
    except IsADirectoryError:
        return f"{path}: is a directory"
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return parse_private_key_problem(data)


def parse_private_key_problem(data: bytes) -> str | None:
    """None when `data` is an unencrypted RSA/ECDSA/Ed25519 key (OpenSSH or PEM format)."""
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        return "cannot read keys without the cryptography package: pip install 'pybuild[ssh]'"

    loader: Any
    if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
        loader = serialization.load_ssh_private_key
    elif b"-----BEGIN" in data and b"PRIVATE KEY-----" in data:
        loader = serialization.load_pem_private_key
    else:
        return "not a PEM or OpenSSH private key"
    if b"ENCRYPTED" in data.split(b"\n", 3)[0] or b"Proc-Type: 4,ENCRYPTED" in data:
        return "the key is encrypted with a passphrase, which Packer does not support"
    try:
        key = loader(data, password=None)
    except TypeError:
        return "the key is encrypted with a passphrase, which Packer does not support"
    except (ValueError, Exception) as exc:  # noqa: BLE001 - any parse failure is the message
        return f"cannot parse the key: {exc}"
    kind = type(key).__name__
    if "DSA" in kind and "ECDSA" not in kind and "EllipticCurve" not in kind:
        return "DSA keys are not supported (use RSA, ECDSA or Ed25519)"
    return None
