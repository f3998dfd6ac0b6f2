"""The AMI artifact: one AMI per region; destroying it deregisters them and deletes snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from builder.amazon.common.ec2 import AwsError
from builder.artifact import Artifact
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.ec2 import Ec2Driver


class AmiArtifact(Artifact):
    """Packer's amazon Artifact: Id `region:ami,...` sorted; String `AMIs were created:`."""

    def __init__(
        self,
        builder_id: str,
        amis: Mapping[str, str],
        driver: Ec2Driver,
        generated_data: Mapping[str, str] | None = None,
    ):
        self.amis = dict(amis)
        self._driver = driver
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
        errors: list[str] = []
        for region, image_id in sorted(self.amis.items()):
            driver = self._driver.in_region(region)
            try:
                found = driver.describe_images(image_ids=[image_id])
            except AwsError as exc:
                errors.append(str(exc))
                continue
            if not found:
                errors.append(f"Error retrieving details for AMI ({image_id}), no images found")
                continue
            try:
                driver.deregister_image(image_id)
            except AwsError as exc:
                errors.append(str(exc))
                continue
            for snapshot in found[0].snapshot_ids:
                try:
                    driver.delete_snapshot(snapshot)
                except AwsError as exc:
                    errors.append(str(exc))
        if len(errors) == 1:
            raise BuildError(errors[0])
        if errors:
            raise BuildError(
                f"{len(errors)} error(s) occurred:\n\n" + "\n".join(f"* {e}" for e in errors)
            )
