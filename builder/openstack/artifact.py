"""The OpenStack artifact: one Glance image; destroying it deletes the image.

It keeps how to reach the cloud, not a session: `destroy()` opens a driver of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from builder.artifact import Artifact
from builder.errors import BuildError
from builder.openstack.driver import OPENSTACK, OpenStackError

if TYPE_CHECKING:
    from builder.openstack.driver import OpenStackSettings

BUILDER_ID = "mitchellh.openstack"


class ImageArtifact(Artifact):
    """Packer's openstack Artifact: Id is the image id, String `An image was created: <id>`."""

    def __init__(
        self,
        image_id: str,
        settings: OpenStackSettings,
        generated_data: Mapping[str, str] | None = None,
    ):
        self.image_id, self.settings = image_id, settings
        super().__init__(
            BUILDER_ID,
            image_id,
            [],
            text=f"An image was created: {image_id}",
            state={"generated_data": dict(generated_data or {})},
        )

    def destroy(self) -> None:
        with OPENSTACK.open(self.settings) as driver:
            try:
                driver.delete_image(self.image_id)
            except OpenStackError as exc:
                raise BuildError(f"Error destroying image {self.image_id}: {exc}") from exc
