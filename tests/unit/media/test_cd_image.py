"""CD images read back with pycdlib: Rock Ridge and Joliet names, the layout of cd_files
(files, `dir`, `dir/`, globs), deep trees, long names, the label.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from builder.common.media.cd import cd_layout, iso9660_name, joliet_name, write_iso
from builder.errors import BuildCancelled, BuildError
from tests.unit.media.conftest import tree


def read_tree(path: Path, kind: str) -> dict[str, bytes | None]:
    """Every path by its Rock Ridge (`rr`) or Joliet (`joliet`) name: contents, or None."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        found: dict[str, bytes | None] = {}
        for root, dirs, files in iso.walk(**{f"{kind}_path": "/"}):
            for d in dirs:
                found[f"{root.rstrip('/')}/{d}"] = None
            for f in files:
                full = f"{root.rstrip('/')}/{f}"
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, **{f"{kind}_path": full})
                found[full] = out.getvalue()
        found.pop("/rr_moved", None)  # Rock Ridge's home for trees deeper than 8
        return found
    finally:
        iso.close()


def labels(path: Path) -> tuple[str, str]:
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        assert iso.pvd is not None and iso.joliet_vd is not None
        primary = iso.pvd.volume_identifier.decode().rstrip()
        joliet = iso.joliet_vd.volume_identifier.decode("utf-16-be").rstrip()
        return primary, joliet
    finally:
        iso.close()


def make(tmp_path: Path, files: list[str], label: str = "packer") -> Path:
    image = tmp_path / "cd.iso"
    write_iso(str(image), label, cd_layout(files))
    return image


@pytest.fixture
def src(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tree(
        tmp_path / "src",
        {
            "meta-data": "instance-id: iid-local01\n",
            "user-data": "#cloud-config\n",
            "cfg/network-config": "version: 2\n",
            "cfg/sub/Some Long Name With Spaces.yaml": "k: v\n",
            "cfg/empty/": "",
        },
    )


def test_files_and_directories_keep_their_names(src: Path, tmp_path: Path) -> None:
    image = make(tmp_path, ["src/meta-data", "src/user-data", "src/cfg"], label="cidata")
    expected = {
        "/meta-data": b"instance-id: iid-local01\n",
        "/user-data": b"#cloud-config\n",
        "/cfg": None,
        "/cfg/empty": None,
        "/cfg/network-config": b"version: 2\n",
        "/cfg/sub": None,
        "/cfg/sub/Some Long Name With Spaces.yaml": b"k: v\n",
    }
    assert read_tree(image, "rr") == expected
    assert read_tree(image, "joliet") == expected
    assert labels(image) == ("cidata", "cidata")


def test_a_trailing_separator_puts_the_contents_at_the_root(src: Path, tmp_path: Path) -> None:
    image = make(tmp_path, ["src/cfg/"])
    assert set(read_tree(image, "rr")) == {
        "/empty",
        "/network-config",
        "/sub",
        "/sub/Some Long Name With Spaces.yaml",
    }


def test_a_glob_puts_each_match_at_the_root(src: Path, tmp_path: Path) -> None:
    image = make(tmp_path, ["src/*"])
    found = read_tree(image, "rr")
    assert {"/meta-data", "/user-data", "/cfg/network-config"} <= set(found)
    assert "/src" not in found


def test_iso9660_names_are_8_3_and_unique(src: Path, tmp_path: Path) -> None:
    import pycdlib

    image = make(tmp_path, ["src/meta-data", "src/user-data", "src/cfg"])
    iso = pycdlib.PyCdlib()
    iso.open(str(image))
    try:
        names = sorted(
            c.file_identifier().decode()
            for c in iso.list_children(iso_path="/")
            if not (c.is_dot() or c.is_dotdot())
        )
    finally:
        iso.close()
    assert names == ["CFG", "META_DAT.;1", "USER_DAT.;1"]


def test_deep_trees_and_long_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    deep = "/".join(f"level{i}" for i in range(10))
    long_name = "a very long file name " + "x" * 80 + ".txt"
    tree(tmp_path, {f"root/{deep}/{long_name}": "deep\n"})
    image = make(tmp_path, ["root"])
    assert read_tree(image, "rr")[f"/root/{deep}/{long_name}"] == b"deep\n"
    joliet = [p for p, v in read_tree(image, "joliet").items() if v is not None]
    [only] = joliet
    leaf = only.rsplit("/", 1)[1]
    assert len(leaf) == 64 and leaf.endswith(".txt") and leaf.startswith("a very long")


def test_a_label_longer_than_joliet_holds(src: Path, tmp_path: Path) -> None:
    image = make(tmp_path, ["src/meta-data"], label="A_LABEL_OF_THIRTY_TWO_CHARACTERS")
    assert labels(image) == ("A_LABEL_OF_THIRTY_TWO_CHARACTERS", "A_LABEL_OF_THIRT")


def test_a_file_given_twice_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tree(tmp_path, {"a/user-data": "1", "b/user-data": "2", "a/d/x": "1", "b/d/y": "2"})
    with pytest.raises(BuildError, match="user-data is given twice"):
        cd_layout(["a/user-data", "b/user-data"])
    # directories given twice merge
    assert [i.parts for i in cd_layout(["a/d/", "b/d/"])] == [("x",), ("y",)]
    assert [i.parts for i in cd_layout(["a/d", "b/d"])] == [("d",), ("d", "x"), ("d", "y")]


def test_a_missing_path_at_run_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BuildError) as err:
        cd_layout(["gone"])
    assert str(err.value) == (
        "Error creating temporary file for CD: Error adding path to CD: "
        "stat gone: no such file or directory"
    )


