"""StepTempDir: the host directory mounted into the build container."""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from typing import ClassVar

from builder.common.plan import Creates
from builder.docker.config import DockerConfig
from builder.docker.run import DockerRun
from builder.errors import BuildError
from builder.ledger import LOCAL, Resource


def packer_tmp_path() -> str:
    """Packer's ConfigTmpDir: $PACKER_TMP_DIR, else ~/.packer.d."""
    root = os.environ.get("PACKER_TMP_DIR") or os.path.join(os.path.expanduser("~"), ".packer.d")
    return os.path.abspath(root)


def packer_tmp_root() -> str:
    """`packer_tmp_path()`, created when missing."""
    root = packer_tmp_path()
    os.makedirs(root, mode=0o755, exist_ok=True)
    return root


@dataclass
class StepTempDir:
    """A host directory mounted into the container at `container_dir`.

    The path is chosen and recorded in the ledger before the directory is made, so a
    killed build's directory is found by `pybuild cleanup`.
    """

    name: ClassVar[str] = "StepTempDir"
    _made: str = ""
    _res: Resource | None = None

    def plan(self, config: DockerConfig, build_name: str) -> list[Creates]:
        path = os.path.join(packer_tmp_path(), "tmp<random>")
        what = f"temporary directory {path}, mounted at {config.shared_dir}"
        return [Creates(f"{LOCAL}.dir", what, path)]

    def run(self, ctx: DockerRun) -> None:
        ctx.ui.say("Creating a temporary directory for sharing data...")
        try:
            root = packer_tmp_root()
            while True:
                path = os.path.join(root, f"tmp{secrets.token_hex(8)}")
                res = ctx.resources.creating(LOCAL, "dir", name=path)
                try:
                    os.mkdir(path, 0o700)
                except FileExistsError:
                    res.released()  # not ours: choose another name
                    continue
                except OSError:
                    res.released()
                    raise
                break
        except OSError as exc:
            raise BuildError(f"Error making temp dir: {exc}") from exc
        self._made, self._res = path, res
        res.created(path)
        ctx.temp_dir = path

    def cleanup(self, ctx: DockerRun) -> None:
        if self._made:
            shutil.rmtree(self._made, ignore_errors=True)
            if self._res is not None and not os.path.lexists(self._made):
                self._res.released()
            self._made, self._res = "", None
