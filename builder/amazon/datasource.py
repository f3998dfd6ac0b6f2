"""The `amazon-ami` data source: one AMI found by filters and owners, before the builds.

Packer's datasource/amazon/ami: the amazon access options of amazon-ebs (AccessConfig, the
same model), `filters`, `owners` and `most_recent`; its value has the attributes `id`,
`name`, `creation_date`, `owner`, `owner_name`, `root_device_type` and `tags`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from builder.amazon.common.access import AccessConfig
from builder.amazon.common.config import Filters
from builder.amazon.common.driver import AwsError, Ec2Driver, SessionSettings
from builder.amazon.common.steps.step_source_ami_info import _describe_query
from builder.config import StrList, config_check, option_error
from builder.errors import TemplateError


class AmiDataConfig(AccessConfig):
    """`data "amazon-ami" "NAME" {...}`: where to look (access options) and what for."""

    filters: Filters = Field(default_factory=dict)
    owners: StrList = Field(default_factory=list)
    most_recent: bool = False

    @config_check
    def check_query(self) -> list[TemplateError]:
        """Packer's AmiFilterOptions checks for the data source."""
        errs: list[TemplateError] = []
        if not self.filters:
            errs.append(option_error("The `filters` must be specified", "filters"))
        if not self.owners:
            errs.append(option_error("For security reasons, you must declare an owner.", "owners"))
        return errs


class AmiNotFound(Exception):
    """No AMI, or more than one without most_recent, or the endpoint refused the query."""


def lookup(
    cfg: AmiDataConfig, make_driver: Callable[[SessionSettings], Ec2Driver] | None = None
) -> dict[str, Any]:
    """The AMI the data source names, as the value `data.amazon-ami.NAME` has."""
    if make_driver is None:
        from builder.amazon.common.sdk import make_driver as real

        make_driver = real
    driver = make_driver(cfg.session_settings())
    owners, filters = list(cfg.owners), dict(cfg.filters)
    try:
        images = driver.describe_images(owners=owners, filters=filters)
    except AwsError as exc:
        raise AmiNotFound(f"Error querying AMI: {exc}") from exc
    finally:
        driver.close()
    if not images:
        raise AmiNotFound(
            f"No AMI was found matching filters: {_describe_query([], owners, filters)}"
        )
    if len(images) > 1 and not cfg.most_recent:
        raise AmiNotFound(
            f"Your query returned more than one result ({len(images)} AMIs: "
            f"{', '.join(sorted(i.id for i in images))}). Please try a more specific search, "
            "or set most_recent to true."
        )
    image = max(images, key=lambda i: i.creation_date) if cfg.most_recent else images[0]
    return {
        "id": image.id,
        "name": image.name,
        "creation_date": image.creation_date,
        "owner": image.owner_id,
        "owner_name": image.owner_alias,
        "root_device_type": image.root_device_type,
        "tags": dict(image.tags),
    }
