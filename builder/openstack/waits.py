"""The openstack waits: server states, volume and image availability (Packer 1.6.6's rules).

Each polls through `builder.common.wait.wait_until` on the run's schedule (every 2 s by
default), honours cancellation, and has a deadline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from builder.common.wait import WaitFailed, wait_until
from builder.openstack.driver import OpenStackError

if TYPE_CHECKING:
    from builder.multistep import CancelToken
    from builder.openstack.driver import Image, OpenStackDriver, Server, Volume
    from builder.openstack.run import Polling

MAX_TRANSIENT = 10  # 500/404 answers ignored while waiting for a volume or an image


def wait_server(
    driver: OpenStackDriver,
    server_id: str,
    target: Sequence[str],
    pending: Sequence[str],
    polling: Polling,
    cancel: CancelToken,
) -> Server:
    """Until the server's status is one of `target`; any status not `pending` fails.

    ERROR fails with Nova's fault message. A server that is gone counts as `DELETED`.
    """

    def check() -> Server | None:
        server = driver.get_server(server_id)
        status = server.status if server is not None else "DELETED"
        if status in target:
            from builder.openstack.driver import Server as ServerRecord

            return server if server is not None else ServerRecord(server_id, status="DELETED")
        if status not in pending:
            fault = f": {server.fault}" if server is not None and server.fault else ""
            raise WaitFailed(f"unexpected state '{status}', wanted target {list(target)}{fault}")
        return None

    return wait_until("server_" + "_".join(t.lower() for t in target), check, polling, cancel)


def wait_volume_available(
    driver: OpenStackDriver, volume_id: str, polling: Polling, cancel: CancelToken
) -> Volume:
    errors = 0

    def check() -> Volume | None:
        nonlocal errors
        try:
            volume = driver.get_volume(volume_id)
        except OpenStackError as exc:
            if exc.status not in (404, 500):
                raise
            errors += 1
            if errors >= MAX_TRANSIENT:
                raise
            return None
        if volume is None:
            errors += 1
            if errors >= MAX_TRANSIENT:
                raise WaitFailed(f"volume {volume_id} not found")
            return None
        if volume.status == "available":
            return volume
        if volume.status in ("error", "error_deleting", "error_restoring", "error_extending"):
            raise WaitFailed(f"volume {volume_id} is in status {volume.status}")
        return None

    return wait_until("volume_available", check, polling, cancel)


def wait_image_active(
    driver: OpenStackDriver, image_id: str, polling: Polling, cancel: CancelToken
) -> Image:
    """Until Glance says `active`; `killed`/`deleted` (a failed snapshot) fail at once."""
    errors = 0

    def check() -> Image | None:
        nonlocal errors
        try:
            image = driver.get_image(image_id)
        except OpenStackError as exc:
            if exc.status not in (404, 500):
                raise
            image = None
        if image is None:
            errors += 1
            if errors >= MAX_TRANSIENT:
                raise WaitFailed(f"image {image_id} not found")
            return None
        if image.status == "active":
            return image
        if image.status in ("killed", "deleted", "pending_delete", "deactivated"):
            raise WaitFailed(f"image {image_id} is in status {image.status}")
        return None

    return wait_until("image_active", check, polling, cancel)
