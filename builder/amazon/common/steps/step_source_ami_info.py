"""StepSourceAMIInfo: find the source AMI by id or by filter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import AwsError
from builder.amazon.common.steps.helpers import go_list, prevalidate_name
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.driver import Image
    from builder.amazon.common.run import AmazonRun


@dataclass
class StepSourceAMIInfo:
    """Find the source AMI by id or by filter (Packer's StepSourceAMIInfo)."""

    name: ClassVar[str] = "StepSourceAMIInfo"
    check_name: bool = False

    def run(self, ctx: AmazonRun) -> None:
        cfg = ctx.config
        amifilter = cfg.source_ami_filter
        ids = [cfg.source_ami] if cfg.source_ami else []
        filters = dict(amifilter.filters)
        owners = list(amifilter.owners)
        try:
            images = ctx.driver.describe_images(image_ids=ids, owners=owners, filters=filters)
        except AwsError as exc:
            raise BuildError(f"Error querying AMI: {exc}") from exc
        if not images:
            raise BuildError(
                f"No AMI was found matching filters: {_describe_query(ids, owners, filters)}"
            )
        if len(images) > 1 and not amifilter.most_recent:
            raise BuildError(
                "Your query returned more than one result. Please try a more specific search, "
                "or set most_recent to true."
            )
        image = max(images, key=lambda i: i.creation_date) if amifilter.most_recent else images[0]
        ctx.ui.message(f"Found Image ID: {image.id}")
        if cfg.ena_support or cfg.sriov_support:
            _check_enhanced_networking(cfg.ami_virtualization_type, image)
        ctx.source_image = image
        if self.check_name:
            prevalidate_name(ctx)

    def cleanup(self, ctx: AmazonRun) -> None:
        """Nothing was created."""


def _describe_query(ids: list[str], owners: list[str], filters: Mapping[str, object]) -> str:
    parts = []
    if ids:
        parts.append(f"ImageIds: {go_list(ids)}")
    if owners:
        parts.append(f"Owners: {go_list(owners)}")
    if filters:
        parts.append("Filters: " + ", ".join(f"{k}={v}" for k, v in sorted(filters.items())))
    return "{" + "; ".join(parts) + "}"


def _check_enhanced_networking(virt_type: str, image: Image) -> None:
    if virt_type == "paravirtual":
        raise BuildError(f"Cannot enable enhanced networking, AMIVirtType '{virt_type}' is not HVM")
    if image.virtualization_type != "hvm":
        raise BuildError(f"Cannot enable enhanced networking, source AMI '{image.id}' is not HVM")
