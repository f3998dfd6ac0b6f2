"""A minimal RFB (VNC) client that types keys: the handshake and KeyEvent messages only.

Protocol versions 3.3, 3.7 and 3.8 (RFC 6143), security None and VNC Authentication.
VNC Authentication encrypts the server's 16-byte challenge with DES, keyed by the
password's first 8 bytes with each byte's bits reversed; single DES is implemented here
because no installed library still offers it.
"""

from __future__ import annotations

import socket
import struct
from typing import TYPE_CHECKING

from builder.common.boot.keys import keysym
from builder.errors import BuildError
from builder.logs import logger

if TYPE_CHECKING:
    from builder.ui import Ui

log = logger("pybuild.vnc")

SECURITY_NONE = 1
SECURITY_VNC_AUTH = 2
_KEY_EVENT = 4


class VNCError(BuildError):
    """The VNC server could not be reached, refused us, or went away."""


class VNCClient:
    """An RFB connection after its handshake: send key events, then close."""

    def __init__(self, sock: socket.socket, version: tuple[int, int], desktop_name: str):
        self._sock, self.version, self.desktop_name = sock, version, desktop_name

    def key_event(self, key_sym: int, down: bool) -> None:
        """RFB KeyEvent: press (`down`) or release the key with this X11 keysym."""
        self._sock.sendall(struct.pack(">BBxxI", _KEY_EVENT, 1 if down else 0, key_sym))

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> VNCClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    host: str, port: int, *, password: str = "", timeout: float = 30.0, shared: bool = True
) -> VNCClient:
    """Connect and handshake; errors are Packer's "Error connecting/handshaking with VNC"."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise VNCError(f"Error connecting to VNC: {_reason(exc)}") from exc
    try:
        version, name = _handshake(sock, password, shared)
    except (OSError, _ProtocolError) as exc:
        sock.close()
        raise VNCError(f"Error handshaking with VNC: {_reason(exc)}") from exc
    except BaseException:
        sock.close()
        raise
    log.debug("Connected to VNC desktop: %s (RFB %d.%d)", name, *version)
    return VNCClient(sock, version, name)


class VNCKeySender:
    """The boot command's KeySender over VNC: abstract keys become X11 keysyms."""

    def __init__(self, client: VNCClient):
        self.client = client

    def key_down(self, key: str) -> None:
        self.client.key_event(keysym(key), True)

    def key_up(self, key: str) -> None:
        self.client.key_event(keysym(key), False)

    def close(self) -> None:
        self.client.close()


def open_vnc_sender(
    ui: Ui, host: str, port: int, *, password: str = "", timeout: float = 30.0
) -> VNCKeySender:
    """Say where (Packer's "Connecting to VM via VNC (host:port)"), connect, wrap."""
    ui.say(f"Connecting to VM via VNC ({host}:{port})")
    return VNCKeySender(connect(host, port, password=password, timeout=timeout))


class _ProtocolError(Exception):
    """The server broke the protocol or refused the connection."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _handshake(sock: socket.socket, password: str, shared: bool) -> tuple[tuple[int, int], str]:
    """RFC 6143 §7.1-7.3 from the client's side; returns (version, desktop name)."""
    version = _version(_read(sock, 12))
    sock.sendall(b"RFB %03d.%03d\n" % version)
    if version == (3, 3):
        (chosen,) = struct.unpack(">I", _read(sock, 4))
        if chosen == 0:
            raise _ProtocolError(f"connection refused: {_read_reason(sock)}")
        if chosen not in (SECURITY_NONE, SECURITY_VNC_AUTH):
            raise _ProtocolError(f"unsupported security type {chosen}")
    else:
        (count,) = struct.unpack(">B", _read(sock, 1))
        if count == 0:
            raise _ProtocolError(f"no security types: {_read_reason(sock)}")
        chosen = _choose(list(_read(sock, count)), password)
        sock.sendall(struct.pack(">B", chosen))
    if chosen == SECURITY_VNC_AUTH:
        if not password:
            raise _ProtocolError("the VNC server asks for a password and none is set")
        sock.sendall(vnc_auth_response(password, _read(sock, 16)))
    if chosen == SECURITY_VNC_AUTH or version >= (3, 8):
        (result,) = struct.unpack(">I", _read(sock, 4))
        if result != 0:
            reason = _read_reason(sock) if version >= (3, 8) else "authentication failed"
            raise _ProtocolError(f"security handshake failed: {reason}")
    sock.sendall(struct.pack(">B", 1 if shared else 0))
    _width, _height, _pixel_format, name_length = struct.unpack(">HH16sI", _read(sock, 24))
    return version, _read(sock, name_length).decode("latin-1")


