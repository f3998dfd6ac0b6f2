"""Floppy images read back with pyfatfs: Packer 1.6.6's layout, the 1.44 MB geometry,
name clashes and a full disk.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from builder.common.media.floppy import (
    CLUSTERS,
    SIZE,
    FloppyItem,
    check_layout,
    floppy_layout,
    write_floppy,
)
from builder.errors import BuildError
from tests.unit.media.conftest import tree


def read_floppy(path: Path) -> dict[str, bytes | None]:
    """Every path on the floppy: file contents, None for a directory."""
    from pyfatfs.PyFatFS import PyFatFS

    fs = PyFatFS(str(path), read_only=True)
    try:
        found: dict[str, bytes | None] = {}
        for step in fs.walk.walk("/"):
            for d in step.dirs:
                found[f"{step.path.rstrip('/')}/{d.name}"] = None
            for f in step.files:
                full = f"{step.path.rstrip('/')}/{f.name}"
                found[full] = fs.readbytes(full)
        return found
    finally:
        fs.close()


def make(tmp_path: Path, files: list[str], dirs: list[str], label: str = "packer") -> Path:
    items = check_layout(floppy_layout(files, dirs, lambda text: None))
    image = tmp_path / "floppy.img"
    image.write_bytes(b"")
    write_floppy(str(image), label, items)
    return image


@pytest.fixture
def src(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tree(
        tmp_path / "src",
        {
            "Autounattend.xml": "<unattend/>",
            "scripts/setup.ps1": "Write-Host hi",
            "scripts/lib/util.ps1": "function f {}",
            "drivers/viostor/w10/viostor.inf": "[Version]",
            "drivers/viostor/w10/viostor.sys": b"\x00\x01" * 1000,
            "drivers/empty/": "",
        },
    )


def test_floppy_files_go_flat_to_the_root(src: Path, tmp_path: Path) -> None:
    image = make(tmp_path, ["src/Autounattend.xml", "src/scripts"], [])
    assert read_floppy(image) == {
        "/Autounattend.xml": b"<unattend/>",
        "/util.ps1": b"function f {}",  # a directory's files, found recursively, flattened
        "/setup.ps1": b"Write-Host hi",
    }


def test_floppy_dirs_keep_their_tree(src: Path, tmp_path: Path) -> None:
    image = make(tmp_path, [], ["src/drivers", "src/scripts/"])
    assert read_floppy(image) == {
        "/drivers": None,
        "/drivers/empty": None,
        "/drivers/viostor": None,
        "/drivers/viostor/w10": None,
        "/drivers/viostor/w10/viostor.inf": b"[Version]",
        "/drivers/viostor/w10/viostor.sys": b"\x00\x01" * 1000,
        "/scripts": None,
        "/scripts/lib": None,
        "/scripts/lib/util.ps1": b"function f {}",
        "/scripts/setup.ps1": b"Write-Host hi",
    }


def test_globs_in_both_lists(src: Path, tmp_path: Path) -> None:
    image = make(tmp_path, ["src/*.xml"], ["src/d*"])
    found = read_floppy(image)
    assert found["/Autounattend.xml"] == b"<unattend/>"
    assert found["/drivers/viostor/w10/viostor.inf"] == b"[Version]"
    assert "/scripts" not in found


def test_packer_messages(src: Path) -> None:
    lines: list[str] = []
    floppy_layout(["src/Autounattend.xml", "src/scripts"], ["src/d*"], lines.append)
    assert lines == [
        "Copying files flatly from floppy_files",
        "Copying file: src/Autounattend.xml",
        "Copying directory: src/scripts",
        "Adding file: src/scripts/lib/util.ps1",
        "Adding file: src/scripts/setup.ps1",
        "Done copying files from floppy_files",
        "Collecting paths from floppy_dirs",
        "Resulting paths from floppy_dirs : [src/drivers]",
        "Recursively copying : src/drivers",
        "Done copying paths from floppy_dirs",
    ]


def test_standard_1_44_mb_geometry_and_label(src: Path, tmp_path: Path) -> None:
    image = make(tmp_path, ["src/Autounattend.xml"], [], label="OEMDRV")
    data = image.read_bytes()
    assert len(data) == SIZE == 1474560
    fields = struct.unpack_from("<HBHBHHBHHH", data, 11)
    # bytes a sector, sectors a cluster, reserved, FATs, root entries, sectors, media,
    # sectors a FAT, sectors a track, heads: as go-fs writes a 1.44 MB floppy
    assert fields == (512, 1, 1, 2, 224, 2880, 0xF0, 9, 18, 2)
    assert data[43:54] == b"OEMDRV     " and data[54:62] == b"FAT12   "
    assert data[510:512] == b"\x55\xaa"
    from pyfatfs.PyFatFS import PyFatFS

    fs = PyFatFS(str(image), read_only=True)
    try:
        assert fs.getinfo("/").name == "" and fs.listdir("/") == ["Autounattend.xml"]
    finally:
        fs.close()


def test_names_that_differ_only_in_case_clash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tree(tmp_path, {"a/README": "1", "b/readme": "2"})
    with pytest.raises(BuildError, match="name already exists: readme"):
        check_layout(floppy_layout(["a/README", "b/readme"], [], lambda text: None))


def test_repeated_directories_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tree(tmp_path, {"one/cfg/a.txt": "a", "two/CFG/b.txt": "b"})
    image = make(tmp_path, [], ["one/cfg", "two/CFG"])
    assert read_floppy(image) == {"/cfg": None, "/cfg/a.txt": b"a", "/cfg/b.txt": b"b"}


def test_a_name_fat_cannot_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tree(tmp_path, {"a:b.txt": "x"})
    with pytest.raises(BuildError, match="'a:b.txt' is not a valid FAT file name"):
        check_layout(floppy_layout(["a:b.txt"], [], lambda text: None))


def test_too_much_for_a_floppy_fails_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tree(tmp_path, {"big.bin": b"x" * (CLUSTERS * 512 + 1)})
    with pytest.raises(BuildError, match="do not fit on a 1.44 MB floppy"):
        check_layout(floppy_layout(["big.bin"], [], lambda text: None))


def test_nearly_full_floppy_is_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    big = bytes(range(256)) * ((CLUSTERS - 10) * 2)  # all but 10 clusters
    tree(tmp_path, {"d/big.bin": big, "d/sub/a.txt": "a", "d/sub/b.txt": "b"})
    image = make(tmp_path, [], ["d"])
    found = read_floppy(image)
    assert found["/d/big.bin"] == big and found["/d/sub/b.txt"] == b"b"


def test_the_root_holds_223_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tree(tmp_path, {f"many/F{i}": "x" for i in range(300)})
    with pytest.raises(BuildError, match="too many files at the floppy's root"):
        check_layout(floppy_layout(["many"], [], lambda text: None))


def test_missing_file_at_run_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BuildError) as err:
        floppy_layout(["gone.txt"], [], lambda text: None)
    assert str(err.value) == (
        "Error trying to stat : gone.txt : stat gone.txt: no such file or directory"
    )


def test_items_are_checked_not_trusted() -> None:
    assert check_layout([FloppyItem(("d",)), FloppyItem(("D",))]) == [FloppyItem(("d",))]
