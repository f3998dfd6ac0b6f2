"""Temporary key pairs: formats paramiko and OpenSSH read, sizes, 0600 files."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from builder.communicator.keygen import (
    check_key_settings,
    default_bits,
    generate_key_pair,
    write_private_key,
)


@pytest.mark.parametrize(
    ("kind", "bits", "prefix", "header"),
    [
        ("rsa", 2048, "ssh-rsa ", "-----BEGIN RSA PRIVATE KEY-----"),
        ("ecdsa", 256, "ecdsa-sha2-nistp256 ", "-----BEGIN EC PRIVATE KEY-----"),
        ("ecdsa", 0, "ecdsa-sha2-nistp521 ", "-----BEGIN EC PRIVATE KEY-----"),
        ("ed25519", 0, "ssh-ed25519 ", "-----BEGIN OPENSSH PRIVATE KEY-----"),
    ],
)
def test_key_pairs_in_openssh_and_pem_forms(kind: str, bits: int, prefix: str, header: str) -> None:
    pair = generate_key_pair(kind, bits, "packer_abc")
    assert pair.public_line.startswith(prefix) and pair.public_line.endswith(" packer_abc")
    assert pair.private_pem.startswith(header)
    base64.b64decode(pair.public_line.split()[1])
    loader = (
        serialization.load_ssh_private_key
        if "OPENSSH" in header
        else serialization.load_pem_private_key
    )
    private = loader(pair.private_pem.encode(), password=None)
    public = private.public_key().public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert pair.public_line.startswith(public.decode())


def test_rsa_defaults_to_4096_bits() -> None:
    assert default_bits("rsa") == 4096
    pair = generate_key_pair("rsa")
    key = serialization.load_pem_private_key(pair.private_pem.encode(), password=None)
    assert key.key_size == 4096  # type: ignore[union-attr]
    assert pair.bits == 4096


def test_paramiko_reads_every_generated_key() -> None:
    paramiko = pytest.importorskip("paramiko")
    from builder.communicator.sshdial import _key_from_text

    for kind in ("rsa", "ecdsa", "ed25519"):
        pair = generate_key_pair(kind, 2048 if kind == "rsa" else 0)
        key = _key_from_text(pair.private_pem)
        assert isinstance(key, paramiko.PKey)
        assert pair.public_line.split()[1] == key.get_base64()


def test_invalid_settings() -> None:
    assert "dsa" in (check_key_settings("dsa", 1024) or "")
    assert "at least 1024" in (check_key_settings("rsa", 512) or "")
    assert "256, 384 or 521" in (check_key_settings("ecdsa", 300) or "")
    assert check_key_settings("ed25519", 12345) is None  # bits are ignored, as in Packer
    with pytest.raises(ValueError):
        generate_key_pair("dsa")


def test_private_key_file_is_0600_even_over_a_wider_file(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text("old")
    os.chmod(path, 0o644)
    pair = generate_key_pair("ed25519")
    old = os.umask(0)
    try:
        write_private_key(str(path), pair.private_pem)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == pair.private_pem
    fresh = tmp_path / "fresh.pem"
    write_private_key(str(fresh), pair.private_pem)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_private_key_is_not_in_the_repr() -> None:
    pair = generate_key_pair("ed25519")
    assert "PRIVATE" not in repr(pair)
