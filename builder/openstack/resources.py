"""`pybuild cleanup` for OpenStack: remove what a dead openstack build left; sweep by run id.

Kinds (platform "openstack"):
- "server": name recorded before the create call, id after. Without an id, a server of
  that name is ours only when its metadata carries the run id (`pybuild_run_id`).
  Deleted, and waited for, so its volume and ports are free after.
- "keypair": the temporary Nova key pair (a unique `packer_<uuid>` name).
- "volume": the boot volume; without an id found by name and run id metadata.
- "floating_ip": a created floating IP; without an id found by its description.
- "image": an image whose build did not finish (or the temporary imported source);
  without an id, images of that name created after the record.
`sweep()` finds servers and volumes with run id metadata and floating IPs whose
description carries one.

Credentials are never in the ledger: a clouds.yaml `cloud` is recorded and read again;
otherwise pass the template (`pybuild cleanup -template t.json`) or set OS_PASSWORD.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from builder.errors import PybuildError
from builder.ledger import LeftResource
from builder.multistep import CancelToken
from builder.openstack.driver import (
    OPENSTACK,
    PLATFORM,
    RUN_METADATA,
    OpenStackDriver,
    OpenStackSettings,
)
from builder.openstack.run import DEFAULT_POLLING, Polling
from builder.openstack.steps.step_run_source_server import DELETE_PENDING
from builder.openstack.waits import wait_server


class OpenStackRemover:
    """Removes OpenStack resources of dead runs through one open driver."""

    def __init__(self, driver: OpenStackDriver, polling: Polling = DEFAULT_POLLING):
        self.driver, self.polling = driver, polling

    def remove(self, res: LeftResource) -> bool:
        kinds = {
            "server": self._server,
            "keypair": self._keypair,
            "volume": self._volume,
            "floating_ip": self._floating_ip,
            "image": self._image,
        }
        remove = kinds.get(res.kind)
        if remove is None:
            raise PybuildError(f"unknown openstack resource kind {res.kind!r}")
        return remove(res)

    def _server(self, res: LeftResource) -> bool:
        d = self.driver
        if res.id and res.state == "created":
            found = d.get_server(res.id)
            candidates = [found] if found is not None else []
        else:
            candidates = [
                s for s in d.servers(name=res.name) if s.metadata.get(RUN_METADATA) == res.run_id
            ]
        for server in candidates:
            d.delete_server(server.id, force=False)
        for server in candidates:
            wait_server(d, server.id, ("DELETED",), DELETE_PENDING, self.polling, CancelToken())
        return bool(candidates)

    def _keypair(self, res: LeftResource) -> bool:
        name = res.id or res.name
        return bool(name) and self.driver.delete_keypair(name)

    def _volume(self, res: LeftResource) -> bool:
        d = self.driver
        if res.id and res.state == "created":
            found = d.get_volume(res.id)
            volumes = [found] if found is not None else []
        else:
            volumes = [
                v for v in d.volumes(name=res.name) if v.metadata.get(RUN_METADATA) == res.run_id
            ]
        removed = False
        for volume in volumes:
            removed = d.delete_volume(volume.id) or removed
        return removed

    def _floating_ip(self, res: LeftResource) -> bool:
        d = self.driver
        if res.id and res.state == "created":
            return d.delete_floating_ip(res.id)
        description = f"{RUN_METADATA}={res.run_id}"
        removed = False
        for ip in d.floating_ips(description=description):
            removed = d.delete_floating_ip(ip.id) or removed
        return removed

    def _image(self, res: LeftResource) -> bool:
        d = self.driver
        if res.id and res.state == "created":
            return d.delete_image(res.id)
        from builder.openstack.driver import ImageQuery

        after = res.attrs.get("not_before", "")
        removed = False
        for image in d.find_images(ImageQuery(name=res.name), any_status=True):
            if after and image.created_at and image.created_at < after:
                continue  # older than the build: never ours
            removed = d.delete_image(image.id) or removed
        return removed

    def sweep(self) -> Iterable[LeftResource]:
        d = self.driver
        found: list[LeftResource] = []
        for server in d.servers():
            run_id = server.metadata.get(RUN_METADATA, "")
            if run_id:
                found.append(_swept(run_id, "server", server.id, server.name))
        for volume in d.volumes():
            run_id = volume.metadata.get(RUN_METADATA, "")
            if run_id:
                found.append(_swept(run_id, "volume", volume.id, volume.name))
        prefix = f"{RUN_METADATA}="
        for ip in d.floating_ips():
            if ip.description.startswith(prefix):
                found.append(_swept(ip.description[len(prefix) :], "floating_ip", ip.id, ""))
        return found


def _swept(run_id: str, kind: str, id: str, name: str) -> LeftResource:
    return LeftResource(run_id, f"sweep:{id}", "", PLATFORM, kind, name, id, {}, "created")


class OpenStackResources:
    """The `pybuild.resources` handler for platform `openstack`."""

    @contextmanager
    def open(self, recorded: Mapping[str, Any], full: Any | None) -> Iterator[OpenStackRemover]:
        if isinstance(full, OpenStackSettings):
            settings = full
        else:
            source = full if isinstance(full, Mapping) else recorded
            settings = OpenStackSettings.from_record(source)
        if not settings.cloud and not settings.identity_endpoint:
            raise PybuildError(
                "no OpenStack cloud to clean up in: the ledger names none; set OS_CLOUD or "
                "OS_AUTH_URL"
            )
        with OPENSTACK.open(settings) as driver:
            yield OpenStackRemover(driver)


HANDLER = OpenStackResources()