def _version(greeting: bytes) -> tuple[int, int]:
    """The version to speak: 3.3, 3.7 or 3.8 (RFC 6143: other 3.x below 3.7 is 3.3)."""
    if not (greeting.startswith(b"RFB ") and greeting.endswith(b"\n") and greeting[7:8] == b"."):
        raise _ProtocolError(f"not an RFB server (it said {greeting[:12]!r})")
    try:
        major, minor = int(greeting[4:7]), int(greeting[8:11])
    except ValueError:
        raise _ProtocolError(f"not an RFB server (it said {greeting[:12]!r})") from None
    if major != 3:
        raise _ProtocolError(f"unsupported RFB version {major}.{minor}")
    return (3, 8) if minor >= 8 else (3, 7) if minor == 7 else (3, 3)


def _choose(offered: list[int], password: str) -> int:
    preferred = [SECURITY_VNC_AUTH, SECURITY_NONE] if password else [SECURITY_NONE]
    for kind in preferred:
        if kind in offered:
            return kind
    if SECURITY_VNC_AUTH in offered:
        raise _ProtocolError("the VNC server asks for a password and none is set")
    raise _ProtocolError(f"no suitable auth schemes found; server supported: {offered}")


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise _ProtocolError("the server closed the connection")
        data += chunk
    return data


def _read_reason(sock: socket.socket) -> str:
    try:
        (length,) = struct.unpack(">I", _read(sock, 4))
        return _read(sock, min(length, 4096)).decode("utf-8", "replace")
    except (OSError, _ProtocolError):
        return "(no reason given)"


def vnc_auth_response(password: str, challenge: bytes) -> bytes:
    """VNC Authentication: DES-ECB of the 16-byte challenge under the bit-reversed password."""
    raw = password.encode("latin-1", "replace")[:8].ljust(8, b"\0")
    key = bytes(int(f"{b:08b}"[::-1], 2) for b in raw)
    return des_encrypt(key, challenge[:8]) + des_encrypt(key, challenge[8:16])


