"""Opening one SSH connection: TCP (direct, SOCKS5 or through a bastion), handshake, auth.

Only ssh.py imports this module, and only when a build connects: paramiko is imported
here at module level, so `pybuild validate` never pays for it.
"""

from __future__ import annotations

import io
import os
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

import paramiko

from builder.communicator.sshsettings import Hop, Proxy
from builder.logs import logger

log = logger("pybuild.ssh")

# Flow control. Measured on loopback (200 MB download): a 2 MiB window 0.55-0.7 s, a 16 MiB
# window 1.8-3.3 s (paramiko's receive buffer is a bytearray consumed from the front, so a
# deep buffer costs copies). Packets stay at 32 KiB, the size OpenSSH uses (paramiko
# reassembles larger packets with quadratic copies).
WINDOW_SIZE = 2 * 1024 * 1024
MAX_PACKET = 32 * 1024
# AES-GCM authenticates while it encrypts: one OpenSSL call per packet instead of two,
# measured ~25% faster for bulk transfers than paramiko's default aes128-ctr + HMAC.
FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


class DialError(Exception):
    """The TCP connection or the SSH handshake failed; `reason` is short and human."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class AuthFailed(DialError):
    """The server refused every credential offered."""


@dataclass
class Connection:
    """One authenticated transport, plus the bastion transport it runs through."""

    transport: paramiko.Transport
    bastion: paramiko.Transport | None = None

    @property
    def active(self) -> bool:
        return self.transport.is_active() and (self.bastion is None or self.bastion.is_active())

    def close(self) -> None:
        for t in (self.transport, self.bastion):
            if t is not None:
                try:
                    t.close()
                except Exception:  # noqa: BLE001 - closing a dead transport may complain
                    pass


@dataclass
class DialOptions:
    """Connection-wide settings shared by the target and the bastion."""

    ciphers: list[str] = field(default_factory=list)
    kex: list[str] = field(default_factory=list)
    keep_alive: float = 5.0


class Pending:
    """The transports a dial in progress has opened, so that another thread can end it.

    paramiko's banner, handshake and auth waits only end on their timeout or when the
    transport closes: a watchdog calls `close()` when the build is cancelled.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[paramiko.Transport] = []
        self.closed = False

    def add(self, transport: paramiko.Transport) -> None:
        with self._lock:
            self._open.append(transport)
            if self.closed:
                raise DialError("cancelled")

    def close(self) -> None:
        with self._lock:
            self.closed = True
            opened = list(self._open)
        for t in opened:
            try:
                t.close()
            except Exception:  # noqa: BLE001 - closing a half-open transport may complain
                pass


def dial(
    target: Hop,
    timeout: float,
    opts: DialOptions,
    bastion: Hop | None = None,
    proxy: Proxy | None = None,
    pending: Pending | None = None,
) -> Connection:
    """Connect and authenticate once; raise DialError/AuthFailed with the reason."""
    pending = pending or Pending()
    if bastion is not None:
        sock = _tcp(bastion.host, bastion.port, timeout, proxy)
        outer = _open(bastion, sock, timeout, opts, pending)
        try:
            chan = outer.open_channel(
                "direct-tcpip", (target.host, target.port), ("127.0.0.1", 0), timeout=timeout
            )
        except paramiko.ChannelException as exc:
            outer.close()
            raise DialError(
                f"bastion {bastion.address} could not open a tunnel to {target.address}: "
                f"{exc.text or exc}"
            ) from exc
        except (paramiko.SSHException, EOFError, OSError) as exc:
            outer.close()
            raise DialError(f"bastion {bastion.address}: {exc or type(exc).__name__}") from exc
        try:
            return Connection(_open(target, chan, timeout, opts, pending), outer)
        except BaseException:
            outer.close()
            raise
    sock = _tcp(target.host, target.port, timeout, proxy)
    return Connection(_open(target, sock, timeout, opts, pending))


