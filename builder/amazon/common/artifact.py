"""The AMI artifact: one AMI per region; destroying it deregisters them and deletes snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from builder.amazon.common.driver import AMAZON, AwsError
from builder.artifact import Artifact
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.driver import Ec2Driver, SessionSettings


class AmiArtifact(Artifact):
    """Packer's amazon Artifact: Id `region:ami,...` sorted; String `AMIs were created:`.

    It keeps how to reach AWS, not a session: `destroy()` opens a driver of its own.
    """

    def __init__(
        self,
        builder_id: str,
        amis: Mapping[str, str],
        settings: SessionSettings,
        generated_data: Mapping[str, str] | None = None,
    ):
        self.amis = dict(amis)
        self.settings = settings
        parts = sorted(f"{region}:{ami}" for region, ami in self.amis.items())
        lines = sorted(f"{region}: {ami}" for region, ami in self.amis.items())
        metadata = {f"region.{region}": ami for region, ami in self.amis.items()}
        super().__init__(
            builder_id,
            ",".join(parts),
            [],
            text="AMIs were created:\n" + "\n".join(lines) + "\n",
            state={
                "generated_data": dict(generated_data or {}),
                "atlas.artifact.metadata": metadata,
            },
        )

    def destroy(self) -> None:
        """Deregister every AMI and delete its snapshots, in every region."""
        with AMAZON.open(self.settings) as driver:
            errors = [
                e
                for region, ami in sorted(self.amis.items())
                for e in _destroy(driver.in_region(region), ami)
            ]
        if len(errors) == 1:
            raise BuildError(errors[0])
        if errors:
            raise BuildError(
                f"{len(errors)} error(s) occurred:\n\n" + "\n".join(f"* {e}" for e in errors)
            )


def _destroy(driver: Ec2Driver, image_id: str) -> list[str]:
    """Packer's Artifact.Destroy for one region: a missing AMI is an error here."""
    try:
        found = driver.describe_images(image_ids=[image_id])
    except AwsError as exc:
        return [str(exc)]
    if not found:
        return [f"Error retrieving details for AMI ({image_id}), no images found"]
    try:
        driver.deregister_image(image_id)
    except AwsError as exc:
        return [str(exc)]
    errors = []
    for snapshot in found[0].snapshot_ids:
        try:
            driver.delete_snapshot(snapshot)
        except AwsError as exc:
            errors.append(str(exc))
    return errors
