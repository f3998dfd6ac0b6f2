"""The ISO options, checksums, the download into Packer's cache, and StepDownload.

`download()` lives in `builder.common.iso.download` (imported when a build runs).
"""

from builder.common.iso.checksum import (
    Checksum,
    ChecksumError,
    ChecksumFile,
    ChecksumSpec,
    parse_checksum,
)
from builder.common.iso.config import ISOConfig
from builder.common.iso.step_download import ISORun, StepDownload

__all__ = [
    "Checksum",
    "ChecksumError",
    "ChecksumFile",
    "ChecksumSpec",
    "ISOConfig",
    "ISORun",
    "StepDownload",
    "parse_checksum",
]
