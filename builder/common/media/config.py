"""`floppy_files`/`floppy_dirs`/`floppy_label` and `cd_files`/`cd_label` (Packer 1.6.6),
with the path rules the image steps share: Go-style globs and a tree walk.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import Field

from builder.config import PluginConfig, StrList, config_check, option_error
from builder.errors import BuildError, TemplateError

DEFAULT_LABEL = "packer"
FLOPPY_LABEL_MAX = 11  # the FAT volume label field
CD_LABEL_MAX = 32  # the ISO 9660 volume identifier field
_FAT_LABEL_BAD = set('"*+,./:;<=>?[\\]|')


class FloppyConfig(PluginConfig):
    """A 1.44 MB FAT12 floppy: `floppy_files` flat at its root, `floppy_dirs` as trees."""

    floppy_files: StrList = Field(default_factory=list)
    floppy_dirs: StrList = Field(default_factory=list)
    floppy_label: str = ""

    @property
    def floppy_label_or_default(self) -> str:
        return self.floppy_label or DEFAULT_LABEL

    @config_check
    def check_floppy(self) -> list[TemplateError]:
        """Every path exists (globs may match nothing, as in Packer); the label fits FAT."""
        errors = check_paths(self.floppy_files, "floppy_files", "Bad Floppy disk file")
        errors += check_paths(self.floppy_dirs, "floppy_dirs", "Bad Floppy disk directory")
        label = self.floppy_label
        bad = sorted({c for c in label if c in _FAT_LABEL_BAD or not " " <= c <= "~"})
        if len(label) > FLOPPY_LABEL_MAX or bad:
            why = f"has {''.join(bad)!r}" if bad else f"is {len(label)} characters long"
            errors.append(
                option_error(
                    f"floppy_label {label!r} {why}: a FAT label is at most "
                    f"{FLOPPY_LABEL_MAX} ASCII letters, digits, spaces and _-!#$%&'()@^`{{}}~",
                    "floppy_label",
                )
            )
        return errors


class CDConfig(PluginConfig):
    """An ISO 9660 image (Joliet and Rock Ridge names) made of `cd_files`."""

    cd_files: StrList = Field(default_factory=list)
    cd_label: str = ""

    @property
    def cd_label_or_default(self) -> str:
        return self.cd_label or DEFAULT_LABEL

    @config_check
    def check_cd(self) -> list[TemplateError]:
        """Every path exists (globs may match nothing, as in Packer); the label fits."""
        errors = check_paths(self.cd_files, "cd_files", "Bad CD disk file")
        label = self.cd_label
        if len(label) > CD_LABEL_MAX or not all(" " <= c <= "~" for c in label):
            errors.append(
                option_error(
                    f"cd_label {label!r} must be at most {CD_LABEL_MAX} ASCII characters",
                    "cd_label",
                )
            )
        return errors


# ----------------------------------------------------------------------------- paths
def has_glob(path: str) -> bool:
    """Packer's test for a pattern: any of `*?[`."""
    return any(c in path for c in "*?[")


def pattern_error(pattern: str) -> str:
    """Go's filepath.Glob error for a malformed pattern (an unclosed `[`), or ''."""
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                return "syntax error in pattern"
            i = end
        i += 1
    return ""


def go_glob(pattern: str) -> list[str]:
    """Go's filepath.Glob: `*` matches leading dots too, `[^x]` negates; sorted matches."""
    if pattern_error(pattern):
        raise BuildError(f"{pattern}: syntax error in pattern")
    translated = pattern.replace("[^", "[!")
    return sorted(glob.glob(translated, include_hidden=True))


def expand(paths: list[str]) -> list[str]:
    """Globs replaced by their matches (none is not an error); plain paths kept as given."""
    out: list[str] = []
    for path in paths:
        out.extend(go_glob(path) if has_glob(path) else [path])
    return out


def check_paths(paths: list[str], option: str, what: str) -> list[TemplateError]:
    """Packer's Prepare checks: a plain path must exist, a pattern must be well formed."""
    errors: list[TemplateError] = []
    for i, path in enumerate(paths):
        if has_glob(path):
            problem = pattern_error(path)
        else:
            try:
                os.stat(path)
                problem = ""
            except OSError as exc:
                problem = f"stat {path}: {go_error(exc)}"
        if problem:
            errors.append(option_error(f"{what} '{path}': {problem}", option, i))
    return errors


def go_error(exc: OSError) -> str:
    """An OSError in Go's words: `no such file or directory`."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


@dataclass(frozen=True)
class TreeEntry:
    """A directory or file under a walked root: its parts relative to the root."""

    parts: tuple[str, ...]
    source: str
    is_dir: bool


def walk(root: str) -> Iterator[TreeEntry]:
    """Every directory and file under `root`, parents first, names in byte order.

    Symbolic links are followed (their target is copied, as Packer's cd_files docs say);
    a link back into its own ancestry is an error, not an endless walk.
    """
    yield from _walk(root, (), frozenset({os.path.realpath(root)}))


def _walk(directory: str, parts: tuple[str, ...], seen: frozenset[str]) -> Iterator[TreeEntry]:
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise BuildError(f"cannot read directory {directory}: {go_error(exc)}") from exc
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            real = os.path.realpath(path)
            if real in seen:
                raise BuildError(f"{path} links back to a directory that contains it")
            yield TreeEntry((*parts, name), path, True)
            yield from _walk(path, (*parts, name), seen | {real})
        elif os.path.exists(path):
            yield TreeEntry((*parts, name), path, False)
        else:
            raise BuildError(f"{path} is a broken symbolic link")
