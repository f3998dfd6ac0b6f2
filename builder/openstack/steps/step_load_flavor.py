"""StepLoadFlavor: authenticate, then find the flavor by id or name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.errors import BuildError
from builder.openstack.driver import NotFound, OpenStackError

if TYPE_CHECKING:
    from builder.openstack.run import OpenStackRun


@dataclass
class StepLoadFlavor:
    """Get a Keystone token (Packer 1.6.6 does it when preparing) and resolve `flavor`."""

    name: ClassVar[str] = "StepLoadFlavor"

    def run(self, ctx: OpenStackRun) -> None:
        ctx.driver.authenticate()
        flavor = ctx.config.flavor
        ctx.ui.say(f"Loading flavor: {flavor}")
        try:
            found = ctx.driver.get_flavor(flavor)
        except NotFound as exc:
            raise BuildError(f"Unable to find specified flavor by ID or name: {exc}") from exc
        except OpenStackError as exc:
            raise BuildError(f"Error loading flavor: {exc}") from exc
        ctx.ui.message(f"Verified flavor. ID: {found.id}")
        ctx.flavor_id = found.id

    def cleanup(self, ctx: OpenStackRun) -> None:
        """Nothing to undo."""
