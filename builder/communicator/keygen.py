"""Temporary SSH key pairs for one build: OpenSSH public line and private key text."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

DEFAULT_BITS = {"rsa": 4096, "ecdsa": 521, "ed25519": 256}
_ECDSA_BITS = (256, 384, 521)


@dataclass(frozen=True)
class KeyPair:
    """A generated key: `public_line` for authorized_keys, `private_pem` for the client."""

    kind: str
    bits: int
    public_line: str
    private_pem: str = field(repr=False)
    name: str = ""


def default_bits(kind: str) -> int:
    """Packer's default size for a key type."""
    return DEFAULT_BITS.get(kind, 0)


def check_key_settings(kind: str, bits: int) -> str | None:
    """Why (kind, bits) cannot be generated, or None (Packer's rules; no DSA)."""
    if kind == "dsa":
        return (
            "temporary_key_pair_type 'dsa' is not supported (OpenSSH removed DSA); "
            "use rsa, ecdsa or ed25519"
        )
    if kind == "rsa" and bits and bits < 1024:
        return f"temporary_key_pair_bits: RSA keys need at least 1024 bits, got {bits}"
    if kind == "ecdsa" and bits and bits not in _ECDSA_BITS:
        return f"temporary_key_pair_bits: ECDSA keys are 256, 384 or 521 bits, got {bits}"
    if kind not in DEFAULT_BITS:
        return f"temporary_key_pair_type {kind!r} is invalid; use rsa, ecdsa or ed25519"
    return None


def generate_key_pair(kind: str = "rsa", bits: int = 0, name: str = "") -> KeyPair:
    """Make a new key pair; `name` becomes the public line's comment (Packer: packer_<uuid>)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    problem = check_key_settings(kind, bits)
    if problem:
        raise ValueError(problem)
    bits = bits or default_bits(kind)
    fmt = serialization.PrivateFormat.TraditionalOpenSSL
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    elif kind == "ecdsa":
        curves: dict[int, Any] = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}
        key = ec.generate_private_key(curves[bits]())
    else:
        key = ed25519.Ed25519PrivateKey.generate()
        fmt = serialization.PrivateFormat.OpenSSH  # paramiko reads Ed25519 only in this format
    private = key.private_bytes(
        serialization.Encoding.PEM, fmt, serialization.NoEncryption()
    ).decode("ascii")
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )
    if name:
        public = f"{public} {name}"
    return KeyPair(kind, bits, public, private, name)


def write_private_key(path: str, private_pem: str) -> None:
    """Write a private key readable by its owner only (0600 from the first byte)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to an existing file
        os.write(fd, private_pem.encode("ascii"))
    finally:
        os.close(fd)
