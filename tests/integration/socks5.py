"""A tiny threaded SOCKS5 server on 127.0.0.1 for tests (CONNECT, username/password auth).

`rate` (bytes per second, client to server) slows uploads down so that a transfer runs
long enough for a progress bar; 0 means as fast as loopback goes.
"""

from __future__ import annotations

import socket
import threading
import time


class Socks5Server:
    """`with Socks5Server(user, password) as (port, seen):` — `seen` lists the targets."""

    def __init__(self, user: str = "", password: str = "", rate: int = 0):
        self.user, self.password, self.rate = user, password, rate
        self.seen: list[tuple[str, int]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))

    def __enter__(self) -> tuple[int, list[tuple[str, int]]]:
        threading.Thread(target=self._accept, daemon=True).start()
        return self.listener.getsockname()[1], self.seen

    def __exit__(self, *exc: object) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, c: socket.socket) -> None:
        try:
            upstream = self._handshake(c)
        except (OSError, ValueError):
            c.close()
            return
        if upstream is None:
            return
        threading.Thread(target=_pipe, args=(c, upstream, self.rate), daemon=True).start()
        threading.Thread(target=_pipe, args=(upstream, c, 0), daemon=True).start()

    def _handshake(self, c: socket.socket) -> socket.socket | None:
        def take(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = c.recv(n - len(data))
                if not chunk:
                    raise ValueError("client went away")
                data += chunk
            return data

        _, n = take(2)
        offered = take(n)
        if self.user:
            c.sendall(b"\x05\x02")
            _, ulen = take(2)
            user = take(ulen).decode()
            password = take(take(1)[0]).decode()
            ok = (user, password) == (self.user, self.password)
            c.sendall(b"\x01" + (b"\x00" if ok else b"\x01"))
            if not ok:
                c.close()
                return None
        elif 0 in offered:
            c.sendall(b"\x05\x00")
        else:
            c.sendall(b"\x05\xff")
            c.close()
            return None
        _, _, _, atyp = take(4)
        host = take(take(1)[0]).decode() if atyp == 3 else socket.inet_ntoa(take(4))
        port = int.from_bytes(take(2), "big")
        self.seen.append((host, port))
        if host not in ("127.0.0.1", "localhost"):  # the network rule: loopback only
            c.sendall(b"\x05\x02\x00\x01" + bytes(6))
            c.close()
            return None
        upstream = socket.create_connection((host, port))
        c.sendall(b"\x05\x00\x00\x01" + bytes(4) + bytes(2))
        return upstream


def _pipe(a: socket.socket, b: socket.socket, rate: int) -> None:
    started, sent = time.monotonic(), 0
    try:
        while data := a.recv(16384 if rate else 65536):
            b.sendall(data)
            if rate:
                sent += len(data)
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        a.close()
