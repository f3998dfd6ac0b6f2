"""Files the vSphere builders put on the datastore: where they go, and their ledger records.

The ISO and the cd_files image go to `packer_cache/` (the common StepRemoteUpload); the
floppy image next to the VM (StepAddFloppy, with `upload` here). An upload is `vsphere.file`
in the ledger (as StepRemoteUpload records them), named `[datastore] path`, recorded
before the upload starts; a partial upload (an error, Ctrl-C) is deleted at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from builder.errors import BuildCancelled, BuildError, DriverError
from builder.vsphere.common.run import PLATFORM

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.vsphere.common.run import VSphereRun

FILE_KIND = "file"  # the kind the vsphere cleanup handler removes


def datastore_path(datastore: str, path: str) -> str:
    """`[datastore] path`, vSphere's way to name a datastore file."""
    return f"[{datastore}] {path}"


def split_datastore_path(full: str) -> tuple[str, str]:
    """`[ds] path` -> ("ds", "path"); a path without a datastore -> ("", path)."""
    if full.startswith("[") and "]" in full:
        ds, _, path = full[1:].partition("]")
        return ds, path.strip()
    return "", full


def build_datastore(ctx: VSphereRun[Any]) -> str:
    """`datastore`, or the only datastore there is (1.6.6: the host's only one)."""
    name: str = ctx.config.datastore
    if name:
        return name
    try:
        names = ctx.driver.datastore_names()
    except DriverError as exc:
        raise BuildError(f"datastore doesn't exist: {exc}") from exc
    if len(names) == 1:
        return names[0]
    raise BuildError(
        "Host has multiple datastores. Specify it explicitly"
        + (f" (set 'datastore' to one of: {', '.join(sorted(names))})" if names else "")
    )


def upload(
    ctx: VSphereRun[Any], local_path: str, datastore: str, remote: str, *, what: str
) -> Resource:
    """Upload `local_path` to `[datastore] remote`, recorded in the ledger first.

    Returns the record (created); a failed or cancelled upload is deleted and released.
    """
    cfg = ctx.config
    res = ctx.resources.creating(
        PLATFORM,
        FILE_KIND,
        name=datastore_path(datastore, remote),
        datastore=datastore,
    )
    host = cfg.host if cfg.set_host_for_datastore_uploads else ""
    try:
        ctx.driver.upload_file(local_path, datastore, remote, host, ctx.cancel)
    except BaseException as exc:
        delete_quietly(ctx, res, datastore, remote)
        if isinstance(exc, DriverError):
            raise BuildError(f"Error uploading {what}: {exc}") from exc
        if isinstance(exc, OSError):
            raise BuildError(f"Error uploading {what}: {local_path}: {exc.strerror}") from exc
        raise
    res.created(datastore_path(datastore, remote), datastore=datastore, path=remote)
    return res


def delete_quietly(ctx: VSphereRun[Any], res: Resource, datastore: str, remote: str) -> bool:
    """Delete an uploaded (or partly uploaded) file; errors are reported, not raised."""
    try:
        ctx.driver.delete_file(datastore, remote)
    except (DriverError, BuildCancelled) as exc:
        ctx.ui.error(
            f"Error deleting {datastore_path(datastore, remote)}; please delete it manually: {exc}"
        )
        return False
    res.released()
    return True
