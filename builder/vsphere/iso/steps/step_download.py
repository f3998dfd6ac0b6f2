"""StepDownloadISO: vSphere's StepDownload, the shared ISO download behind a datastore check.

As Packer 1.6.6: for each URL the cache name is worked out (`<sha1>.iso`); when
`packer_cache/<that name>` is already on the datastore nothing is downloaded ("File ...
already uploaded; continuing"), else the shared StepDownload fetches (or verifies) the
ISO into the local cache and StepRemoteUpload puts it on the datastore. Without ISO URLs
(only `iso_paths`) the step does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from builder.common.iso.step_download import StepDownload
from builder.errors import BuildError, DriverError
from builder.vsphere.common.datastore import build_datastore
from builder.vsphere.common.steps.step_upload import remote_path

if TYPE_CHECKING:
    from builder.common.plan import Creates
    from builder.vsphere.iso.config import VSphereISOConfig
    from builder.vsphere.iso.run import VSphereISORun


def cached_targets(cfg: VSphereISOConfig) -> list[str]:
    """The local cache paths 1.6.6 derives for each URL (local files are used in place)."""
    from builder.common.iso.checksum import Checksum
    from builder.common.iso.download import cache_target, is_local

    try:
        spec = cfg.checksum()
    except ValueError:
        return []
    if spec is not None and not isinstance(spec, Checksum):
        return []  # a `file:` checksum: its digest is known only once it is fetched
    return [
        cache_target(u, spec, target_path=cfg.iso_target_path, extension=cfg.iso_target_extension)
        for u in cfg.urls
        if not is_local(u)
    ]


@dataclass
class StepDownloadISO:
    name: ClassVar[str] = "StepDownload"
    _download: StepDownload = field(default_factory=lambda: StepDownload(description="ISO"))

    def plan(self, config: VSphereISOConfig, build_name: str) -> list[Creates]:
        return self._download.plan(config, build_name) if config.urls else []

    def run(self, ctx: VSphereISORun) -> None:
        cfg = ctx.config
        if not cfg.urls:
            return
        datastore = build_datastore(ctx)
        for target in cached_targets(cfg):
            remote = remote_path(target)
            try:
                found = ctx.driver.file_exists(datastore, remote)
            except DriverError as exc:
                raise BuildError(f"datastore doesn't exist: {exc}") from exc
            if found:
                ctx.ui.say(f"File {target} already uploaded; continuing")
                ctx.iso_path = target  # StepRemoteUpload finds it there and sends nothing
                return
        self._download.run(ctx)

    def cleanup(self, ctx: VSphereISORun) -> None:
        self._download.cleanup(ctx)
