"""iso_checksum forms as Packer 1.6.6 (go-getter v2) reads them, and checksum files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from builder.common.iso.checksum import (
    Checksum,
    ChecksumError,
    ChecksumFile,
    find_checksum,
    local_path,
    parse_checksum,
    parse_checksum_line,
    url_path,
)

DATA = b"pybuild iso checksum test\n"
DIGESTS = {
    kind: hashlib.new(kind, DATA).hexdigest() for kind in ("md5", "sha1", "sha256", "sha512")
}


@pytest.mark.parametrize("kind", sorted(DIGESTS))
def test_typed_forms(kind: str) -> None:
    assert parse_checksum(f"{kind}:{DIGESTS[kind]}") == Checksum(kind, DIGESTS[kind])


@pytest.mark.parametrize("kind", sorted(DIGESTS))
def test_bare_hex_type_is_guessed_from_its_length(kind: str) -> None:
    assert parse_checksum(DIGESTS[kind]) == Checksum(kind, DIGESTS[kind])


def test_type_and_hex_are_case_insensitive_and_normalised() -> None:
    value = DIGESTS["sha256"]
    assert parse_checksum(f"SHA256:{value.upper()}") == Checksum("sha256", value)
    assert parse_checksum(value.upper()) == Checksum("sha256", value)
    # the cache name comes from this form (go-getter's FileChecksum.String())
    assert str(parse_checksum(value.upper())) == f"sha256:{value}"


def test_none_and_file_forms() -> None:
    assert parse_checksum("none") is None
    assert parse_checksum("file:http://example.com/SHA256SUMS") == ChecksumFile(
        "http://example.com/SHA256SUMS"
    )
    assert parse_checksum("file:./sums.txt") == ChecksumFile("./sums.txt")
    assert parse_checksum("file:file:///srv/sums.txt") == ChecksumFile("file:///srv/sums.txt")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "A checksum must be specified"),
        ("abcd", 'Unknown type for checksum abcd in "abcd"'),
        ("foo:abcd", 'unsupported checksum type: foo in "foo:abcd"'),
        ("sha256:xyz", """invalid checksum: 'x' is not a hex digit in "sha256:xyz\""""),
        ("NONE", """invalid checksum: 'N' is not a hex digit in "NONE\""""),
        ("abc.iso", "Error parsing checksum: .iso is not a valid checksum ending"),
        ("file:", 'invalid checksum: file: needs the URL or path of a checksum file in "file:"'),
    ],
)
def test_bad_forms_have_packers_messages(text: str, message: str) -> None:
    with pytest.raises(ChecksumError) as info:
        parse_checksum(text)
    assert info.value.message == message


@pytest.mark.parametrize("kind", sorted(DIGESTS))
def test_typed_value_of_the_wrong_length_is_an_error(kind: str) -> None:
    short = DIGESTS[kind][:-2]
    with pytest.raises(ChecksumError) as info:
        parse_checksum(f"{kind}:{short}")
    want = len(DIGESTS[kind])
    assert info.value.message == (
        f"invalid checksum: a {kind} checksum has {want} hex digits, "
        f'this one has {want - 2} in "{kind}:{short}"'
    )


def test_bare_value_of_no_known_length_says_which_lengths_exist() -> None:
    with pytest.raises(ChecksumError) as info:
        parse_checksum("a" * 63)
    assert info.value.message.startswith("Unknown type for checksum")
    assert info.value.hint is not None
    assert "32 (md5), 40 (sha1), 64 (sha256) or 128 (sha512)" in info.value.hint
    assert "this one has 63" in info.value.hint


# ----------------------------------------------------------------------- checksum files
SHA = DIGESTS["sha256"]
OTHER = hashlib.sha256(b"other").hexdigest()


def test_gnu_lines() -> None:
    assert parse_checksum_line(f"{SHA}  debian.iso") == (Checksum("sha256", SHA), "debian.iso")
    assert parse_checksum_line(f"{SHA} *debian.iso\n") == (Checksum("sha256", SHA), "*debian.iso")
    assert parse_checksum_line(f"{SHA}  my disk.iso") == (Checksum("sha256", SHA), "my disk.iso")
    assert parse_checksum_line(SHA) == (Checksum("sha256", SHA), "")