def test_a_symlink_loop_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tree(tmp_path, {"d/sub/f": "x"})
    (tmp_path / "d" / "sub" / "back").symlink_to(tmp_path / "d")
    with pytest.raises(BuildError, match="links back to a directory that contains it"):
        cd_layout(["d"])


def test_writing_stops_when_cancelled(src: Path, tmp_path: Path) -> None:
    def cancelled() -> None:
        raise BuildCancelled()

    with pytest.raises(BuildCancelled):
        write_iso(str(tmp_path / "x.iso"), "packer", cd_layout(["src"]), check=cancelled)


def test_name_helpers() -> None:
    used: set[str] = set()
    assert iso9660_name("user-data", used, False) == "USER_DAT.;1"
    assert iso9660_name("User-Data", used, False) == "USER_D_1.;1"
    assert iso9660_name("autounattend.xml", used, False) == "AUTOUNAT.XML;1"
    assert iso9660_name(".bashrc", used, False) == "_BASHRC.;1"
    assert iso9660_name("drivers", used, True) == "DRIVERS"
    joliet: set[str] = set()
    assert joliet_name("a:b?.txt", joliet) == "a_b_.txt"
    assert joliet_name("A_B_.TXT", joliet) == "A_B_~1.TXT"
    assert joliet_name("smile \U0001f600", joliet) == "smile _"


def test_rock_ridge_keeps_the_permissions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pycdlib

    monkeypatch.chdir(tmp_path)
    tree(tmp_path, {"s/run.sh": "#!/bin/sh\n", "s/data.txt": "x"})
    (tmp_path / "s" / "run.sh").chmod(0o755)
    (tmp_path / "s" / "data.txt").chmod(0o640)
    image = make(tmp_path, ["s/"])
    iso = pycdlib.PyCdlib()
    iso.open(str(image))
    try:
        modes = {}
        for name in ("run.sh", "data.txt"):
            record = iso.get_record(rr_path=f"/{name}")
            assert isinstance(record, pycdlib.dr.DirectoryRecord) and record.rock_ridge
            modes[name] = record.rock_ridge.get_file_mode() & 0o777
    finally:
        iso.close()
    assert modes == {"run.sh": 0o755, "data.txt": 0o640}
