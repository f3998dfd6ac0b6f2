"""StepSecurityGroup: the given or filtered groups, or a temporary one open on the SSH port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import PLATFORM, AwsError
from builder.amazon.common.lifecycle import GROUP_GONE, delete_security_group
from builder.amazon.common.steps.helpers import go_list, packer_uuid
from builder.common.plan import Creates
from builder.common.wait import WaitFailed, wait_until
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.config import AmazonConfig
    from builder.amazon.common.run import AmazonRun
    from builder.ledger import Resource


@dataclass
class StepSecurityGroup:
    """Use the given or filtered groups, or create a temporary one open on the SSH port.

    A temporary group is recorded under its name before CreateSecurityGroup and carries
    the run id tag from its creation on.
    """

    name: ClassVar[str] = "StepSecurityGroup"
    _created: Resource | None = None

    def plan(self, config: AmazonConfig, build_name: str) -> list[Creates]:
        if config.security_groups() or config.security_group_filter.filters:
            return []
        sources = ", ".join(config.source_cidrs())
        what = (
            f"temporary security group packer_<uuid> allowing {config.ssh_port}/tcp from {sources}"
        )
        return [Creates(f"{PLATFORM}.security_group", what, "packer_<uuid>")]

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui, driver = ctx.config, ctx.ui, ctx.driver
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
                found = [g.id for g in driver.describe_security_groups(filters=filters)]
            except AwsError as exc:
                raise BuildError(f"Couldn't find security groups for filter: {exc}") from exc
            ui.message(f"Found Security Group(s): {', '.join(found)}")
            ctx.security_group_ids = found
            return
        group_name = f"packer_{packer_uuid()}"
        ui.say(f"Creating temporary security group for this instance: {group_name}")
        res = ctx.record("security_group", group_name, vpc=ctx.vpc_id)
        try:
            group_id = driver.create_security_group(
                group_name, "Temporary group for Packer", ctx.vpc_id, ctx.run_tags()
            )
        except AwsError as exc:
            ctx.not_created(res, exc)
            raise BuildError(str(exc)) from exc
        res.created(group_id)
        self._created = res
        try:
            wait_until(
                "security_group_exists",
                lambda: self._exists(ctx, group_id),
                ctx.polling,
                ctx.cancel,
            )
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

    def _exists(self, ctx: AmazonRun, group_id: str) -> bool | None:
        try:
            return True if ctx.driver.describe_security_groups(group_ids=[group_id]) else None
        except AwsError as exc:
            if exc.code in GROUP_GONE:
                return None
            raise

    def cleanup(self, ctx: AmazonRun) -> None:
        res = self._created
        if res is None:
            return
        ctx.ui.say("Deleting temporary security group...")
        try:
            delete_security_group(ctx.driver, res.id)
        except AwsError as exc:
            ctx.ui.error(
                "Error cleaning up security group. Please delete the group manually: "
                f"err: {exc}; security group ID: {res.id}"
            )
            return
        res.released()
        self._created = None
