"""StepRunSourceServer: launch the server, wait until ACTIVE; delete it in cleanup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.common.plan import Creates
from builder.common.wait import WaitFailed
from builder.errors import BuildError
from builder.multistep import CancelToken
from builder.openstack.driver import PLATFORM, OpenStackError, ServerSpec
from builder.openstack.waits import wait_server

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.openstack.config import OpenStackConfig
    from builder.openstack.run import OpenStackRun

DELETE_PENDING = ("ACTIVE", "BUILD", "REBUILD", "SUSPENDED", "SHUTOFF", "STOPPED", "ERROR")


@dataclass
class StepRunSourceServer:
    """Launch the server and wait until it is ACTIVE; delete it (and wait) in cleanup.

    The server is recorded in the ledger under its name before the create call, and
    carries the run id in its metadata (`pybuild_run_id`) from its creation on.
    """

    name: ClassVar[str] = "StepRunSourceServer"
    _launched: Resource | None = None

    def plan(self, config: OpenStackConfig, build_name: str) -> list[Creates]:
        source = (
            config.source_image
            or config.source_image_name
            or config.external_source_image_url
            or f"the image matching {config.image_query().describe()}"
        )
        what = f"server {config.server_name()} ({config.flavor}) from {source}"
        return [Creates(f"{PLATFORM}.server", what, config.server_name())]

    def run(self, ctx: OpenStackRun) -> None:
        cfg, ui, driver = ctx.config, ctx.ui, ctx.driver
        user_data = cfg.user_data.encode()
        if cfg.user_data_file:
            try:
                with open(cfg.user_data_file, "rb") as f:
                    user_data = f.read()
            except OSError as exc:
                raise BuildError(f"Error reading user data file: {exc}") from exc
        ui.say("Launching server...")
        spec = ServerSpec(
            name=cfg.server_name(),
            flavor_id=ctx.flavor_id,
            image_id="" if cfg.use_blockstorage_volume else ctx.source_image_id,
            boot_volume_id=ctx.volume_id if cfg.use_blockstorage_volume else "",
            key_name=ctx.key_pair_name,
            networks=tuple(ctx.networks),
            security_groups=tuple(cfg.security_groups),
            availability_zone=cfg.availability_zone,
            user_data=user_data,
            config_drive=cfg.config_drive,
            metadata={**cfg.instance_metadata, **ctx.run_metadata()},
        )
        res = ctx.record("server", spec.name)
        try:
            server_id = driver.create_server(spec)
        except OpenStackError as exc:
            ctx.not_created(res, exc)
            raise BuildError(f"Error launching source server: {exc}") from exc
        res.created(server_id)
        self._launched = res
        ui.message(f"Server ID: {server_id}")
        ui.say("Waiting for server to become ready...")
        try:
            ctx.server = wait_server(
                driver, server_id, ("ACTIVE",), ("BUILD",), ctx.polling, ctx.cancel
            )
        except (WaitFailed, OpenStackError) as exc:
            raise BuildError(
                f"Error waiting for server ({server_id}) to become ready: {exc}"
            ) from exc

    def cleanup(self, ctx: OpenStackRun) -> None:
        res = self._launched
        if res is None:
            return
        ui, driver, server_id = ctx.ui, ctx.driver, res.id
        ui.say(f"Terminating the source server: {server_id} ...")
        try:
            driver.delete_server(server_id, force=ctx.config.force_delete)
            wait_server(driver, server_id, ("DELETED",), DELETE_PENDING, ctx.polling, CancelToken())
        except (WaitFailed, OpenStackError) as exc:
            ui.error(f"Error terminating server, may still be around: {exc}")
            return
        res.released()
        self._launched = None
        ctx.server = None
