"""Before anything is created: pre-validation, the source AMI, the network to launch into."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.config import check_ami_name
from builder.amazon.common.ec2 import AwsError
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.ec2 import Image
    from builder.amazon.common.state import AmazonRun

_NEEDS_SOURCE = re.compile(r"\.SourceAMI")


def go_list(items: list[str]) -> str:
    """Go's %v of a []string: `[a b c]`."""
    return "[" + " ".join(items) + "]"


def needs_source_data(text: str) -> bool:
    """Whether a template string uses `.SourceAMI...` (known only after StepSourceAMIInfo)."""
    return bool(_NEEDS_SOURCE.search(text))


def name_checked_late(cfg: object) -> bool:
    """StepPreValidate leaves the AMI name check to StepSourceAMIInfo."""
    skipped = any(
        getattr(cfg, flag)
        for flag in ("force_deregister", "skip_save_build_region", "skip_create_ami")
    )
    return not skipped and needs_source_data(getattr(cfg, "ami_name", ""))


def resolve_ami_name(ctx: AmazonRun) -> str:
    """Render ami_name with the template data and check it like AWS would."""
    name = ctx.render_text(ctx.config.ami_name)
    problems = check_ami_name(name)
    if problems:
        raise BuildError(f"invalid ami_name {name!r}: " + "; ".join(p.message for p in problems))
    ctx.ami_name = name
    return name


def prevalidate_name(ctx: AmazonRun) -> None:
    """Fail early when an AMI of this name already exists in the build region."""
    name = resolve_ami_name(ctx)
    ctx.ui.say(f"Prevalidating AMI Name: {name}")
    try:
        images = ctx.driver.describe_images(owners=["self"], filters={"name": name})
    except AwsError as exc:
        raise BuildError(f"Error querying AMI: {exc}") from exc
    if images:
        raise BuildError(
            f"Error: AMI Name: '{images[0].name}' is used by an existing AMI: {images[0].id}"
        )


@dataclass
class StepPreValidate:
    """Regions exist, the VPC is usable, the AMI name is free (unless force_deregister)."""

    name: ClassVar[str] = "StepPreValidate"

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui = ctx.config, ctx.ui
        if not cfg.skip_region_validation:
            self._check_regions(ctx)
        if cfg.force_deregister:
            ui.say("Force Deregister flag found, skipping prevalidating AMI Name")
            return
        if cfg.skip_save_build_region:
            ui.say("skip_build_region was set; not prevalidating AMI name")
            return
        if cfg.skip_create_ami:
            ui.say("skip_create_ami was set; not prevalidating AMI name")
            return
        ui.say("Prevalidating any provided VPC information")
        self._check_vpc(ctx)
        if not needs_source_data(cfg.ami_name):
            prevalidate_name(ctx)  # else StepSourceAMIInfo checks it once the source is known

    def _check_regions(self, ctx: AmazonRun) -> None:
        wanted = [*ctx.config.copy_regions(ctx.region), ctx.region]
        try:
            valid = ctx.driver.list_regions()
        except AwsError as exc:
            raise BuildError(f"error validating regions: {exc}") from exc
        invalid = [r for r in wanted if r not in valid]
        if invalid:
            raise BuildError(
                f"error validating regions: Invalid region(s): {go_list(invalid)}, "
                f"available regions: {go_list(valid)}"
            )

    def _check_vpc(self, ctx: AmazonRun) -> None:
        cfg = ctx.config
        if not cfg.vpc_id or cfg.subnet_id or cfg.subnet_filter.filters:
            return
        try:
            vpcs = ctx.driver.describe_vpcs(vpc_ids=[cfg.vpc_id])
        except AwsError as exc:
            raise BuildError(
                f"Error retrieving VPC information for vpc_id {cfg.vpc_id}: {exc}"
            ) from exc
        if len(vpcs) == 1 and not vpcs[0].is_default:
            raise BuildError(
                "Error: subnet_id or subnet_filter must be provided for non-default VPCs "
                f"({cfg.vpc_id})"
            )

    def cleanup(self, ctx: AmazonRun) -> None:
        """Nothing was created."""


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


def _describe_query(ids: list[str], owners: list[str], filters: dict[str, object]) -> str:
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


@dataclass
class StepNetworkInfo:
    """Resolve vpc_filter / subnet_filter to ids; find the subnet's AZ and VPC."""

    name: ClassVar[str] = "StepNetworkInfo"

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui, driver = ctx.config, ctx.ui, ctx.driver
        ctx.vpc_id, ctx.subnet_id = cfg.vpc_id, cfg.subnet_id
        ctx.availability_zone = cfg.availability_zone
        if not ctx.vpc_id and cfg.vpc_filter.filters:
            filters = {**cfg.vpc_filter.filters, "state": "available"}
            try:
                vpcs = driver.describe_vpcs(filters=filters)
            except AwsError as exc:
                raise BuildError(f"Error querying VPCs: {exc}") from exc
            if len(vpcs) != 1:
                raise BuildError(
                    f"Exactly one VPC should match the filter, but {len(vpcs)} VPC's was found "
                    f"matching filters: {filters}"
                )
            ctx.vpc_id = vpcs[0].id
            ui.message(f"Found VPC ID: {ctx.vpc_id}")
        if not ctx.subnet_id and cfg.subnet_filter.filters:
            filters = {**cfg.subnet_filter.filters, "state": "available"}
            if ctx.vpc_id:
                filters["vpc-id"] = ctx.vpc_id
            if ctx.availability_zone:
                filters["availabilityZone"] = ctx.availability_zone
            try:
                subnets = driver.describe_subnets(filters=filters)
            except AwsError as exc:
                raise BuildError(f"Error querying Subnets: {exc}") from exc
            if not subnets:
                raise BuildError(f"No Subnets was found matching filters: {filters}")
            sf = cfg.subnet_filter
            if len(subnets) > 1 and not (sf.random or sf.most_free):
                raise BuildError(
                    f"Your filter matched {len(subnets)} Subnets. Please try a more specific "
                    "search, or set random or most_free to true."
                )
            if sf.most_free:
                subnet = max(subnets, key=lambda s: s.available_ips)
            elif sf.random:
                subnet = random.choice(subnets)
            else:
                subnet = subnets[0]
            ctx.subnet_id = subnet.id
            ui.message(f"Found Subnet ID: {ctx.subnet_id}")
        if ctx.subnet_id and (not ctx.availability_zone or not ctx.vpc_id):
            try:
                found = driver.describe_subnets(subnet_ids=[ctx.subnet_id])
            except AwsError as exc:
                raise BuildError(
                    f"Describing the subnet: {ctx.subnet_id} returned error: {exc}."
                ) from exc
            if found:
                ctx.availability_zone = ctx.availability_zone or found[0].availability_zone
                ctx.vpc_id = ctx.vpc_id or found[0].vpc_id

    def cleanup(self, ctx: AmazonRun) -> None:
        """Nothing was created."""
