"""Steps that make a temporary SSH key, connect the communicator and remove the key again.

They run in any `BuildRun` whose config is a CommunicatorConfig and fill its
`communicator`, `ssh_key` and `connect_data` (the build data learned here: Host, Port,
User, Password, ConnType, SSHPublicKey, SSHPrivateKey, SSHPrivateKeyFile, SSHAgentAuth).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.common.run import BuildRun
from builder.communicator.config import CommunicatorConfig
from builder.communicator.none import NoneCommunicator
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.communicator.keygen import KeyPair
    from builder.communicator.ssh import SSHCommunicator
    from builder.communicator.sshsettings import SSHSettings


Run = BuildRun[CommunicatorConfig]


@dataclass
class StepConnectNone:
    """`communicator: none`: nothing to connect."""

    name: ClassVar[str] = "StepConnect"

    def run(self, ctx: Run) -> None:
        ctx.communicator = NoneCommunicator()

    def cleanup(self, ctx: Run) -> None:
        ctx.communicator = None


def temporary_key_name(cfg: CommunicatorConfig) -> str:
    """`temporary_key_pair_name`, or Packer's `packer_<uuid>`."""
    return cfg.temporary_key_pair_name or f"packer_{uuid.uuid4()}"


@dataclass
class StepSSHKeyGen:
    """Make a temporary key pair when the ssh options carry no credentials of their own.

    `debug_key_path`: with -debug, the private key is also saved there (0600), as Packer does.
    """

    name: ClassVar[str] = "StepSSHKeyGen"
    debug_key_path: str = ""

    def run(self, ctx: Run) -> None:
        from builder.communicator.keygen import generate_key_pair, write_private_key

        cfg = ctx.config
        if cfg.communicator != "ssh":
            return
        if cfg.ssh_private_key_file:
            ctx.ui.say("Using existing SSH private key")
            return
        if cfg.auth_methods():
            return
        kind = cfg.temporary_key_pair_type
        ctx.ui.say(f"Creating temporary {kind.upper()} SSH key for instance...")
        key = generate_key_pair(kind, cfg.temporary_key_pair_bits, temporary_key_name(cfg))
        ctx.ssh_key = key
        data = ctx.connect_data
        data["SSHPublicKey"], data["SSHPrivateKey"] = key.public_line, key.private_pem
        if self.debug_key_path:
            ctx.ui.message(f"Saving key for debug purposes: {self.debug_key_path}")
            write_private_key(self.debug_key_path, key.private_pem)

    def cleanup(self, ctx: Run) -> None:
        """The key lives in memory only; forget it."""
        ctx.ssh_key = None


@dataclass
class StepConnect:
    """Connect the configured communicator: none, or ssh with Packer's wait loop.

    `host`/`port` give the builder's address for the machine (a cloud instance's IP);
    `ssh_host`/`ssh_port` in the template win over them. `docker` is the docker
    builder's own step.
    """

    name: ClassVar[str] = "StepConnect"
    host: Callable[[Run], str] | None = None
    port: Callable[[Run], int] | None = None
    _comm: SSHCommunicator | None = None

    def run(self, ctx: Run) -> None:
        cfg = ctx.config
        if cfg.communicator == "none":
            ctx.communicator = NoneCommunicator()
            return
        if cfg.communicator != "ssh":
            raise BuildError(
                f"communicator {cfg.communicator!r} is not available with this builder"
            )
        from builder.communicator.ssh import SSHCommunicator
        from builder.communicator.sshsettings import SSHSettings

        host = cfg.ssh_host or (self.host(ctx) if self.host else "")
        if not host:
            raise BuildError("no address to connect to: set ssh_host")
        key = ctx.ssh_key
        settings = SSHSettings.from_config(
            cfg,
            host=host,
            port=self.port(ctx) if self.port else None,
            private_key=key.private_pem if key else "",
        )
        ctx.ui.say(f"Using ssh communicator to connect: {settings.host}")
        self._comm = SSHCommunicator(settings)
        self._comm.connect(ctx.ui, ctx.cancel)
        ctx.communicator = self._comm
        ctx.connect_data.update(connection_data(settings, cfg, key))

    def cleanup(self, ctx: Run) -> None:
        """Close the connection this step opened; safe to call twice."""
        if self._comm is not None:
            self._comm.close()
            self._comm = None
        ctx.communicator = None


def connection_data(
    settings: SSHSettings, cfg: CommunicatorConfig, key: KeyPair | None
) -> dict[str, str]:
    """The `{{build}}` keys a connected ssh communicator provides (Packer's names)."""
    return {
        "Host": settings.host,
        "Port": str(settings.port),
        "User": settings.username,
        "Password": settings.password,
        "ConnType": "ssh",
        "SSHPublicKey": key.public_line if key else "",
        "SSHPrivateKey": key.private_pem if key else "",
        "SSHPrivateKeyFile": cfg.ssh_private_key_file,
        "SSHAgentAuth": "true" if cfg.ssh_agent_auth else "false",
    }


@dataclass
class StepCleanupTempKeys:
    """With ssh_clear_authorized_keys, remove the temporary public key from the machine."""

    name: ClassVar[str] = "StepCleanupTempKeys"

    def run(self, ctx: Run) -> None:
        cfg = ctx.config
        key, comm = ctx.ssh_key, ctx.communicator
        if not cfg.ssh_clear_authorized_keys or cfg.communicator != "ssh" or key is None:
            return
        if comm is None or not key.name:
            return
        ctx.ui.say("Trying to remove ephemeral keys from authorized_keys files")
        pattern = key.name.replace("/", r"\/")
        for command in (
            f"sed -i.bak '/ {pattern}$/d' ~/.ssh/authorized_keys; rm ~/.ssh/authorized_keys.bak",
            f"sudo sed -i.bak '/ {pattern}$/d' /root/.ssh/authorized_keys; "
            "sudo rm /root/.ssh/authorized_keys.bak",
        ):
            try:
                result = comm.run(command, cancel=ctx.cancel)
            except BuildError as exc:
                ctx.ui.say(
                    f"Error cleaning up authorized_keys; please clean up keys manually: {exc}"
                )
                continue
            if result.exit_status != 0:
                ctx.ui.say(
                    "Error cleaning up authorized_keys; please clean up keys manually: "
                    f"exit status {result.exit_status}"
                )

    def cleanup(self, ctx: Run) -> None:
        """Nothing to undo."""
