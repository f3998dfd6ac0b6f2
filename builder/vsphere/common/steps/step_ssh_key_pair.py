"""StepSshKeyPair: 1.6.6's vSphere key handling for the ssh communicator.

No ssh_password: an `ssh_private_key_file` is used as it is; `ssh_agent_auth` uses the
agent; otherwise an ephemeral RSA key pair is made and its public key set as the VM's
`public-keys` vApp property (a VM without vApp options cannot take one: 1.6.6 fails
then, and so does this step, saying so).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from builder.common.steps.connect import temporary_key_name
from builder.errors import BuildError, DriverError
from builder.vsphere.common.run import VSphereRun


@dataclass
class StepSshKeyPair:
    name: ClassVar[str] = "StepSshKeyPair"
    debug_key_path: str = ""
    _saved: str = ""

    def run(self, ctx: VSphereRun[Any]) -> None:
        from builder.communicator.keygen import generate_key_pair, write_private_key

        cfg = ctx.config
        if cfg.communicator != "ssh" or cfg.ssh_password:
            return
        if cfg.ssh_private_key_file:
            ctx.ui.say("Using existing SSH private key for the communicator...")
            return
        if cfg.ssh_agent_auth:
            ctx.ui.say("Using local SSH Agent to authenticate connections for the communicator...")
            return
        ctx.ui.say("Creating ephemeral key pair for SSH communicator...")
        key = generate_key_pair("rsa", cfg.temporary_key_pair_bits, temporary_key_name(cfg))
        ctx.ssh_key = key
        ctx.connect_data["SSHPublicKey"] = key.public_line
        ctx.connect_data["SSHPrivateKey"] = key.private_pem
        try:
            ctx.driver.add_public_keys(ctx.require_vm(), key.public_line)
        except DriverError as exc:
            raise BuildError(
                f"error saving temporary keypair in the vm: not possible to save temporary "
                f"public key: {exc}"
            ) from exc
        ctx.ui.say("Created ephemeral SSH key pair for communicator")
        if self.debug_key_path:
            ctx.ui.message(
                f"Saving communicator private key for debug purposes: {self.debug_key_path}"
            )
            write_private_key(self.debug_key_path, key.private_pem)
            self._saved = self.debug_key_path

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        ctx.ssh_key = None
        if self._saved:
            try:
                os.remove(self._saved)
            except OSError as exc:
                ctx.ui.error(f"Error removing debug key '{self._saved}': {exc}")
            self._saved = ""
