"""StepNetworkInfo: resolve vpc_filter / subnet_filter to ids; the subnet's AZ and VPC."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import AwsError
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.run import AmazonRun


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
