"""The typed run context every amazon step reads and fills (Packer's state bag, with types)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from builder.amazon.common.waiter import Polling
from builder.errors import BuildError, PybuildError
from builder.multistep import RunState

if TYPE_CHECKING:
    from builder.amazon.common.ec2 import Ec2Driver, Image, Instance
    from builder.communicator.keygen import KeyPair
    from builder.components import Hook
    from builder.multistep import CancelToken
    from builder.ui import Ui

# The amazon keys of `{{build `X`}}` and the artifact's generated_data.
GENERATED_KEYS = (
    "SourceAMI",
    "BuildRegion",
    "SourceAMIName",
    "SourceAMICreationDate",
    "SourceAMIOwner",
    "SourceAMIOwnerName",
)


@dataclass
class AmazonRun:
    """One amazon build: settings in, resources recorded as steps create them."""

    ui: Ui
    cancel: CancelToken
    hook: Hook
    config: Any
    driver: Ec2Driver
    render: Callable[[str, Mapping[str, Any]], str]
    build_name: str = ""
    debug: bool = False
    polling: Polling = field(default_factory=Polling)
    state: RunState = field(default_factory=RunState)
    communicator: Any = None
    # filled by the steps
    source_image: Image | None = None
    vpc_id: str = ""
    subnet_id: str = ""
    availability_zone: str = ""
    security_group_ids: list[str] = field(default_factory=list)
    key_pair_name: str = ""
    ssh_key: KeyPair | None = field(default=None, repr=False)
    instance: Instance | None = None
    ami_name: str = ""
    intermediary_image: bool = False
    amis: dict[str, str] = field(default_factory=dict)
    snapshots: dict[str, list[str]] = field(default_factory=dict)
    connect_data: dict[str, str] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return self.driver.region

    @property
    def instance_id(self) -> str:
        return self.instance.id if self.instance is not None else ""

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
        return self.render(text, self.template_data(region)) if "{{" in text else text

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
