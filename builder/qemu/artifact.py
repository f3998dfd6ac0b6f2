"""The qemu artifact: the VM's files in the output directory; destroy removes them."""

from __future__ import annotations

import os
import shutil
from typing import Any

from builder.artifact import Artifact

BUILDER_ID = "transcend.qemu"


def files_under(directory: str) -> list[str]:
    """Every file under `directory`, as Packer's filepath.Walk lists them (sorted)."""
    found: list[str] = []
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        found += [os.path.join(root, n) for n in sorted(names)]
    return found


class QemuArtifact(Artifact):
    """`VM files in directory: <dir>`; state diskName, diskPaths, diskType, diskSize, domainType."""

    def __init__(self, directory: str, state: dict[str, Any]):
        super().__init__(BUILDER_ID, "VM", files_under(directory), state=state)
        self.directory = directory

    def string(self) -> str:
        return f"VM files in directory: {self.directory}"

    def destroy(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
