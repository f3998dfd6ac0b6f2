"""The `compress` post-processor: tar/zip and/or gzip/xz/lz4/bgzf the artifact's files."""

from __future__ import annotations

import gzip
import lzma
import os
import re
import shutil
import struct
import tarfile
import zipfile
import zlib
from contextlib import ExitStack
from typing import IO, Any, ClassVar, cast

from pydantic import field_validator

from builder.artifact import Artifact
from builder.common.plan import Writes, planned_path
from builder.components import PostProcessor
from builder.config import PluginConfig
from builder.errors import PostProcessorError, PybuildError
from builder.ui import Ui
from postprocessors.manifest import generated_data

BUILDER_ID = "packer.post-processor.compress"
DEFAULT_OUTPUT = "packer_{{.BuildName}}_{{.BuilderType}}"
DEFAULT_LEVEL = 6
_EXTENSIONS = {"tar": "tar", "zip": "zip", "gz": "pgzip", "lz4": "lz4", "bgzf": "bgzf", "xz": "xz"}
_DOTTED = re.compile(r"\.([a-z0-9]+)")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1024 * 1024


class CompressConfig(PluginConfig):
    """Options of the `compress` post-processor."""

    deferred: ClassVar[frozenset[str]] = frozenset({"output"})

    output: str = DEFAULT_OUTPUT
    format: str = ""
    compression_level: int = DEFAULT_LEVEL

    @field_validator("output")
    @classmethod
    def _default_output(cls, value: str) -> str:
        return value or DEFAULT_OUTPUT

    @field_validator("compression_level")
    @classmethod
    def _level(cls, value: int) -> int:
        if value < -1:
            raise ValueError("invalid compression level: expected an integer from -1 to 9")
        return DEFAULT_LEVEL if value in (-1, 0) else min(value, 9)


def detect(path: str, fmt: str = "") -> tuple[str, str]:
    """(archive, algorithm) from the last two extensions, as Packer decides; '' means none."""
    parts = _DOTTED.findall(f"{path}.{fmt}" if fmt else path)
    if not parts:
        return "tar", "pgzip"
    last = parts[-1]
    archive = "tar" if len(parts) > 1 and parts[-2] == "tar" else ""
    if last in ("zip", "tar"):
        return last, ""
    if last in _EXTENSIONS:
        return archive, _EXTENSIONS[last]
    return "tar", "pgzip"