def test_bsd_lines() -> None:
    md5 = DIGESTS["md5"]
    assert parse_checksum_line(f"SHA256 (debian.iso) = {SHA}") == (
        Checksum("sha256", SHA),
        "debian.iso",
    )
    assert parse_checksum_line(f"MD5 (my disk.iso) = {md5.upper()}") == (
        Checksum("md5", md5),
        "my disk.iso",
    )
    assert parse_checksum_line(f"SHA384 (debian.iso) = {SHA}") is None  # unsupported type
    assert parse_checksum_line(f"SHA512 (debian.iso) = {SHA}") is None  # wrong length


@pytest.mark.parametrize(
    "line", ["", "   ", "# SHA256 sums", "-----BEGIN PGP SIGNED MESSAGE-----", "Hash: SHA256"]
)
def test_other_lines_are_skipped(line: str) -> None:
    assert parse_checksum_line(line) is None


GNU_FILE = f"""# sums for the release
{OTHER}  debian-netinst.iso
{SHA}  debian-live.iso
"""
BSD_FILE = f"""SHA256 (debian-netinst.iso) = {OTHER}
SHA256 (debian-live.iso) = {SHA}
"""


@pytest.mark.parametrize("text", [GNU_FILE, BSD_FILE], ids=["gnu", "bsd"])
def test_the_line_naming_the_iso_is_found(text: str) -> None:
    url = "http://mirror.example/debian/12/debian-live.iso"
    sums = "http://mirror.example/debian/12/SHA256SUMS"
    assert find_checksum(text, url, sums) == Checksum("sha256", SHA)


def test_names_with_directories_and_marks() -> None:
    iso = "http://m.example/ubuntu/hwe-netboot/mini.iso"
    sums = "http://m.example/ubuntu/SHA256SUMS"
    text = f"{OTHER}  ./netboot/mini.iso\n{SHA}  ./hwe-netboot/mini.iso\n"
    assert find_checksum(text, iso, sums).value == SHA
    assert find_checksum(f"{SHA} *hwe-netboot/mini.iso\n", iso, sums).value == SHA
    assert find_checksum(f"{SHA} ?mini.iso\n", iso, sums).value == SHA


def test_a_local_iso_is_found_by_its_relative_and_absolute_path(tmp_path: Path) -> None:
    iso = tmp_path / "sub" / "x.iso"
    sums = tmp_path / "SHA256SUMS"
    assert find_checksum(f"{SHA}  sub/x.iso", str(iso), str(sums)).value == SHA
    assert find_checksum(f"{SHA}  {iso}", f"file://{iso}", f"file://{sums}").value == SHA


def test_a_line_without_a_name_matches_any_iso() -> None:
    assert find_checksum(f"{SHA}\n", "http://h/x.iso", "http://h/x.iso.sha256").value == SHA


def test_the_last_line_needs_no_newline() -> None:
    # go-getter drops a last line without "\n"; pybuild reads it
    assert find_checksum(f"{SHA}  x.iso", "http://h/x.iso", "http://h/SUMS").value == SHA


def test_no_line_for_the_iso_is_packers_error() -> None:
    with pytest.raises(ValueError) as info:
        find_checksum(GNU_FILE, "http://h/other.iso", "http://h/SHA256SUMS")
    assert str(info.value) == "no checksum found in: http://h/SHA256SUMS"


def test_url_and_local_paths() -> None:
    assert url_path("http://h/a%20b/x.iso?x=1") == "/a b/x.iso"
    assert url_path("./x.iso") == "./x.iso"
    assert local_path("file:///srv/x.iso") == "/srv/x.iso"
    assert local_path("file://localhost/srv/x.iso") == "/srv/x.iso"
    assert local_path("file://./x.iso") == "./x.iso"
    assert local_path("file:./x.iso") == "./x.iso"
    assert local_path("/srv/x.iso") == "/srv/x.iso"
    assert os.path.isabs(url_path("file:///srv/x.iso"))
