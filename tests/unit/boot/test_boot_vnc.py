"""The RFB client against a real RFB server on 127.0.0.1, and DES against references."""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Callable

import pytest

from builder.common.boot.config import KEY_INTERVAL_ENV
from builder.common.boot.step_boot_command import BootCommandRun, StepTypeBootCommand
from builder.common.boot.vnc import (
    VNCError,
    VNCKeySender,
    connect,
    des_encrypt,
    open_vnc_sender,
    vnc_auth_response,
)
from builder.errors import BuildError
from builder.events import Say
from tests.unit.boot.conftest import RFBServer, make_run

COMMAND = "<esc><wait>linux url=http://10.0.2.2:8080/a:b<enter>"
SHIFT = 0xFFE1


def reference_des(key: bytes, block: bytes) -> bytes:
    """Single DES from the installed `cryptography` (3DES with one key three times is DES)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TripleDES lives on in `decrepit`, warnings and all
        try:
            from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
        except ImportError:  # cryptography < 43
            from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
        encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def reference_vnc_response(password: str, challenge: bytes) -> bytes:
    """The VNC answer computed apart from the module: bits reversed by shifting, reference DES."""
    key = bytearray(8)
    for n, byte in enumerate(password.encode("latin-1")[:8]):
        key[n] = sum(((byte >> bit) & 1) << (7 - bit) for bit in range(8))
    return reference_des(bytes(key), challenge[:8]) + reference_des(bytes(key), challenge[8:])


@pytest.mark.parametrize(
    ("key", "plain", "cipher"),
    [
        ("133457799BBCDFF1", "0123456789ABCDEF", "85E813540F0AB405"),  # the FIPS worked example
        ("0E329232EA6D0D73", "8787878787878787", "0000000000000000"),
        ("0123456789ABCDEF", "4E6F772069732074", "3FA40E8A984D4815"),  # "Now is t"
    ],
)
def test_des_published_vectors(key: str, plain: str, cipher: str) -> None:
    assert des_encrypt(bytes.fromhex(key), bytes.fromhex(plain)) == bytes.fromhex(cipher)


def test_des_matches_the_reference_implementation() -> None:
    for _ in range(200):
        key, block = os.urandom(8), os.urandom(8)
        assert des_encrypt(key, block) == reference_des(key, block)


def test_vnc_auth_response_vectors() -> None:
    challenge = bytes(range(16))
    # computed with OpenSSL 3.0 (`openssl enc -des-ecb -provider legacy`) on the reversed keys
    assert vnc_auth_response("secret", challenge).hex() == "ee22539f33a5983ec12f9c2edbc995dd"
    assert vnc_auth_response("password", challenge).hex() == "b866924125c8eebb9debc1db61c538e2"
    assert vnc_auth_response("password-too-long", challenge) == vnc_auth_response(
        "password", challenge
    )
    for password in ("", "a", "qemu1234", "Z9!x"):
        random_challenge = os.urandom(16)
        assert vnc_auth_response(password, random_challenge) == reference_vnc_response(
            password, random_challenge
        )


def expected_events() -> list[tuple[bool, int]]:
    def press(sym: int, shift: bool = False) -> list[tuple[bool, int]]:
        keys = [(True, sym), (False, sym)]
        return [(True, SHIFT), *keys, (False, SHIFT)] if shift else keys

    events = press(0xFF1B)  # <esc>, then <wait> sends nothing
    for c in "linux url=http://10.0.2.2:8080/a:b":
        events += press(ord(c), shift=c == ":")
    return events + press(0xFF0D)


def type_over_vnc(server: RFBServer, password: str = "") -> tuple[list[float], list[str]]:
    ctx, sink = make_run(boot_command=[COMMAND], boot_wait="1s", boot_key_interval="5ms")
    pauses: list[float] = []

    def pause(seconds: float) -> bool:
        pauses.append(seconds)
        return False

    def connect_vnc(run: BootCommandRun) -> VNCKeySender:
        return open_vnc_sender(run.ui, "127.0.0.1", server.port, password=password, timeout=10)

    StepTypeBootCommand(connect=connect_vnc, vm_name="vm", pause=pause).run(ctx)
    assert server.done.wait(10)
    assert server.error is None
    return pauses, sink.texts(Say)


@pytest.mark.parametrize(
    ("greeting", "spoken"),
    [
        (b"RFB 003.008\n", b"RFB 003.008\n"),
        (b"RFB 003.007\n", b"RFB 003.007\n"),
        (b"RFB 003.003\n", b"RFB 003.003\n"),
        (b"RFB 003.889\n", b"RFB 003.008\n"),  # Apple's, spoken as 3.8
        (b"RFB 003.005\n", b"RFB 003.003\n"),  # an unknown 3.x below 3.7 is 3.3 (RFC 6143)
    ],
)
def test_typing_over_vnc_without_a_password(
    rfb: Callable[..., RFBServer], greeting: bytes, spoken: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_INTERVAL_ENV, raising=False)
    server = rfb(version=greeting, security=(1,))
    pauses, said = type_over_vnc(server)
    assert server.client_version == spoken
    assert server.chosen == 1 and server.shared == 1  # shared, as Packer's Exclusive: false
    assert server.events == expected_events()
    assert said == [
        "Waiting 1s for boot...",
        f"Connecting to VM via VNC (127.0.0.1:{server.port})",
        "Typing the boot command over VNC...",
    ]
    assert pauses == [1.0, 0.005, 0.005, 1.0, *[0.005] * (len(server.events) - 2)]


@pytest.mark.parametrize("greeting", [b"RFB 003.008\n", b"RFB 003.007\n", b"RFB 003.003\n"])
def test_typing_over_vnc_with_vnc_authentication(
    rfb: Callable[..., RFBServer], greeting: bytes
) -> None:
    challenge = os.urandom(16)
    expected = reference_vnc_response("s3cr3t", challenge)
    security = (2,) if greeting.endswith(b"3\n") else (16, 2)  # 3.3: the server decides
    server = rfb(version=greeting, security=security, challenge=challenge, expected=expected)
    type_over_vnc(server, password="s3cr3t")
    assert server.chosen == 2 and server.response == expected
    assert server.events == expected_events()


def test_a_password_still_takes_security_none_when_that_is_all_there_is(
    rfb: Callable[..., RFBServer],
) -> None:
    server = rfb(security=(1,))
    with connect("127.0.0.1", server.port, password="unused", timeout=10) as client:
        assert client.desktop_name == "QEMU (pybuild-test)" and client.version == (3, 8)
    assert server.done.wait(10) and server.chosen == 1


@pytest.mark.parametrize("greeting", [b"RFB 003.008\n", b"RFB 003.007\n"])
def test_wrong_password_is_a_handshake_error_without_the_password(
    rfb: Callable[..., RFBServer], greeting: bytes
) -> None:
    server = rfb(version=greeting, security=(2,), expected=b"never")
    with pytest.raises(VNCError) as info:
        connect("127.0.0.1", server.port, password="hunter2", timeout=10)
    message = str(info.value)
    assert message.startswith("Error handshaking with VNC: security handshake failed: ")
    if greeting == b"RFB 003.008\n":
        assert message.endswith("Authentication failed")
    assert "hunter2" not in message
    assert isinstance(info.value, BuildError)


def test_server_requires_a_password_we_do_not_have(rfb: Callable[..., RFBServer]) -> None:
    server = rfb(security=(2,))
    with pytest.raises(VNCError, match="asks for a password and none is set"):
        connect("127.0.0.1", server.port, timeout=10)


@pytest.mark.parametrize("greeting", [b"RFB 003.008\n", b"RFB 003.003\n"])
def test_server_refusal_reason_is_shown(rfb: Callable[..., RFBServer], greeting: bytes) -> None:
    security = () if greeting.endswith(b"8\n") else (0,)
    server = rfb(version=greeting, security=security, refuse_reason="too many clients")
    with pytest.raises(VNCError, match="^Error handshaking with VNC: .*too many clients$"):
        connect("127.0.0.1", server.port, timeout=10)


def test_unsupported_security_types(rfb: Callable[..., RFBServer]) -> None:
    server = rfb(security=(16, 19))
    with pytest.raises(
        VNCError, match=r"no suitable auth schemes found; server supported: \[16, 19\]"
    ):
        connect("127.0.0.1", server.port, timeout=10)


def test_not_an_rfb_server(rfb: Callable[..., RFBServer]) -> None:
    server = rfb(version=b"SSH-2.0-Open")
    with pytest.raises(VNCError, match="not an RFB server"):
        connect("127.0.0.1", server.port, timeout=10)
    server = rfb(version=b"RFB 004.001\n")
    with pytest.raises(VNCError, match="unsupported RFB version 4.1"):
        connect("127.0.0.1", server.port, timeout=10)


def test_connection_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(VNCError, match="^Error connecting to VNC: "):
        connect("127.0.0.1", port, timeout=10)
