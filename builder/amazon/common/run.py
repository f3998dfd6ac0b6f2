"""`AmazonRun`: the typed run context every amazon step reads and fills."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from builder.amazon.common.config import AmazonConfig
from builder.amazon.common.driver import PLATFORM, AwsError
from builder.amazon.common.polling import Polling
from builder.common.run import BuildRun
from builder.errors import BuildError, PybuildError

if TYPE_CHECKING:
    from builder.amazon.common.driver import Ec2Driver, Image, Instance
    from builder.ledger import Resource

# The amazon keys of `{{build `X`}}` and the artifact's generated_data.
GENERATED_KEYS = (
    "SourceAMI",
    "BuildRegion",
    "SourceAMIName",
    "SourceAMICreationDate",
    "SourceAMIOwner",
    "SourceAMIOwnerName",
)


@dataclass(kw_only=True)
class AmazonRun(BuildRun[AmazonConfig]):
    """One amazon build: the open driver, and what the steps learn and create."""

    driver: Ec2Driver
    polling: Polling = field(default_factory=Polling)
    source_image: Image | None = None
    vpc_id: str = ""
    subnet_id: str = ""
    availability_zone: str = ""
    security_group_ids: list[str] = field(default_factory=list)
    key_pair_name: str = ""
    instance: Instance | None = None
    ami_name: str = ""
    intermediary_image: bool = False
    amis: dict[str, str] = field(default_factory=dict)  # region -> AMI id
    snapshots: dict[str, list[str]] = field(default_factory=dict)  # region -> snapshot ids

    @property
    def region(self) -> str:
        return self.driver.region

    @property
    def instance_id(self) -> str:
        return self.instance.id if self.instance is not None else ""

    def machine_id(self) -> str:
        return self.instance_id

    def record(self, kind: str, name: str, region: str = "", **attrs: str) -> Resource:
        """Record an EC2 resource in the ledger before the call that creates it."""
        return self.resources.creating(
            PLATFORM, kind, name=name, region=region or self.region, **attrs
        )

    def not_created(self, res: Resource, error: Exception) -> None:
        """The create call failed: when EC2 answered, nothing exists to clean up."""
        if isinstance(error, AwsError) and error.answered:
            res.released()

    def released(self, resource_id: str) -> None:
        """Cleanup removed (or found gone) the EC2 resource `resource_id`, whoever made it."""
        for res in self.resources.outstanding():
            if res.platform == PLATFORM and res.id == resource_id:
                res.released()

    def keep_artifact(self) -> None:
        """The finished AMIs and their snapshots are the user's now, not leftovers."""
        finished = set(self.amis.values()) | {s for ids in self.snapshots.values() for s in ids}
        for res in self.resources.outstanding():
            if res.platform == PLATFORM and res.id in finished:
                res.kept()

    def run_tags(self) -> dict[str, str]:
        """The run id tag every temporary resource carries from its create call on."""
        return self.resources.tags()

    def template_data(self, region: str | None = None) -> dict[str, Any]:
        """`.BuildRegion`, `.SourceAMI`, ... for ami_name, tags and the description."""
        data: dict[str, Any] = {"BuildRegion": region or self.region}
        image = self.source_image
        if image is not None:
            data.update(
                SourceAMI=image.id,
                SourceAMIName=image.name,
                SourceAMICreationDate=image.creation_date,
                SourceAMIOwner=image.owner_id,
                SourceAMIOwnerName=image.owner_alias,
                SourceAMITags=dict(image.tags),
            )
        return data

    def render_text(self, text: str, region: str | None = None) -> str:
        """Render a template string with the amazon template data."""
        if "{{" not in text:
            return text
        return self.options.render_text(text, data=self.template_data(region))

    def render_tags(self, tags: Mapping[str, str], region: str | None = None) -> dict[str, str]:
        """Render tag keys and values (Packer's TagMap.EC2Tags)."""
        out: dict[str, str] = {}
        for key in sorted(tags):
            try:
                out[self.render_text(key, region)] = self.render_text(tags[key], region)
            except PybuildError as exc:
                raise BuildError(f"Error processing tag: {key}:{tags[key]} - {exc}") from exc
        return out

    def generated_data(self) -> dict[str, str]:
        """SourceAMI, BuildRegion, ... once the source image is known."""
        data = self.template_data()
        return {k: str(data[k]) for k in GENERATED_KEYS if k in data}

    def build_data(self) -> dict[str, str]:
        """`{{build `X`}}` data for provisioners: ID, connection facts, generated data."""
        data = {"ID": self.instance_id, "ConnType": self.config.communicator}
        data.update(self.generated_data())
        data.update(self.connect_data)
        return data

    def report_tags(self, tags: Mapping[str, str]) -> None:
        for key in sorted(tags):
            self.ui.message(f'Adding tag: "{key}": "{tags[key]}"')
