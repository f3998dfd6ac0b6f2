"""StepConnectVSphere: log in to vCenter, the session recorded in the ledger; log out in cleanup.

The session is `vsphere.session`, named `user@server`, its id the digest of the session
key (`sha256:…`: the key itself is a bearer token and never recorded). A session the
driver opens again after losing one is recorded too; cleanup logs out and releases them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from builder.common.plan import Creates
from builder.errors import BuildError, DriverError
from builder.vsphere.common.run import PLATFORM, VSphereRun

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.vsphere.common.config import VSphereConfig


@dataclass
class StepConnectVSphere:
    """Packer's vsphere StepConnect (named apart from the communicator's StepConnect)."""

    name: ClassVar[str] = "StepConnectVSphere"
    _sessions: list[Resource] = field(default_factory=list, init=False, repr=False)

    def plan(self, config: VSphereConfig, build_name: str) -> list[Creates]:
        who = f"{config.username}@{config.vcenter_server}"
        return [Creates(f"{PLATFORM}.session", "a vCenter session (logged out at the end)", who)]

    def run(self, ctx: VSphereRun[Any]) -> None:
        cfg = ctx.config
        who = f"{cfg.username}@{cfg.vcenter_server}"

        def replaced(old: str, new: str) -> None:
            for res in self._sessions:
                if res.id == old:
                    res.released()
            again = ctx.resources.creating(PLATFORM, "session", name=who)
            again.created(new)
            self._sessions.append(again)
            ctx.ui.message("The vCenter session was lost; logged in again")

        res = ctx.resources.creating(PLATFORM, "session", name=who)
        self._sessions.append(res)
        try:
            digest = ctx.driver.login(on_new_session=replaced)
        except DriverError as exc:
            res.released()  # the server refused: no session exists
            raise BuildError(str(exc)) from exc
        res.created(digest)

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        if not self._sessions:
            return
        try:
            ctx.driver.logout()
        except DriverError as exc:
            ctx.ui.error(f"Error logging out of vCenter: {exc}")
            return
        for res in self._sessions:
            res.released()
        self._sessions.clear()