def _tcp(host: str, port: int, timeout: float, proxy: Proxy | None) -> socket.socket:
    """A connected TCP socket with TCP_NODELAY and keep-alive probes set."""
    where = (proxy.host, proxy.port) if proxy else (host, port)
    try:
        sock = socket.create_connection(where, timeout=max(timeout, 0.1))
    except ConnectionRefusedError as exc:
        raise DialError(f"connection refused{' by the SOCKS proxy' if proxy else ''}") from exc
    except TimeoutError as exc:
        raise DialError("TCP connection timed out") from exc
    except socket.gaierror as exc:
        raise DialError(f"cannot resolve {where[0]}: {exc.strerror}") from exc
    except OSError as exc:
        raise DialError(exc.strerror or str(exc)) from exc
    # paramiko never sets TCP_NODELAY: without it small requests wait for delayed ACKs
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    # a peer that vanished (powered off, network gone) is noticed in about a minute, not
    # after the kernel's 15 minutes of retransmissions: probes when idle, and a limit on
    # unacknowledged data when busy (paramiko's keep-alives keep it busy)
    for opt, value in (
        ("TCP_KEEPIDLE", 15),
        ("TCP_KEEPINTVL", 5),
        ("TCP_KEEPCNT", 4),
        ("TCP_USER_TIMEOUT", 60_000),
    ):
        if hasattr(socket, opt):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, opt), value)
    if proxy is not None:
        try:
            socks5_connect(sock, host, port, proxy.username, proxy.password)
        except BaseException:
            sock.close()
            raise
    return sock


def socks5_connect(sock: socket.socket, host: str, port: int, user: str, password: str) -> None:
    """Ask a SOCKS5 proxy to CONNECT to host:port (the proxy resolves the name)."""
    methods = b"\x00\x02" if user else b"\x00"
    try:
        sock.sendall(b"\x05" + bytes([len(methods)]) + methods)
        ver, method = _recv_exact(sock, 2)
        if ver != 5 or method == 0xFF:
            raise DialError("SOCKS proxy accepts none of our authentication methods")
        if method == 2:
            u, p = user.encode(), password.encode()
            sock.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
            if _recv_exact(sock, 2)[1] != 0:
                raise DialError("SOCKS proxy rejected the username/password")
        name = host.encode("idna")
        sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
        head = _recv_exact(sock, 4)
        if head[1] != 0:
            raise DialError(
                f"SOCKS proxy could not connect to {host}:{port}: {_SOCKS.get(head[1], head[1])}"
            )
        skip = {1: 4, 4: 16}.get(head[3])
        if skip is None:
            skip = _recv_exact(sock, 1)[0]
        _recv_exact(sock, skip + 2)
    except (TimeoutError, OSError) as exc:
        raise DialError(f"SOCKS proxy: {exc.strerror or exc or 'timed out'}") from exc


_SOCKS = {
    1: "general failure",
    2: "not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
}


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise DialError("SOCKS proxy closed the connection")
        data += chunk
    return data


def _open(
    hop: Hop, sock: Any, timeout: float, opts: DialOptions, pending: Pending
) -> paramiko.Transport:
    """Handshake and authenticate over an open socket or channel."""
    transport = paramiko.Transport(
        sock, default_window_size=WINDOW_SIZE, default_max_packet_size=MAX_PACKET
    )
    try:
        pending.add(transport)
        _prefer(transport, opts)
        transport.banner_timeout = transport.handshake_timeout = transport.auth_timeout = max(
            timeout, 1.0
        )
        try:
            transport.start_client(timeout=max(timeout, 1.0))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise DialError(f"SSH handshake with {hop.address} failed: {_why(exc)}") from exc
        key = transport.get_remote_server_key()
        # Packer's policy: any host key is accepted; it is logged, never written anywhere.
        log.info("host key of %s: %s %s (accepted)", hop.address, key.get_name(), key.fingerprint)
        _authenticate(transport, hop)
        if opts.keep_alive > 0:
            transport.set_keepalive(max(1, int(opts.keep_alive)))
        return transport
    except BaseException:
        transport.close()
        sock.close()  # a transport that never started leaves its socket open
        raise


