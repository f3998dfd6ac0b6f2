"""StepRemoteUpload: the ISO and the cd_files image go to `packer_cache/` on the datastore.

Packer 1.6.6's messages: "Uploading <file> to packer_cache/<file>", or "File [ds] ... already
exists; skipping upload." The ISO stays on the datastore after the build, as 1.6.6 keeps
it: the next build with the same ISO finds it there and uploads nothing (its ledger record
is marked kept once the upload is whole; a partial upload is deleted, and one cut off by a
kill is left for `pybuild cleanup`). The cd_files image has a new name every build, so it
is deleted in cleanup ("Deleting cd_files image from remote datastore ..."), also after a
successful build, where 1.6.6 leaves it behind (the CD-ROMs are ejected before that).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from builder.common.plan import RUNTIME, Creates
from builder.errors import BuildError, DriverError
from builder.vsphere.common.run import PLATFORM
from builder.vsphere.iso.steps.datastore import (
    FILE_KIND,
    build_datastore,
    cache_path,
    datastore_path,
    delete_quietly,
    upload,
)

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.vsphere.iso.config import VSphereISOConfig
    from builder.vsphere.iso.run import VSphereISORun


@dataclass
class StepRemoteUpload:
    name: ClassVar[str] = "StepRemoteUpload"
    _cd: tuple[Resource, str, str] | None = field(default=None, init=False, repr=False)

    def plan(self, config: VSphereISOConfig, build_name: str) -> list[Creates]:
        ds = config.datastore or "<the host's datastore>"
        out = []
        if config.urls:
            out.append(
                Creates(
                    f"{PLATFORM}.{FILE_KIND}",
                    "the ISO in the datastore's packer_cache (kept, as Packer keeps it; "
                    "skipped when it is there already)",
                    datastore_path(ds, f"packer_cache/<ISO file name> {RUNTIME}"),
                )
            )
        if config.cd_files:
            out.append(
                Creates(
                    f"{PLATFORM}.{FILE_KIND}",
                    "the cd_files image (deleted at the end)",
                    datastore_path(ds, "packer_cache/packer<random>.iso"),
                )
            )
        return out

    def run(self, ctx: VSphereISORun) -> None:
        if not (ctx.iso_path or ctx.cd_path):
            return
        datastore = build_datastore(ctx)
        if ctx.iso_path and not ctx.iso_datastore_path:
            remote = cache_path(ctx.iso_path)
            res = self._upload(ctx, ctx.iso_path, datastore, remote, "the ISO")
            if res is not None:
                res.kept()
            ctx.iso_datastore_path = datastore_path(datastore, remote)
        if ctx.cd_path:
            remote = cache_path(ctx.cd_path)
            res = self._upload(ctx, ctx.cd_path, datastore, remote, "the cd_files image")
            if res is not None:
                self._cd = (res, datastore, remote)
            ctx.cd_datastore_paths.append(datastore_path(datastore, remote))

    def _upload(
        self, ctx: VSphereISORun, local: str, datastore: str, remote: str, what: str
    ) -> Resource | None:
        """Upload unless the file is there; the new record, or None when nothing was sent."""
        full = datastore_path(datastore, remote)
        try:
            there = ctx.driver.file_exists(datastore, remote)
        except DriverError as exc:
            raise BuildError(f"datastore doesn't exist: {exc}") from exc
        if there:
            ctx.ui.say(f"File {full} already exists; skipping upload.")
            return None
        ctx.ui.say(f"Uploading {os.path.basename(local)} to {remote}")
        return upload(ctx, local, datastore, remote, what=what)

    def cleanup(self, ctx: VSphereISORun) -> None:
        if self._cd is None:
            return
        res, datastore, remote = self._cd
        ctx.ui.say("Deleting cd_files image from remote datastore ...")
        if delete_quietly(ctx, res, datastore, remote):
            self._cd = None
        full = datastore_path(datastore, remote)
        if full in ctx.cd_datastore_paths:
            ctx.cd_datastore_paths.remove(full)