# DES (FIPS 46-3): permutations list 1-based input bit positions, most significant first.
_PC1 = (
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27,
    19, 11, 3, 60, 52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
    14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
)  # fmt: skip
_PC2 = (
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
    41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36,
    29, 32,
)  # fmt: skip
_SHIFTS = (1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1)
_IP = (
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22,
    14, 6, 64, 56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35,
    27, 19, 11, 3, 61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
)  # fmt: skip
_FP = tuple(_IP.index(i) + 1 for i in range(1, 65))
_E = (
    32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
    16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30,
    31, 32, 1,
)  # fmt: skip
_P = (
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27,
    3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
)  # fmt: skip
_SBOX_ROWS = (
    "14 4 13 1 2 15 11 8 3 10 6 12 5 9 0 7 0 15 7 4 14 2 13 1 10 6 12 11 9 5 3 8 "
    "4 1 14 8 13 6 2 11 15 12 9 7 3 10 5 0 15 12 8 2 4 9 1 7 5 11 3 14 10 0 6 13",
    "15 1 8 14 6 11 3 4 9 7 2 13 12 0 5 10 3 13 4 7 15 2 8 14 12 0 1 10 6 9 11 5 "
    "0 14 7 11 10 4 13 1 5 8 12 6 9 3 2 15 13 8 10 1 3 15 4 2 11 6 7 12 0 5 14 9",
    "10 0 9 14 6 3 15 5 1 13 12 7 11 4 2 8 13 7 0 9 3 4 6 10 2 8 5 14 12 11 15 1 "
    "13 6 4 9 8 15 3 0 11 1 2 12 5 10 14 7 1 10 13 0 6 9 8 7 4 15 14 3 11 5 2 12",
    "7 13 14 3 0 6 9 10 1 2 8 5 11 12 4 15 13 8 11 5 6 15 0 3 4 7 2 12 1 10 14 9 "
    "10 6 9 0 12 11 7 13 15 1 3 14 5 2 8 4 3 15 0 6 10 1 13 8 9 4 5 11 12 7 2 14",
    "2 12 4 1 7 10 11 6 8 5 3 15 13 0 14 9 14 11 2 12 4 7 13 1 5 0 15 10 3 9 8 6 "
    "4 2 1 11 10 13 7 8 15 9 12 5 6 3 0 14 11 8 12 7 1 14 2 13 6 15 0 9 10 4 5 3",
    "12 1 10 15 9 2 6 8 0 13 3 4 14 7 5 11 10 15 4 2 7 12 9 5 6 1 13 14 0 11 3 8 "
    "9 14 15 5 2 8 12 3 7 0 4 10 1 13 11 6 4 3 2 12 9 5 15 10 11 14 1 7 6 0 8 13",
    "4 11 2 14 15 0 8 13 3 12 9 7 5 10 6 1 13 0 11 7 4 9 1 10 14 3 5 12 2 15 8 6 "
    "1 4 11 13 12 3 7 14 10 15 6 8 0 5 9 2 6 11 13 8 1 4 10 7 9 5 0 15 14 2 3 12",
    "13 2 8 4 6 15 11 1 10 9 3 14 5 0 12 7 1 15 13 8 10 3 7 4 12 5 6 11 0 14 9 2 "
    "7 11 4 1 9 12 14 2 0 6 10 13 15 3 5 8 2 1 14 7 4 10 8 13 15 12 9 0 3 5 6 11",
)
_SBOXES = tuple(tuple(int(v) for v in row.split()) for row in _SBOX_ROWS)


def _permute(value: int, table: tuple[int, ...], width: int) -> int:
    out = 0
    for pos in table:
        out = (out << 1) | ((value >> (width - pos)) & 1)
    return out


def _subkeys(key: bytes) -> list[int]:
    cd = _permute(int.from_bytes(key, "big"), _PC1, 64)
    c, d = cd >> 28, cd & 0xFFFFFFF
    keys = []
    for shift in _SHIFTS:
        c = ((c << shift) | (c >> (28 - shift))) & 0xFFFFFFF
        d = ((d << shift) | (d >> (28 - shift))) & 0xFFFFFFF
        keys.append(_permute((c << 28) | d, _PC2, 56))
    return keys


def _feistel(right: int, subkey: int) -> int:
    x = _permute(right, _E, 32) ^ subkey
    out = 0
    for n, box in enumerate(_SBOXES):
        six = (x >> (42 - 6 * n)) & 0x3F
        out = (out << 4) | box[((six & 0x20) >> 4 | (six & 1)) * 16 + ((six >> 1) & 0xF)]
    return _permute(out, _P, 32)


def des_encrypt(key: bytes, block: bytes) -> bytes:
    """Single DES, one 8-byte block in ECB mode (the parity bits of `key` are ignored)."""
    if len(key) != 8 or len(block) != 8:
        raise ValueError("DES takes an 8-byte key and an 8-byte block")
    bits = _permute(int.from_bytes(block, "big"), _IP, 64)
    left, right = bits >> 32, bits & 0xFFFFFFFF
    for subkey in _subkeys(key):
        left, right = right, left ^ _feistel(right, subkey)
    return _permute((right << 32) | left, _FP, 64).to_bytes(8, "big")
