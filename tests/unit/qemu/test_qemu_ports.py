"""Free ports for VNC and the host forward: a range, taken ports skipped, none free is an error."""

from __future__ import annotations

import socket

import pytest

from builder.errors import BuildError
from builder.qemu.ports import reserve


def listening() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def test_a_port_in_use_is_not_chosen() -> None:
    sock, port = listening()
    with sock:
        with pytest.raises(BuildError) as err:
            reserve("127.0.0.1", port, port, "VNC port")
    assert str(err.value) == (
        f"Error finding VNC port: no free port between {port} and {port} on 127.0.0.1"
    )


def test_a_reserved_port_is_not_given_to_another_build_until_released() -> None:
    sock, port = listening()
    sock.close()  # free now
    first = reserve("127.0.0.1", port, port, "port")
    assert first.port == port
    with pytest.raises(BuildError):
        reserve("127.0.0.1", port, port, "port")
    first.release()
    again = reserve("127.0.0.1", port, port, "port")
    assert again.port == port
    again.release()
    first.release()  # twice is fine


def test_the_upper_bound_is_excluded_as_packer() -> None:
    sock, port = listening()
    sock.close()
    for _ in range(5):  # port + 1 is never the answer
        r = reserve("127.0.0.1", port, port + 1, "port")
        assert r.port == port
        r.release()
