"""StepRemoteUpload: put a local image (the ISO, the cd_files image) on the datastore.

Files go to `[datastore] packer_cache/<name>` as 1.6.6 (an existing file is reused:
"File ... already exists; skipping upload."). Each upload is `vsphere.file` in the ledger
(id `[ds] path`) before the PUT; a PUT that fails or is cancelled is deleted at once (a
partial ISO left in packer_cache/ would be reused); on a later failure or cancel the uploaded
cd_files image is deleted ("Deleting cd_files image from remote datastore ..."); an uploaded ISO stays in
the cache, as 1.6.6 (recorded as kept), and so does the cd_files image of a build that
succeeded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from builder.common.plan import Creates
from builder.errors import BuildError, DriverError
from builder.vsphere.common.datastore import build_datastore, datastore_path, upload
from builder.vsphere.common.run import PLATFORM, VSphereRun

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.vsphere.common.config import VSphereConfig

CACHE_DIR = "packer_cache"


def remote_path(local: str) -> str:
    return f"{CACHE_DIR}/{os.path.basename(local)}"


@dataclass
class StepRemoteUpload:
    name: ClassVar[str] = "StepRemoteUpload"
    _uploads: list[tuple[Resource, str, str]] = field(default_factory=list, init=False)

    def plan(self, config: VSphereConfig, build_name: str) -> list[Creates]:
        ds = config.datastore or "<the host's datastore>"
        out: list[Creates] = []
        if getattr(config, "urls", None):  # vsphere-iso's iso_url(s); clone has none
            where = datastore_path(ds, remote_path("<the ISO's file name>"))
            out.append(Creates(f"{PLATFORM}.file", "the ISO (kept for the next build)", where))
        if config.cd_files:
            where = datastore_path(ds, remote_path("packer<random>.iso"))
            what = "the cd_files image (deleted if the build fails)"
            out.append(Creates(f"{PLATFORM}.file", what, where))
        return out

    def run(self, ctx: VSphereRun[Any]) -> None:
        if ctx.iso_path:
            ctx.iso_datastore_paths.append(self._upload(ctx, ctx.iso_path, keep=True))
        if ctx.cd_path:
            ctx.cd_datastore_paths.append(self._upload(ctx, ctx.cd_path, keep=False))

    def _upload(self, ctx: VSphereRun[Any], local: str, keep: bool) -> str:
        datastore = build_datastore(ctx)
        path = remote_path(local)
        full = datastore_path(datastore, path)
        try:
            found = ctx.driver.file_exists(datastore, path)
        except DriverError as exc:
            raise BuildError(f"Error uploading {local}: {exc}") from exc
        if found:
            ctx.ui.say(f"File {full} already exists; skipping upload.")
            return full
        ctx.ui.say(f"Uploading {os.path.basename(local)} to {path}")
        # a failed or cancelled upload is deleted and its record released at once, so a
        # truncated ISO is never found in packer_cache/ and reused by the next build
        res = upload(ctx, local, datastore, path, what=local)
        if keep:
            res.kept()
        else:
            self._uploads.append((res, datastore, path))
        return full

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        if not ctx.state.failed:
            for res, _, _ in self._uploads:
                res.kept()  # 1.6.6 leaves the cd_files image on the datastore
            self._uploads.clear()
            return
        for res, datastore, path in self._uploads:
            ctx.ui.say("Deleting cd_files image from remote datastore ...")
            try:
                ctx.driver.delete_file(datastore, path)
            except DriverError as exc:
                ctx.ui.error(f"Error deleting custom CD from remote datastore: {exc}")
                continue
            res.released()
        self._uploads.clear()
