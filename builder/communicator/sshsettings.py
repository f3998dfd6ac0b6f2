"""What one SSH connection needs (target, bastion, SOCKS proxy, options), without paramiko."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builder.communicator.config import CommunicatorConfig


@dataclass
class Hop:
    """Where to connect and how to log in (the target, or a bastion)."""

    host: str
    port: int = 22
    username: str = ""
    password: str = field(default="", repr=False)
    key_file: str = ""
    key_text: str = field(default="", repr=False)
    certificate_file: str = ""
    agent_auth: bool = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Proxy:
    """A SOCKS5 proxy (RFC 1928), with optional username/password (RFC 1929)."""

    host: str
    port: int = 1080
    username: str = ""
    password: str = field(default="", repr=False)


@dataclass
class SSHSettings:
    """Everything one SSH connection needs, resolved from the config and the builder."""

    host: str
    port: int = 22
    username: str = ""
    password: str = field(default="", repr=False)
    private_key_file: str = ""
    private_key: str = field(default="", repr=False)
    certificate_file: str = ""
    agent_auth: bool = False
    pty: bool = False
    timeout: float = 300.0
    handshake_attempts: int = 10
    keep_alive_interval: float = 5.0
    read_write_timeout: float = 0.0
    disable_agent_forwarding: bool = False
    file_transfer_method: str = "auto"  # auto | sftp | scp
    ciphers: list[str] = field(default_factory=list)
    kex: list[str] = field(default_factory=list)
    pause_before_connecting: float = 0.0
    bastion: Hop | None = None
    proxy: Proxy | None = None

    @classmethod
    def from_config(
        cls,
        cfg: CommunicatorConfig,
        *,
        host: str | None = None,
        port: int | None = None,
        private_key: str = "",
    ) -> SSHSettings:
        """Settings from the ssh_* options; the builder may supply host, port and a temp key."""
        bastion = None
        if cfg.ssh_bastion_host:
            bastion = Hop(
                cfg.ssh_bastion_host,
                cfg.ssh_bastion_port,
                cfg.bastion_username,
                cfg.ssh_bastion_password,
                cfg.bastion_key_file,
                "",
                cfg.ssh_bastion_certificate_file or cfg.ssh_certificate_file,
                cfg.ssh_bastion_agent_auth,
            )
        proxy = None
        if cfg.ssh_proxy_host:
            proxy = Proxy(
                cfg.ssh_proxy_host,
                cfg.ssh_proxy_port,
                cfg.ssh_proxy_username,
                cfg.ssh_proxy_password,
            )
        method = cfg.ssh_file_transfer_method
        return cls(
            host=cfg.ssh_host or host or "",
            port=cfg.ssh_port if (cfg.was_set("ssh_port") or port is None) else port,
            username=cfg.ssh_username,
            password=cfg.ssh_password,
            private_key_file=cfg.ssh_private_key_file,
            private_key="" if cfg.ssh_private_key_file else private_key,
            certificate_file=cfg.ssh_certificate_file,
            agent_auth=cfg.ssh_agent_auth,
            pty=cfg.ssh_pty,
            timeout=cfg.ssh_timeout,
            handshake_attempts=max(1, cfg.ssh_handshake_attempts),
            keep_alive_interval=cfg.ssh_keep_alive_interval,
            read_write_timeout=cfg.ssh_read_write_timeout,
            disable_agent_forwarding=cfg.ssh_disable_agent_forwarding,
            file_transfer_method=method if cfg.was_set("ssh_file_transfer_method") else "auto",
            ciphers=list(cfg.ssh_ciphers),
            kex=list(cfg.ssh_key_exchange_algorithms),
            pause_before_connecting=cfg.pause_before_connecting,
            bastion=bastion,
            proxy=proxy,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"