class CompressPostProcessor(PostProcessor):
    """Packs the artifact's files into one archive; the input is not kept by default."""

    Config = CompressConfig
    config: CompressConfig
    keeps_input = (False, False)

    def plan_writes(self) -> list[Writes]:
        data = {"BuildName": self.options.build_name, "BuilderType": self.options.build_type}
        return [Writes(planned_path(self, self.config.output, data), "the archive", "overwrite")]

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        generated = generated_data(artifact)
        data = {
            **generated,
            "BuildName": self.options.build_name,
            "BuilderType": self.options.build_type,
        }
        try:
            target = self.options.render_text(self.config.output, data=data, build_data=generated)
        except (PybuildError, ValueError) as exc:
            raise PostProcessorError(f"Error interpolating output value: {exc}") from exc
        archive, algorithm = detect(target, self.config.format)
        files = list(artifact.files)
        if not archive and len(files) != 1:
            raise PostProcessorError(
                "Can only have 1 input file when not using tar/zip. "
                f"Found {len(files)} files: [{' '.join(files)}]"
            )
        parent = os.path.dirname(target)
        try:
            if parent:
                os.makedirs(parent, mode=0o755, exist_ok=True)
            raw = open(target, "wb")
        except OSError as exc:
            raise PostProcessorError(f"Unable to create archive {target}: {exc}") from exc
        try:
            with ExitStack() as stack:
                stack.enter_context(raw)
                out = self._compressor(ui, stack, raw, algorithm, target)
                checked = _CancellableWriter(out, self.options.cancel)
                self._pack(ui, checked, archive, algorithm or "no compression", target, files)  # type: ignore[arg-type]
        except BaseException:
            _remove_quietly(target)
            raise
        ui.say(f"Archive {target} completed")
        return (
            Artifact(BUILDER_ID, "", [target], text=f"compressed artifacts in: {target}"),
            False,
            False,
        )

    def _compressor(
        self, ui: Ui, stack: ExitStack, raw: IO[bytes], algorithm: str, target: str
    ) -> IO[bytes]:
        """Wrap the output file in the chosen compressor (closed by `stack`)."""
        level = self.config.compression_level
        if not algorithm:
            return raw
        ui.say(f"Using {algorithm} compression with 1 core for {target}")
        if algorithm == "xz":
            return stack.enter_context(lzma.open(raw, "wb", preset=level))
        if algorithm == "pgzip":
            gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=level, mtime=0)
            return cast(IO[bytes], stack.enter_context(gz))
        if algorithm == "bgzf":
            return cast(IO[bytes], stack.enter_context(BgzfWriter(raw, level)))
        try:
            import lz4.frame
        except ImportError as exc:
            raise PostProcessorError(
                "lz4 compression needs the 'lz4' Python package (pip install lz4)"
            ) from exc
        return stack.enter_context(lz4.frame.open(raw, "wb", compression_level=level))

    def _pack(
        self, ui: Ui, out: IO[bytes], archive: str, compression: str, target: str, files: list[str]
    ) -> None:
        """Write the files into `out`: as a tar or zip archive, or the one file as is."""
        try:
            if archive == "tar":
                ui.say(f"Tarring {target} with {compression}")
                _write_tar(out, files)
            elif archive == "zip":
                ui.say(f"Zipping {target}")
                _write_zip(out, files, self.config.compression_level)
            else:
                ui.say(f"Archiving {files[0]} with {compression}")
                with open(files[0], "rb") as src:
                    shutil.copyfileobj(src, out, _CHUNK)
        except OSError as exc:
            what = {"tar": "Error creating tar", "zip": "Error creating zip"}.get(archive)
            raise PostProcessorError(f"{what or 'Failed to compress ' + files[0]}: {exc}") from exc


class _CancellableWriter:
    """Passes writes through, stopping a long compression when the build is cancelled."""

    def __init__(self, inner: IO[bytes], cancel: Any):
        self._inner, self._cancel = inner, cancel

    def write(self, data: bytes) -> int:
        self._cancel.check()
        return self._inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _write_tar(out: IO[bytes], files: list[str]) -> None:
    """GNU tar with base names and zeroed times (reproducible, as Packer writes it)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.GNU_FORMAT) as tar:
        for path in files:
            info = tar.gettarinfo(path, arcname=os.path.basename(path))
            info.mtime = 0
            if info.isreg():
                with open(path, "rb") as src:
                    tar.addfile(info, src)
            else:
                tar.addfile(info)


def _write_zip(out: IO[bytes], files: list[str], level: int) -> None:
    """Deflated zip; entries are named by the paths as given, like Packer's."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.replace(os.sep, "/"), date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            st = os.stat(path)
            info.external_attr = (st.st_mode & 0xFFFF) << 16
            info.file_size = st.st_size
            with open(path, "rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)


class BgzfWriter:
    """Blocked gzip (BGZF, as used by samtools): gzip members of at most 64 KiB each."""

    _BLOCK = 0xFF00
    _EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")

    def __init__(self, raw: IO[bytes], level: int):
        self.raw, self.level, self.buf = raw, level, bytearray()

    def write(self, data: Any) -> int:
        self.buf += data
        while len(self.buf) >= self._BLOCK:
            self._flush_block(bytes(self.buf[: self._BLOCK]))
            del self.buf[: self._BLOCK]
        return len(data)

    def _flush_block(self, block: bytes) -> None:
        comp = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        body = comp.compress(block) + comp.flush()
        header = struct.pack("<4BI2BH2BHH", 31, 139, 8, 4, 0, 0, 255, 6, 66, 67, 2, len(body) + 25)
        trailer = struct.pack("<II", zlib.crc32(block), len(block))
        self.raw.write(header + body + trailer)

    def close(self) -> None:
        if self.buf:
            self._flush_block(bytes(self.buf))
            self.buf.clear()
        self.raw.write(self._EOF)

    def __enter__(self) -> BgzfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
