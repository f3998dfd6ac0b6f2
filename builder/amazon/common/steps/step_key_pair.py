"""StepKeyPair: the configured key, or a temporary EC2 key pair deleted in cleanup."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import PLATFORM, AwsError
from builder.common.plan import Creates
from builder.communicator.keygen import KeyPair, write_private_key
from builder.errors import BuildError
from builder.ledger import LOCAL

if TYPE_CHECKING:
    from builder.amazon.common.config import AmazonConfig
    from builder.amazon.common.run import AmazonRun
    from builder.ledger import Resource


@dataclass
class StepKeyPair:
    """Use the configured key, or create a temporary EC2 key pair (deleted in cleanup).

    The pair is recorded in the ledger under its name before CreateKeyPair, and carries
    the run id tag from its creation on.
    """

    name: ClassVar[str] = "StepKeyPair"
    temporary_name: str = ""
    debug_key_path: str = ""
    _created: Resource | None = None
    _debug_file: Resource | None = None

    def plan(self, config: AmazonConfig, build_name: str) -> list[Creates]:
        if config.ssh_private_key_file or config.ssh_agent_auth or not self.temporary_name:
            return []
        name = config.temporary_key_pair_name or "packer_<uuid>"
        return [Creates(f"{PLATFORM}.key_pair", f"temporary key pair {name}", name)]

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui = ctx.config, ctx.ui
        if cfg.ssh_private_key_file:  # StepConnect reads it
            ui.say("Using existing SSH private key")
            ctx.key_pair_name = cfg.ssh_keypair_name
            return
        if cfg.ssh_agent_auth and not cfg.ssh_keypair_name:
            ui.say("Using SSH Agent with key pair in Source AMI")
            return
        if cfg.ssh_agent_auth:
            ui.say(f"Using SSH Agent for existing key pair {cfg.ssh_keypair_name}")
            ctx.key_pair_name = cfg.ssh_keypair_name
            return
        if not self.temporary_name:
            ui.say("Not using temporary keypair")
            return
        ui.say(f"Creating temporary keypair: {self.temporary_name}")
        res = ctx.record("key_pair", self.temporary_name)
        try:
            material = ctx.driver.create_key_pair(
                self.temporary_name, cfg.temporary_key_pair_type, ctx.run_tags()
            )
        except AwsError as exc:
            ctx.not_created(res, exc)
            raise BuildError(f"Error creating temporary keypair: {exc}") from exc
        res.created(self.temporary_name)
        self._created = res
        ctx.key_pair_name = self.temporary_name
        ctx.ssh_key = KeyPair(cfg.temporary_key_pair_type, 0, "", material, self.temporary_name)
        if ctx.options.debug and self.debug_key_path:
            ui.message(f"Saving key for debug purposes: {self.debug_key_path}")
            path = os.path.abspath(self.debug_key_path)
            self._debug_file = ctx.resources.creating(LOCAL, "file", name=path)
            try:
                write_private_key(path, material)
            except OSError as exc:
                raise BuildError(f"Error saving debug key: {exc}") from exc
            self._debug_file.created(path)

    def cleanup(self, ctx: AmazonRun) -> None:
        ctx.ssh_key = None
        res = self._created
        if res is not None:
            ctx.ui.say("Deleting temporary keypair...")
            try:
                ctx.driver.delete_key_pair(res.id)
                res.released()
                self._created = None
            except AwsError:
                ctx.ui.error(f"Error cleaning up keypair. Please delete the key manually: {res.id}")
        key_file = self._debug_file
        if key_file is not None:
            try:
                if os.path.lexists(key_file.name):
                    os.remove(key_file.name)
                key_file.released()
            except OSError as exc:
                ctx.ui.error(f"Error removing debug key '{key_file.name}': {exc}")
            self._debug_file = None
