"""The SSH banner probe: a port that accepts and stays silent (qemu's user-mode forward while
the guest boots) is not taken for an SSH server; the banner ends the wait at once."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from builder.errors import BuildCancelled, CommunicatorTimeout
from builder.qemu.steps.step_connect import banner, wait_for_banner


@contextmanager
def server(greeting: bytes | None) -> Iterator[int]:
    """A loopback listener that accepts, sends `greeting` (None: nothing) and holds on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            held.append(conn)
            if greeting is not None:
                conn.sendall(greeting)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        sock.close()


def test_a_silent_accepting_port_is_not_an_ssh_server() -> None:
    with server(None) as port:
        assert banner("127.0.0.1", port, 0.3) is False


def test_the_banner_is_recognised() -> None:
    with server(b"SSH-2.0-dropbear_2022.83\r\n") as port:
        assert banner("127.0.0.1", port, 2.0) is True
    with server(b"HTTP/1.0 400 Bad\r\n") as port:
        assert banner("127.0.0.1", port, 2.0) is False


class Ui:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def message(self, text: str) -> None:
        self.messages.append(text)


class Cancel:
    def __init__(self, cancelled: bool = False) -> None:
        self.cancelled = cancelled

    def wait(self, seconds: float) -> bool:
        return self.cancelled


class Config:
    def __init__(self, ssh_timeout: float) -> None:
        self.ssh_timeout = ssh_timeout


class Run:
    def __init__(self, cancelled: bool = False, ssh_timeout: float = 0.5) -> None:
        self.config, self.ui, self.cancel = Config(ssh_timeout), Ui(), Cancel(cancelled)


def test_the_wait_ends_at_ssh_timeout_with_the_address_named() -> None:
    with server(None) as port:
        ctx: Any = Run()
        with pytest.raises(CommunicatorTimeout) as err:
            wait_for_banner(ctx, "127.0.0.1", port)
    assert f"no SSH server answered on 127.0.0.1:{port} within 500ms" in str(err.value)
    assert ctx.ui.messages == [f"Waiting for the guest's SSH server on 127.0.0.1:{port}..."]


def test_the_wait_is_cancellable_and_returns_once_the_banner_comes() -> None:
    with server(None) as port:
        with pytest.raises(BuildCancelled):
            wait_for_banner(Run(cancelled=True, ssh_timeout=60), "127.0.0.1", port)  # type: ignore[arg-type]
    with server(b"SSH-2.0-OpenSSH_9.2\r\n") as port:
        wait_for_banner(Run(), "127.0.0.1", port)  # type: ignore[arg-type]
