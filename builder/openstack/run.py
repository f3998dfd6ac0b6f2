"""`OpenStackRun`: the typed run context every openstack step reads and fills."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from builder.common.run import BuildRun
from builder.openstack.config import OpenStackConfig
from builder.openstack.driver import PLATFORM, RUN_METADATA, OpenStackError

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.openstack.driver import FloatingIP, NetworkRef, OpenStackDriver, Server


@dataclass(frozen=True)
class Polling:
    """How the waits poll: every `interval` seconds (Packer 1.6.6: 2 s), up to `timeout`."""

    interval: float = 2.0
    timeout: float = 3600.0

    def sleeps(self, waiter: str) -> list[float]:
        return [self.interval] * max(1, int(self.timeout / self.interval))


# Tests make the waits fast by replacing this.
DEFAULT_POLLING = Polling()


@dataclass(kw_only=True)
class OpenStackRun(BuildRun[OpenStackConfig]):
    """One openstack build: the open driver, and what the steps learn and create."""

    driver: OpenStackDriver
    polling: Polling = field(default_factory=lambda: DEFAULT_POLLING)
    flavor_id: str = ""
    source_image_id: str = ""
    networks: list[NetworkRef] = field(default_factory=list)
    volume_id: str = ""
    key_pair_name: str = ""
    server: Server | None = None
    floating_ip: FloatingIP | None = None
    image_id: str = ""
    image_resource: Resource | None = field(default=None, repr=False)

    @property
    def server_id(self) -> str:
        return self.server.id if self.server is not None else ""

    def require_server(self) -> Server:
        if self.server is None:
            from builder.errors import BuildError

            raise BuildError("no server has been launched yet")
        return self.server

    def machine_id(self) -> str:
        return self.server_id

    def record(self, kind: str, name: str = "", **attrs: str) -> Resource:
        """Record an OpenStack resource in the ledger before the call that creates it."""
        return self.resources.creating(PLATFORM, kind, name=name, **attrs)

    def not_created(self, res: Resource, error: Exception) -> None:
        """The create call failed: when the service answered, nothing exists to clean up."""
        if isinstance(error, OpenStackError) and error.answered:
            res.released()

    def run_metadata(self) -> dict[str, str]:
        """The metadata that ties a temporary server or volume to this run (for -sweep)."""
        return {RUN_METADATA: self.resources.run_id}

    def run_description(self) -> str:
        """A floating IP's description that ties it to this run."""
        return f"{RUN_METADATA}={self.resources.run_id}"

    def build_data(self) -> dict[str, str]:
        return {"ID": self.server_id, **self.connect_data}
