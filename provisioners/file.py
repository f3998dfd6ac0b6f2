"""The file provisioner: copies files and directories to or from the machine (Packer 1.6.6)."""

from __future__ import annotations

import os
import posixpath
import stat
from typing import TYPE_CHECKING, Any, ClassVar

from builder.components import Provisioner
from builder.config import PluginConfig, StrList, config_check, option_error
from builder.errors import BuildCancelled, BuildError, TemplateError

if TYPE_CHECKING:
    from builder.communicator.base import Communicator, ProgressHandler
    from builder.ui import Ui

DIRECTIONS = ("upload", "download")
TRAILING_SLASH_HINT = (
    "this can occur when your file destination is a folder without a trailing slash."
)


class FileConfig(PluginConfig):
    """Options of the file provisioner."""

    deferred: ClassVar[frozenset[str]] = frozenset({"destination"})

    source: str = ""
    sources: StrList = []
    destination: str = ""
    direction: str = "upload"
    generated: bool = False

    def all_sources(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(option keys, source) pairs; `source` comes after `sources`, as in Packer."""
        pairs: list[tuple[tuple[str | int, ...], str]] = [
            (("sources", i), s) for i, s in enumerate(self.sources)
        ]
        return [*pairs, (("source",), self.source)] if self.source else pairs

    @config_check
    def check_transfer(self) -> list[TemplateError]:
        """Packer's prepare-time checks: direction, local sources exist, both ends given."""
        errors: list[TemplateError] = []
        if self.direction not in DIRECTIONS:
            errors.append(option_error("Direction must be one of: download, upload.", "direction"))
        if self.direction == "upload" and not self.generated:
            for keys, src in self.all_sources():
                try:
                    os.stat(src)
                except OSError as exc:
                    reason = f"stat {src}: {(exc.strerror or str(exc)).lower()}"
                    hint = 'set "generated": true if the file is made during the build'
                    errors.append(option_error(f"Bad source '{src}': {reason}", *keys, hint=hint))
        if not self.all_sources():
            errors.append(option_error("Source must be specified."))
        if not self.destination:
            errors.append(option_error("Destination must be specified."))
        return errors


class FileProvisioner(Provisioner):
    """Uploads local files and directories to the machine, or downloads them from it."""

    Config = FileConfig
    config: FileConfig

    def provision(self, ui: Ui, communicator: Communicator | None, data: dict[str, str]) -> None:
        if communicator is None:
            raise BuildError("the file provisioner needs a communicator to reach the machine")
        build_data: dict[str, Any] = dict(data or {})
        dst = self._render("destination", self.config.destination, build_data)
        for _, raw in self.config.all_sources():
            self.options.cancel.check()
            src = self._render("source", raw, build_data)
            if self.config.direction == "download":
                self._download(ui, communicator, src, dst)
            else:
                self._upload(ui, communicator, src, dst)

    def _render(self, field: str, text: str, build_data: dict[str, Any]) -> str:
        """Render at run time: {{build}} placeholders left by prepare get their values."""
        if "{{" not in text:
            return text
        try:
            return self.options.render_text(text, data=build_data, build_data=build_data)
        except TemplateError as exc:
            raise BuildError(f"Error interpolating {field}: {exc}") from exc

    def _progress(self, ui: Ui, name: str) -> ProgressHandler:
        return lambda done, total: ui.progress(name, done, total)

    def _upload(self, ui: Ui, comm: Communicator, src: str, dst: str) -> None:
        """A file to `dst` (or `dst/` + its name); a directory by the trailing-slash rule."""
        ui.say(f"Uploading {src} => {dst}")
        try:
            st = os.stat(src)
        except OSError as exc:
            raise BuildError(f"Upload failed: {exc}") from exc
        cancel = self.options.cancel
        name = os.path.basename(src.rstrip("/")) or src
        try:
            if stat.S_ISDIR(st.st_mode):
                comm.upload_dir(src, dst, progress=self._progress(ui, name), cancel=cancel)
                return
            target = dst + os.path.basename(src) if dst.endswith("/") else dst
            comm.upload(
                src,
                target,
                mode=stat.S_IMODE(st.st_mode),
                progress=self._progress(ui, name),
                cancel=cancel,
            )
        except BuildCancelled:
            raise
        except Exception as exc:
            msg = f"Upload failed: {exc}"
            if "Error restoring file" in str(exc):
                msg += f"; {TRAILING_SLASH_HINT}"
            raise BuildError(msg) from exc

    def _download(self, ui: Ui, comm: Communicator, src: str, dst: str) -> None:
        """A remote file or directory (`src/`, or a glob) to a local path; parents created."""
        ui.say(f"Downloading {src} => {dst}")
        is_dir = src.endswith("/") or any(c in src for c in "*?[")
        target, parent = dst, os.path.dirname(dst)
        if dst.endswith("/"):
            parent = dst
            if not is_dir:
                target = os.path.join(dst, posixpath.basename(src))
        cancel = self.options.cancel
        progress = self._progress(ui, posixpath.basename(src.rstrip("/")) or src)
        try:
            if parent:
                os.makedirs(parent, mode=0o755, exist_ok=True)
            if is_dir:
                comm.download_dir(src, target, progress=progress, cancel=cancel)
            else:
                comm.download(src, target, progress=progress, cancel=cancel)
        except BuildCancelled:
            raise
        except Exception as exc:
            raise BuildError(f"Download failed: {exc}") from exc
