"""StepCreateFloppy and StepCreateCD: the images a machine boots with, as temporary files.

Each image is a file in the temporary directory (`$TMPDIR`, as Packer's `packer*`,
`packer*.iso`), recorded in the ledger as `local.file` before it is created and removed
in cleanup, so `pybuild cleanup` removes it after a killed build.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from builder.common.media.config import CDConfig, FloppyConfig
from builder.common.plan import Creates
from builder.errors import BuildError, PybuildError
from builder.ledger import LOCAL, Resource

if TYPE_CHECKING:
    from builder.ledger import BuildLedger
    from builder.multistep import CancelToken
    from builder.ui import Ui


class _MediaRun(Protocol):
    @property
    def ui(self) -> Ui: ...
    @property
    def cancel(self) -> CancelToken: ...
    @property
    def resources(self) -> BuildLedger: ...


class FloppyRun(_MediaRun, Protocol):
    """What StepCreateFloppy needs from a run; it sets `floppy_path`."""

    @property
    def config(self) -> FloppyConfig: ...

    floppy_path: str


class CDRun(_MediaRun, Protocol):
    """What StepCreateCD needs from a run; it sets `cd_path`."""

    @property
    def config(self) -> CDConfig: ...

    cd_path: str


@dataclass(kw_only=True)
class MediaRunFields:
    """A mixin for a platform's run dataclass: the image paths (empty: no image)."""

    floppy_path: str = ""
    cd_path: str = ""


@dataclass
class _TempImage:
    """A temporary image file this step made, and its ledger record."""

    path: str = ""
    res: Resource | None = None

    def create(self, ctx: _MediaRun, suffix: str, what: str) -> str:
        """Record, then create (exclusively) `$TMPDIR/packer<n><suffix>`; return its path."""
        directory = tempfile.gettempdir()
        while True:
            path = os.path.join(directory, f"packer{secrets.randbelow(2**32)}{suffix}")
            res = ctx.resources.creating(LOCAL, "file", name=path)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            except FileExistsError:
                res.released()  # not ours: choose another name
                continue
            except OSError as exc:
                res.released()
                raise BuildError(f"Error creating temporary file for {what}: {exc}") from exc
            os.close(fd)
            res.created(path)
            self.path, self.res = path, res
            return path

    def remove(self) -> None:
        if not self.path:
            return
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
        if self.res is not None and not os.path.lexists(self.path):
            self.res.released()
        self.path, self.res = "", None


def _planned(what: str, suffix: str) -> list[Creates]:
    path = os.path.join(tempfile.gettempdir(), f"packer<random>{suffix}")
    return [Creates(f"{LOCAL}.file", what, path)]


@dataclass
class StepCreateFloppy:
    """A 1.44 MB FAT12 floppy of `floppy_files` (flat) and `floppy_dirs` (as trees)."""

    name: ClassVar[str] = "StepCreateFloppy"
    _image: _TempImage = field(default_factory=_TempImage, init=False, repr=False)

    def plan(self, config: FloppyConfig, build_name: str) -> list[Creates]:
        if not (config.floppy_files or config.floppy_dirs):
            return []
        return _planned("floppy image (1.44 MB FAT12)", "")

    def run(self, ctx: FloppyRun) -> None:
        from builder.common.media.floppy import SIZE, check_layout, floppy_layout, write_floppy

        cfg = ctx.config
        if not (cfg.floppy_files or cfg.floppy_dirs):
            return
        ctx.ui.say("Creating floppy disk...")
        items = check_layout(floppy_layout(cfg.floppy_files, cfg.floppy_dirs, ctx.ui.message))
        ctx.cancel.check()
        path = self._image.create(ctx, "", "floppy")
        try:
            os.truncate(path, SIZE)
            write_floppy(path, cfg.floppy_label_or_default, items)
        except PybuildError:  # BuildError, BuildCancelled
            raise
        except Exception as exc:  # pyfatfs and OS errors, whatever their class
            raise BuildError(f"Error creating floppy: {exc}") from exc
        ctx.floppy_path = path

    def cleanup(self, ctx: FloppyRun) -> None:
        """Remove the image this step made; safe to call twice."""
        if self._image.path:
            self._image.remove()
            ctx.floppy_path = ""


@dataclass
class StepCreateCD:
    """An ISO 9660 image (Joliet, Rock Ridge) of `cd_files`, labelled `cd_label`."""

    name: ClassVar[str] = "StepCreateCD"
    _image: _TempImage = field(default_factory=_TempImage, init=False, repr=False)

    def plan(self, config: CDConfig, build_name: str) -> list[Creates]:
        if not config.cd_files:
            return []
        return _planned("CD image (ISO 9660 with Joliet and Rock Ridge)", ".iso")

    def run(self, ctx: CDRun) -> None:
        from builder.common.media.cd import cd_layout, write_iso

        cfg = ctx.config
        if not cfg.cd_files:
            return
        ctx.ui.say("Creating CD disk...")
        items = cd_layout(cfg.cd_files)
        ctx.cancel.check()
        path = self._image.create(ctx, ".iso", "CD")
        try:
            write_iso(path, cfg.cd_label_or_default, items, check=ctx.cancel.check)
        except PybuildError:  # BuildError, BuildCancelled
            raise
        except Exception as exc:  # pycdlib and OS errors, whatever their class
            raise BuildError(f"Error creating CD: {exc}") from exc
        ctx.ui.message("Done copying paths from CD_dirs")
        ctx.cd_path = path

    def cleanup(self, ctx: CDRun) -> None:
        """Remove the image this step made; safe to call twice."""
        if self._image.path:
            self._image.remove()
            ctx.cd_path = ""
