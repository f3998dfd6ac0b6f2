"""Floppy (FAT12) and CD (ISO 9660) images made from local files for the machine to read."""

from builder.common.media.config import CDConfig, FloppyConfig
from builder.common.media.steps import (
    CDRun,
    FloppyRun,
    MediaRunFields,
    StepCreateCD,
    StepCreateFloppy,
)

__all__ = [
    "CDConfig",
    "CDRun",
    "FloppyConfig",
    "FloppyRun",
    "MediaRunFields",
    "StepCreateCD",
    "StepCreateFloppy",
]
