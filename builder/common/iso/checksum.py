"""`iso_checksum`: every form Packer 1.6.6 accepts, and checksum files in GNU and BSD style.

Forms: `md5:HEX`, `sha1:HEX`, `sha256:HEX`, `sha512:HEX` (type case-insensitive), bare `HEX`
whose type is guessed from its length (32 md5, 40 sha1, 64 sha256, 128 sha512),
`file:URL` (a checksum file: http(s), file:// or a local path) and `none`.

Packer accepts a typed value of the wrong length and fails only when the download does not
match; here the length is checked with the form, so validate reports it.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import string
import urllib.parse
from dataclasses import dataclass
from typing import Protocol

# hex digits per type; a bare value's type is guessed from its length, as go-getter does
HEX_DIGITS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
_BY_LENGTH = {n: kind for kind, n in HEX_DIGITS.items()}
_HEX = frozenset(string.hexdigits)
_TYPES_HINT = (
    "use md5:, sha1:, sha256: or sha512: with the hex digest, file:<checksum file URL>, or none"
)
# BSD style (`shasum --tag`, `sha256sum --tag`): SHA256 (name) = hex
_BSD = re.compile(r"^\s*([A-Za-z0-9-]+)\s+\((.*)\)\s*=\s*([0-9A-Fa-f]+)\s*$")


class Hasher(Protocol):
    """What verification needs of a hashlib object."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


class ChecksumError(ValueError):
    """An `iso_checksum` that cannot be used: Packer's message, and a hint when there is a fix."""

    def __init__(self, message: str, hint: str | None = None):
        self.message, self.hint = message, hint
        super().__init__(message + (f"; {hint}" if hint else ""))


@dataclass(frozen=True)
class Checksum:
    """A digest to verify against: `type` is md5/sha1/sha256/sha512, `value` lowercase hex."""

    type: str
    value: str

    def __str__(self) -> str:
        """`sha256:<hex>`: go-getter's form, from which Packer names the cache file."""
        return f"{self.type}:{self.value}"

    def hasher(self) -> Hasher:
        return hashlib.new(self.type)


@dataclass(frozen=True)
class ChecksumFile:
    """`file:URL`: the digest is the line of that file naming the ISO."""

    url: str


# None is `none`: nothing is verified
ChecksumSpec = Checksum | ChecksumFile | None


def parse_checksum(text: str) -> ChecksumSpec:
    """Parse an `iso_checksum` value; ChecksumError says what is wrong with it."""
    if text == "none":
        return None
    if text == "":
        raise ChecksumError("A checksum must be specified", _TYPES_HINT)
    kind, sep, value = text.partition(":")
    if sep and kind == "file":
        if not value:
            raise ChecksumError(
                f'invalid checksum: file: needs the URL or path of a checksum file in "{text}"'
            )
        return ChecksumFile(value)
    if text.lower().endswith(".iso"):
        raise ChecksumError(
            "Error parsing checksum: .iso is not a valid checksum ending",
            "iso_checksum takes a digest or file:<URL of a checksum file>, not the ISO's name",
        )
    if not sep:
        return _guess(text, text)
    kind = kind.lower()
    if kind not in HEX_DIGITS:
        raise ChecksumError(f'unsupported checksum type: {kind} in "{text}"', _TYPES_HINT)
    _check_hex(value, text)
    if len(value) != HEX_DIGITS[kind]:
        raise ChecksumError(
            f"invalid checksum: a {kind} checksum has {HEX_DIGITS[kind]} hex digits, "
            f'this one has {len(value)} in "{text}"'
        )
    return Checksum(kind, value.lower())


def _guess(value: str, text: str) -> Checksum:
    """A bare digest: its type from its length."""
    _check_hex(value, text)
    kind = _BY_LENGTH.get(len(value))
    if kind is None:
        raise ChecksumError(
            f'Unknown type for checksum {value} in "{text}"',
            "a checksum without a type has 32 (md5), 40 (sha1), 64 (sha256) or 128 (sha512) "
            f"hex digits, this one has {len(value)}; or give the type: sha256:<hex>",
        )
    return Checksum(kind, value.lower())


def _check_hex(value: str, text: str) -> None:
    bad = next((c for c in value if c not in _HEX), None)
    if bad is not None:
        raise ChecksumError(f'invalid checksum: {bad!r} is not a hex digit in "{text}"')


# ----------------------------------------------------------------------- checksum files
def parse_checksum_line(line: str) -> tuple[Checksum, str] | None:
    """One line of a checksum file: (digest, file name), name '' when the line has none.

    GNU style `HEX  name` or `HEX *name`, BSD style `SHA256 (name) = HEX`, or a digest
    alone. Lines that are neither (comments, blank, PGP armour) give None.
    """
    bsd = _BSD.match(line)
    if bsd is not None:
        kind, name, value = bsd.group(1).lower(), bsd.group(2), bsd.group(3)
        if HEX_DIGITS.get(kind) != len(value):
            return None
        return Checksum(kind, value.lower()), name
    parts = line.strip().split(None, 1)
    if not parts:
        return None
    try:
        digest = _guess(parts[0], line)
    except ChecksumError:
        return None
    return digest, (parts[1] if len(parts) == 2 else "")


def find_checksum(text: str, iso_url: str, checksum_url: str) -> Checksum:
    """The digest for `iso_url` in the checksum file `text` (fetched from `checksum_url`).

    A line names the ISO by its base name (also with a `*` or `?` mark), its path relative
    to the checksum file's directory (also with `./`) or its absolute path; a line without
    a name matches any ISO; the first such line wins. Failing that, a name whose `./`
    stripped ends the ISO's path at a `/`. (go-getter takes any substring, so
    `./netboot/mini.iso` would match `hwe-netboot/mini.iso`.) ValueError when none matches.
    """
    iso_path = url_path(iso_url)
    filename = posixpath.basename(iso_path)
    absolute = os.path.abspath(iso_path)
    relative = os.path.relpath(absolute, os.path.dirname(os.path.abspath(url_path(checksum_url))))
    options = {filename, "*" + filename, "?" + filename, relative, "./" + relative, absolute}
    lines = [parsed for line in text.splitlines() if (parsed := parse_checksum_line(line))]
    for digest, name in lines:
        if not name or name in options:
            return digest
    for digest, name in lines:
        tail = name.lstrip("*?").lstrip("./")
        if tail and (iso_path == tail or iso_path.endswith("/" + tail)):
            return digest
    raise ValueError(f"no checksum found in: {checksum_url}")


def url_path(url: str) -> str:
    """The path part of a URL (unquoted), or the local path itself."""
    if "://" not in url and not url.startswith("file:"):
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return local_path(url)
    return urllib.parse.unquote(parts.path)


def local_path(url: str) -> str:
    """The file a `file://…` / `file:…` URL or a plain path names (relative: to the cwd)."""
    if url.startswith("file://"):
        rest = url[len("file://") :]
        if rest.startswith("localhost/"):
            rest = rest[len("localhost") :]
        return urllib.parse.unquote(rest.split("?", 1)[0])
    if url.startswith("file:"):
        return urllib.parse.unquote(url[len("file:") :].split("?", 1)[0])
    return url
