"""FloppyConfig and CDConfig: Packer 1.6.6's checks, each error at its option and index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.common.media import CDConfig, FloppyConfig
from builder.common.media.config import expand, go_glob, pattern_error
from builder.errors import BuildError


def floppy_errors(**options: object) -> list[tuple[str, str]]:
    cfg = FloppyConfig.model_validate(options)
    return [(e.location.path, e.message) for e in cfg.check()]


def cd_errors(**options: object) -> list[tuple[str, str]]:
    cfg = CDConfig.model_validate(options)
    return [(e.location.path, e.message) for e in cfg.check()]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Autounattend.xml").write_text("<x/>")
    (tmp_path / "drivers").mkdir()
    return tmp_path


def test_defaults() -> None:
    floppy, cd = FloppyConfig(), CDConfig()
    assert (floppy.floppy_files, floppy.floppy_dirs, floppy.floppy_label_or_default) == (
        [],
        [],
        "packer",
    )
    assert (cd.cd_files, cd.cd_label_or_default) == ([], "packer")
    assert floppy.check() == [] and cd.check() == []


def test_a_string_is_split_on_commas() -> None:
    cfg = FloppyConfig.model_validate({"floppy_files": "a.txt,b.txt"})
    assert cfg.floppy_files == ["a.txt", "b.txt"]


def test_missing_floppy_paths_are_named_with_their_index() -> None:
    assert floppy_errors(
        floppy_files=["Autounattend.xml", "missing.ps1"], floppy_dirs=["drivers", "nodir"]
    ) == [
        (
            "floppy_files[1]",
            "Bad Floppy disk file 'missing.ps1': stat missing.ps1: no such file or directory",
        ),
        (
            "floppy_dirs[1]",
            "Bad Floppy disk directory 'nodir': stat nodir: no such file or directory",
        ),
    ]


def test_globs_may_match_nothing_but_must_be_well_formed() -> None:
    assert floppy_errors(floppy_files=["*.none", "drivers/*"]) == []
    assert cd_errors(cd_files=["[abc"]) == [
        ("cd_files[0]", "Bad CD disk file '[abc': syntax error in pattern")
    ]


def test_missing_cd_files() -> None:
    assert cd_errors(cd_files=["Autounattend.xml", "user-data"]) == [
        ("cd_files[1]", "Bad CD disk file 'user-data': stat user-data: no such file or directory")
    ]


def test_labels() -> None:
    assert floppy_errors(floppy_label="OEMDRV") == []
    assert floppy_errors(floppy_label="cidata 2024") == []  # 11: the FAT maximum
    [(path, message)] = floppy_errors(floppy_label="much-too-long")
    assert path == "floppy_label" and "is 13 characters long" in message
    [(path, message)] = floppy_errors(floppy_label="a/b")
    assert path == "floppy_label" and "has '/'" in message
    assert cd_errors(cd_label="cidata") == []
    assert cd_errors(cd_label="x" * 32) == []
    assert cd_errors(cd_label="x" * 33) == [
        ("cd_label", f"cd_label {'x' * 33!r} must be at most 32 ASCII characters")
    ]


def test_go_glob_matches_dot_files_and_sorts(in_tmp: Path) -> None:
    for name in ("b.cfg", ".hidden.cfg", "a.cfg", "c.txt"):
        (in_tmp / "drivers" / name).write_text("x")
    assert go_glob("drivers/*.cfg") == [
        os.path.join("drivers", n) for n in (".hidden.cfg", "a.cfg", "b.cfg")
    ]
    assert go_glob("drivers/[^ab]*") == [
        os.path.join("drivers", n) for n in (".hidden.cfg", "c.txt")
    ]
    assert expand(["drivers/c.txt", "drivers/[c]*", "nothing*"]) == [
        "drivers/c.txt",
        os.path.join("drivers", "c.txt"),
    ]
    assert pattern_error("a[b") == "syntax error in pattern"
    assert pattern_error("a[b]c*?") == ""
    with pytest.raises(BuildError, match="syntax error in pattern"):
        go_glob("x[")
