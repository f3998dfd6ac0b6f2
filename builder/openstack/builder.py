"""openstack: boot a server from a source image, provision it, snapshot it into an image."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from builder.artifact import Artifact
from builder.common.builder import PlatformBuilder
from builder.common.run import RunArgs
from builder.common.steps import StepCleanupTempKeys, StepConnect, StepProvision
from builder.multistep import Step
from builder.openstack.artifact import BUILDER_ID, ImageArtifact
from builder.openstack.config import OpenStackConfig
from builder.openstack.driver import OPENSTACK, OpenStackDriver, OpenStackSettings
from builder.openstack.run import OpenStackRun
from builder.openstack.steps import (
    StepAddImageMembers,
    StepAllocateIp,
    StepCreateImage,
    StepCreateVolume,
    StepDetachVolume,
    StepDiscoverNetwork,
    StepKeyPair,
    StepLoadFlavor,
    StepRunSourceServer,
    StepSourceImageInfo,
    StepStopServer,
    StepUpdateImageMinDisk,
    StepUpdateImageTags,
    StepUpdateImageVisibility,
    StepWaitForRackConnect,
    comm_host,
)


def packer_name() -> str:
    """Packer's `packer_<uuid>` for temporary things."""
    return f"packer_{uuid.uuid4()}"


class Builder(PlatformBuilder[OpenStackRun]):
    """Packer 1.6.6's `openstack` builder over openstacksdk, step for step."""

    Config = OpenStackConfig
    builder_id = BUILDER_ID
    config: OpenStackConfig
    drivers = OPENSTACK
    _names: dict[str, str] | None = None

    def _name(self, what: str) -> str:
        """One generated name per builder: the plan and the run agree on it."""
        if self._names is None:
            self._names = {}
        if what not in self._names:
            self._names[what] = packer_name()
        return self._names[what]

    def temporary_key_name(self) -> str:
        cfg = self.config
        if not cfg.wants_temporary_key_pair():
            return ""
        return cfg.temporary_key_pair_name or self._name("keypair")

    def volume_name(self) -> str:
        return self.config.volume_name or self._name("volume")

    def warnings(self) -> list[str]:
        return self.config.run_warnings()

    def driver_settings(self) -> OpenStackSettings:
        return self.config.settings()

    def new_run(self, args: RunArgs, driver: OpenStackDriver) -> OpenStackRun:
        return OpenStackRun(**args, config=self.config, driver=driver)

    def steps(self) -> Sequence[Step[OpenStackRun] | None]:
        """Packer 1.6.6's openstack step list (StepGetPassword: winrm is not supported)."""
        cfg, opts = self.config, self.options
        return [
            StepLoadFlavor(),
            StepKeyPair(self.temporary_key_name(), f"os_{opts.build_name}.pem"),
            StepSourceImageInfo(
                external_name=self._name("source") if cfg.external_source_image_url else ""
            ),
            StepDiscoverNetwork(),
            StepCreateVolume(self.volume_name()),
            StepRunSourceServer(),
            StepWaitForRackConnect(),
            StepAllocateIp(),
            StepConnect(host=comm_host),
            StepProvision(),
            StepCleanupTempKeys(),
            StepStopServer(),
            StepDetachVolume(self.volume_name()),
            StepCreateImage(),
            StepUpdateImageTags(),
            StepUpdateImageVisibility(),
            StepAddImageMembers(),
            StepUpdateImageMinDisk(),
        ]

    def artifact(self, ctx: OpenStackRun) -> Artifact | None:
        if not ctx.image_id:
            return None
        if ctx.image_resource is not None:
            ctx.image_resource.kept()
        return ImageArtifact(ctx.image_id, self.driver_settings(), {})
