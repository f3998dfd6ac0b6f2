"""A threaded stdlib HTTP server on a free port of a range, serving a directory or a map.

Each request is logged through a callable (the build's `ui.message`); nothing is printed.
"""

from __future__ import annotations

import errno
import functools
import posixpath
import random
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from builder.errors import BuildError

Log = Callable[[str], None]

# Errors that mean "this port, not this address": try the next port.
_PORT_ERRORS = frozenset({errno.EADDRINUSE, errno.EACCES})


def candidate_ports(port_min: int, port_max: int, rng: random.Random | None = None) -> list[int]:
    """Every port to try, in random order: `port_min` up to, not including, `port_max`.

    Packer 1.6.6 picks `min + rand(max - min)`, so `max` itself is never chosen unless
    the two are equal.
    """
    if port_max <= port_min:
        return [port_min]
    ports = list(range(port_min, port_max))
    (rng or random).shuffle(ports)
    return ports


class _Server(ThreadingHTTPServer):
    """One thread per request (daemon threads: a stuck client cannot hold up `stop`)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Callable[..., Any], log: Log) -> None:
        self.log = log
        super().__init__(address, handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS look-up of the address (getfqdn)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken connection is a line in the log, never a traceback on stderr."""
        exc = sys.exc_info()[1]
        self.log(f"HTTP server: error serving {client_address[0]}: {exc}")


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Logged(BaseHTTPRequestHandler):
    """Logs one line per request through the server's `log`; stderr stays quiet."""

    server: _Server

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = code.value if isinstance(code, HTTPStatus) else code
        self.server.log(f'HTTP server: {self.client_address[0]} "{self.requestline}" {status}')

    def log_message(self, format: str, *args: Any) -> None:
        """Errors are reported with their request line by `log_request`."""


class _DirectoryHandler(_Logged, SimpleHTTPRequestHandler):
    """Files under the directory, with listings and index.html (as Go's http.FileServer)."""


class _ContentHandler(_Logged):
    """Paths mapped to their contents (Packer 1.7.1's http_content); others are 404."""

    def __init__(self, *args: Any, content: Mapping[str, str], **kwargs: Any) -> None:
        self.content = content  # before the base class handles the request
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        path = _clean(self.path.split("?", 1)[0].split("#", 1)[0])
        found = self.content.get(path)
        if found is None:
            self.send_error(HTTPStatus.NOT_FOUND, f"{path} not found.")
            return
        data = found.encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)


def _clean(path: str) -> str:
    """`/a/./b/../c` -> `/a/c`, always absolute (Go's path.Clean of a URL path)."""
    return posixpath.normpath("/" + path.lstrip("/"))


class FileServer:
    """Serves `directory` (or the `content` map) from a thread; `start()`, then `stop()`.

    `log` receives one line per request: client address, request line, status.
    """

    def __init__(
        self,
        *,
        directory: str = "",
        content: Mapping[str, str] | None = None,
        log: Log | None = None,
    ) -> None:
        if bool(directory) == bool(content):
            raise ValueError("FileServer serves a directory or a content map, one of the two")
        self.directory, self.content = directory, dict(content or {})
        self._log: Log = log or (lambda text: None)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port (only after `start()`)."""
        if self._server is None:
            raise RuntimeError("the HTTP server is not started")
        return self._server.server_name, self._server.server_port

    def start(
        self, bind_address: str, port_min: int, port_max: int, *, rng: random.Random | None = None
    ) -> tuple[str, int]:
        """Listen on a free port of the range and serve in a thread; the (host, port) bound."""
        if self._server is not None:
            return self.address
        server = self._listen(bind_address, candidate_ports(port_min, port_max, rng), port_max)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"http-server-{server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self.address

    def stop(self) -> None:
        """Stop serving, close the socket and join the thread; safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        if thread is not None and thread.is_alive():
            server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=10)

    def __enter__(self) -> FileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals
    def _handler(self) -> Callable[..., BaseHTTPRequestHandler]:
        if self.content:
            content = {_clean(key): value for key, value in self.content.items()}
            return functools.partial(_ContentHandler, content=content)
        return functools.partial(_DirectoryHandler, directory=self.directory)

    def _listen(self, bind_address: str, ports: list[int], port_max: int) -> _Server:
        family = _family(bind_address)
        kind = _Server6 if family == socket.AF_INET6 else _Server
        handler = self._handler()
        last: OSError | None = None
        for port in ports:
            try:
                return kind((bind_address, port), handler, self._log)
            except OSError as exc:
                if exc.errno not in _PORT_ERRORS:
                    raise BuildError(
                        f"Error finding port: cannot listen on {bind_address}: "
                        f"{exc.strerror or exc}"
                    ) from exc
                last = exc
        low, high = min(ports), max(ports)
        span = f"port {low}" if low == high else f"any port from {low} to {high}"
        reason = last.strerror if last is not None and last.strerror else str(last)
        raise BuildError(
            f"Error finding port: could not listen on {span} of {bind_address} ({reason}); "
            f"widen http_port_min/http_port_max ({low}/{port_max}) or free a port"
        )


def _family(bind_address: str) -> socket.AddressFamily:
    """IPv6 for an IPv6 literal or a name that only resolves to one; IPv4 otherwise."""
    if ":" in bind_address:
        return socket.AF_INET6
    try:
        infos = socket.getaddrinfo(bind_address, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise BuildError(f"Error finding port: cannot resolve {bind_address}: {exc}") from exc
    families = {info[0] for info in infos}
    return socket.AF_INET if socket.AF_INET in families or not families else socket.AF_INET6
