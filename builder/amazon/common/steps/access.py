"""Temporary access resources: the key pair and the security group (and their cleanup)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.ec2 import AwsError
from builder.amazon.common.steps.source import go_list
from builder.amazon.common.waiter import WaitFailed, retry, wait_until
from builder.communicator.keygen import KeyPair, write_private_key
from builder.errors import BuildError
from builder.multistep import CancelToken

if TYPE_CHECKING:
    from builder.amazon.common.state import AmazonRun


def packer_uuid() -> str:
    """Packer's time-ordered UUID: unix time first, then random bytes."""
    b = os.urandom(12)
    head = int(time.time()) & 0xFFFFFFFF
    return f"{head:08x}-{b[0:2].hex()}-{b[2:4].hex()}-{b[4:6].hex()}-{b[6:8].hex()}{b[8:].hex()}"


@dataclass
class StepKeyPair:
    """Use the configured key, or create a temporary EC2 key pair (deleted in cleanup)."""

    name: ClassVar[str] = "StepKeyPair"
    temporary_name: str = ""
    debug_key_path: str = ""
    _created: str = ""
    _debug_file: str = ""

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui = ctx.config, ctx.ui
        if self._created:  # -on-error=ask retried this step: drop the first attempt's pair
            self.cleanup(ctx)
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
        try:
            material = ctx.driver.create_key_pair(self.temporary_name, cfg.temporary_key_pair_type)
        except AwsError as exc:
            raise BuildError(f"Error creating temporary keypair: {exc}") from exc
        self._created = self.temporary_name
        ctx.key_pair_name = self.temporary_name
        ctx.ssh_key = KeyPair(cfg.temporary_key_pair_type, 0, "", material, self.temporary_name)
        if ctx.debug and self.debug_key_path:
            ui.message(f"Saving key for debug purposes: {self.debug_key_path}")
            try:
                write_private_key(self.debug_key_path, material)
            except OSError as exc:
                raise BuildError(f"Error saving debug key: {exc}") from exc
            self._debug_file = self.debug_key_path

    def cleanup(self, ctx: AmazonRun) -> None:
        ctx.ssh_key = None
        if self._created:
            ctx.ui.say("Deleting temporary keypair...")
            try:
                ctx.driver.delete_key_pair(self._created)
                self._created = ""
            except AwsError:
                ctx.ui.error(
                    f"Error cleaning up keypair. Please delete the key manually: {self._created}"
                )
        if self._debug_file:
            try:
                os.remove(self._debug_file)
            except OSError as exc:
                ctx.ui.error(f"Error removing debug key '{self._debug_file}': {exc}")
            self._debug_file = ""


@dataclass
class StepSecurityGroup:
    """Use the given or filtered groups, or create a temporary one open on the SSH port."""

    name: ClassVar[str] = "StepSecurityGroup"
    _created: str = ""

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui, driver = ctx.config, ctx.ui, ctx.driver
        if self._created:  # retried after a failure: remove the first attempt's group
            self.cleanup(ctx)
        given = cfg.security_groups()
        if given:
            try:
                driver.describe_security_groups(group_ids=given)
            except AwsError as exc:
                raise BuildError(f"Couldn't find specified security group: {exc}") from exc
            ctx.security_group_ids = given
            return
        if cfg.security_group_filter.filters:
            filters = dict(cfg.security_group_filter.filters)
            if ctx.vpc_id:
                filters["vpc-id"] = ctx.vpc_id
            try:
                found = driver.describe_security_groups(filters=filters)
            except AwsError as exc:
                raise BuildError(f"Couldn't find security groups for filter: {exc}") from exc
            ui.message(f"Found Security Group(s): {', '.join(found)}")
            ctx.security_group_ids = found
            return
        group_name = f"packer_{packer_uuid()}"
        ui.say(f"Creating temporary security group for this instance: {group_name}")
        try:
            group_id = driver.create_security_group(
                group_name, "Temporary group for Packer", ctx.vpc_id
            )
        except AwsError as exc:
            raise BuildError(str(exc)) from exc
        self._created = group_id
        try:
            wait_until("security_group_exists", lambda: self._exists(ctx), ctx.polling, ctx.cancel)
        except (WaitFailed, AwsError) as exc:
            raise BuildError(f"Timed out waiting for security group {group_id}: {exc}") from exc
        ctx.security_group_ids = [group_id]
        if cfg.communicator == "none":
            return
        port, cidrs = cfg.ssh_port, cfg.source_cidrs()
        ui.say(
            f"Authorizing access to port {port} from {go_list(cidrs)} in the temporary "
            "security groups..."
        )
        try:
            driver.authorize_ingress(group_id, port, cidrs)
        except AwsError as exc:
            raise BuildError(f"Error authorizing temporary security group: {exc}") from exc

    def _exists(self, ctx: AmazonRun) -> bool | None:
        try:
            return True if ctx.driver.describe_security_groups(group_ids=[self._created]) else None
        except AwsError as exc:
            if exc.code in ("InvalidGroup.NotFound", "InvalidSecurityGroupID.NotFound"):
                return None
            raise

    def cleanup(self, ctx: AmazonRun) -> None:
        if not self._created:
            return
        ctx.ui.say("Deleting temporary security group...")
        group_id = self._created
        try:
            retry(
                lambda: ctx.driver.delete_security_group(group_id),
                retry_on=lambda e: isinstance(e, AwsError) and e.code == "DependencyViolation",
                cancel=CancelToken(),  # cleanup runs after Ctrl-C too: never cut short
            )
            self._created = ""
        except AwsError as exc:
            ctx.ui.error(
                "Error cleaning up security group. Please delete the group manually: "
                f"err: {exc}; security group ID: {group_id}"
            )
