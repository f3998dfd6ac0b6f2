"""Boot command tests: a fake KeySender, a real run context, and a real RFB server on loopback."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from builder.common.boot.config import VNCConfig
from builder.common.run import BuildRun
from builder.components import PluginOptions
from builder.ledger import Ledger
from builder.multistep import CancelToken
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui


class FakeKeySender:
    """A KeySender that records its calls: ("down", key), ("up", key), ("close",)."""

    def __init__(self, fail_after: int | None = None):
        self.calls: list[tuple[str, ...]] = []
        self.fail_after = fail_after

    def _record(self, kind: str, key: str) -> None:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise ConnectionResetError(104, "Connection reset by peer")
        self.calls.append((kind, key))

    def key_down(self, key: str) -> None:
        self._record("down", key)

    def key_up(self, key: str) -> None:
        self._record("up", key)

    def close(self) -> None:
        self.calls.append(("close",))


class _Hook:
    def provision(self, ui: Any, communicator: Any, data: dict[str, str]) -> None:
        raise AssertionError("the boot command step never provisions")

    def error_cleanup(
        self, ui: Any, communicator: Any, data: dict[str, str], original: Any
    ) -> None:
        raise AssertionError("the boot command step never provisions")


@dataclass(kw_only=True)
class BootTestRun(BuildRun[VNCConfig]):
    """A platform run with the fields the boot step reads (as QemuRun will have them)."""

    http_ip: str = ""
    http_port: int = 0


def make_run(
    user_vars: dict[str, str] | None = None, **options: Any
) -> tuple[BootTestRun, RecordingSink]:
    config = VNCConfig.model_validate(options)
    sink = RecordingSink()
    render = RenderContext(user_vars=user_vars or {}, build_name="qemu", build_type="qemu")
    popts = PluginOptions(build_name="qemu", build_type="qemu", render=render)
    run = BootTestRun(
        ui=Ui(sink, "qemu"),
        cancel=CancelToken(),
        hook=_Hook(),
        options=popts,
        resources=Ledger.memory().build("qemu"),
        config=config,
        http_ip="10.0.2.2",
        http_port=8080,
    )
    return run, sink


@dataclass
class RFBServer:
    """The server side of an RFB handshake, then a reader of KeyEvent messages.

    `version`: the greeting; `security`: the types offered (3.7/3.8) or chosen (3.3);
    with `password`, VNC Authentication checks the client's answer against `expected`
    (computed by the test with a reference DES). Serves one client.
    """

    version: bytes = b"RFB 003.008\n"
    security: tuple[int, ...] = (1,)
    challenge: bytes = bytes(range(16))
    expected: bytes = b""
    refuse_reason: str = ""
    name: str = "QEMU (pybuild-test)"
    client_version: bytes = b""
    chosen: int | None = None
    response: bytes = b""
    shared: int | None = None
    events: list[tuple[bool, int]] = field(default_factory=list)
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    def start(self) -> RFBServer:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._listener.close()
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
            with conn:
                conn.settimeout(10)
                self._session(conn)
        except BaseException as exc:  # reported by the test through `error`
            self.error = exc
        finally:
            self.done.set()

    def _session(self, conn: socket.socket) -> None:
        conn.sendall(self.version)
        self.client_version = _recv(conn, 12)
        minor = int(self.client_version[8:11])
        if minor == 3:
            (self.chosen,) = self.security
            conn.sendall(struct.pack(">I", self.chosen))
            if self.chosen == 0:
                conn.sendall(_string(self.refuse_reason))
                return
        else:
            conn.sendall(struct.pack(">B", len(self.security)) + bytes(self.security))
            if not self.security:
                conn.sendall(_string(self.refuse_reason))
                return
            self.chosen = _recv(conn, 1)[0]
        ok = True
        if self.chosen == 2:
            conn.sendall(self.challenge)
            self.response = _recv(conn, 16)
            ok = self.response == self.expected
        if self.chosen == 2 or minor >= 8:
            conn.sendall(struct.pack(">I", 0 if ok else 1))
            if not ok:
                if minor >= 8:
                    conn.sendall(_string("Authentication failed"))
                return
        self.shared = _recv(conn, 1)[0]
        name = self.name.encode()
        conn.sendall(struct.pack(">HH16sI", 640, 480, bytes(16), len(name)) + name)
        while True:
            head = conn.recv(1)
            if not head:
                return
            assert head == b"\x04", f"unexpected client message {head!r}"
            down, _pad, key = struct.unpack(">BHI", _recv(conn, 7))
            self.events.append((bool(down), key))


def _recv(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"client closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">I", len(raw)) + raw


@pytest.fixture
def rfb() -> Iterator[Callable[..., RFBServer]]:
    """`rfb(version=..., security=...)` starts a server on 127.0.0.1; all stop afterwards."""
    servers: list[RFBServer] = []

    def start(**settings: Any) -> RFBServer:
        server = RFBServer(**settings).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