def _why(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, EOFError) or not text:
        return "the server closed the connection"
    return text


def _prefer(transport: paramiko.Transport, opts: DialOptions) -> None:
    sec = transport.get_security_options()
    if opts.ciphers:
        sec.ciphers = tuple(c for c in opts.ciphers if c in sec.ciphers) or tuple(opts.ciphers)
    else:
        sec.ciphers = tuple(c for c in FAST_CIPHERS if c in sec.ciphers) + tuple(
            c for c in sec.ciphers if c not in FAST_CIPHERS
        )
    if opts.kex:
        sec.kex = tuple(k for k in opts.kex if k in sec.kex) or tuple(opts.kex)


def _authenticate(transport: paramiko.Transport, hop: Hop) -> None:
    """Offer the hop's credentials; raise AuthFailed naming what was tried."""
    tried: list[str] = []
    last: BaseException | None = None
    agent = paramiko.Agent() if hop.agent_auth else None
    try:
        for label, attempt in _methods(hop, agent):
            tried.append(label)
            try:
                attempt(transport)
            except paramiko.AuthenticationException as exc:  # incl. BadAuthenticationType
                last = exc
                continue
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise DialError(
                    f"{hop.address} closed the connection during authentication: {_why(exc)}"
                ) from exc
            if transport.is_authenticated():
                return
    finally:
        if agent is not None:
            agent.close()
    detail = f" ({last})" if last else ""
    raise AuthFailed(
        f"ssh: unable to authenticate as {hop.username!r} on {hop.address}, "
        f"attempted methods [{', '.join(tried) or 'none'}]{detail}"
    )


def _methods(hop: Hop, agent: paramiko.Agent | None) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if hop.key_file or hop.key_text:
        key = load_key(hop.key_file, hop.key_text, hop.certificate_file)
        out.append(("publickey", lambda t: t.auth_publickey(hop.username, key)))
    if agent is not None:
        keys = agent.get_keys()
        if not keys:
            raise AuthFailed(
                "ssh_agent_auth is set but the SSH agent (SSH_AUTH_SOCK) holds no keys"
            )
        for akey in keys:
            out.append(
                (f"agent:{akey.get_name()}", lambda t, k=akey: t.auth_publickey(hop.username, k))
            )
    if hop.password:
        out.append(("password", lambda t: t.auth_password(hop.username, hop.password)))
    return out


def load_key(path: str, text: str = "", certificate: str = "") -> paramiko.PKey:
    """Read an RSA/ECDSA/Ed25519 private key (OpenSSH or PEM) from a file or from text."""
    try:
        if path:
            key = _key_from_file(os.path.expanduser(path))
        else:
            key = _key_from_text(text)
    except (paramiko.SSHException, OSError, ValueError) as exc:
        raise AuthFailed(f"cannot load private key {path or '(generated)'}: {exc}") from exc
    if certificate:
        key.load_certificate(os.path.expanduser(certificate))
    return key


def _key_from_file(path: str) -> paramiko.PKey:
    """paramiko's reader, then PKCS#8 (`BEGIN PRIVATE KEY`), which Packer reads and it does not."""
    try:
        return paramiko.PKey.from_path(path)
    except paramiko.SSHException:
        with open(path, "rb") as fh:
            data = fh.read(1 << 20)
        if b"-----BEGIN PRIVATE KEY-----" not in data:
            raise
    from cryptography.hazmat.primitives import serialization

    # re-encoded in OpenSSH's own format, which paramiko reads for every key type
    key = serialization.load_pem_private_key(data, password=None)
    text = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode("ascii")
    return _key_from_text(text)


def _key_from_text(text: str) -> paramiko.PKey:
    last: Exception | None = None
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError) as exc:
            last = exc
    raise paramiko.SSHException(f"not an RSA, ECDSA or Ed25519 private key ({last})")
