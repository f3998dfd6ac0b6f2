"""`VSphereISORun`: the run context of one vsphere-iso build (`VSphereRun` of its config).

Every field the iso steps use is `VSphereRun`'s: `iso_path` (StepDownloadISO),
`cd_path`/`floppy_path` (the media steps), `iso_datastore_paths`/`cd_datastore_paths`
(StepRemoteUpload), `floppy_datastore_path` (StepAddFloppy), `http_ip`/`http_port`.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.vsphere.common.run import VSphereRun
from builder.vsphere.iso.config import VSphereISOConfig


@dataclass(kw_only=True)
class VSphereISORun(VSphereRun[VSphereISOConfig]):
    """A vsphere-iso build's run."""
