"""`VSphereISORun`: the run context of one vsphere-iso build.

Besides the fields every vSphere build has (`VSphereRun`), it keeps what the ISO
steps learned: the datastore the uploads go to and the ISO's datastore path.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.vsphere.common.run import VSphereRun
from builder.vsphere.iso.config import VSphereISOConfig


@dataclass(kw_only=True)
class VSphereISORun(VSphereRun[VSphereISOConfig]):
    """`iso_datastore_path`: `[ds] packer_cache/<file>` of the ISO (uploaded or found there)."""

    iso_datastore_path: str = ""
