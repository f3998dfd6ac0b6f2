"""The ISO options, checksums, the download into Packer's cache, and StepDownload.

`download()` lives in `builder.common.iso.download`. The config and the step are loaded on
first use, so the download and checksum modules import without pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from builder.common.iso.checksum import (
    Checksum,
    ChecksumError,
    ChecksumFile,
    ChecksumSpec,
    parse_checksum,
)

if TYPE_CHECKING:
    from builder.common.iso.config import ISOConfig
    from builder.common.iso.step_download import ISORun, StepDownload

_LAZY = {
    "ISOConfig": "builder.common.iso.config",
    "ISORun": "builder.common.iso.step_download",
    "StepDownload": "builder.common.iso.step_download",
}

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


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
