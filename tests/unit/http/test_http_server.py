"""FileServer over real sockets on 127.0.0.1: files, content maps, the port range, logging, stop."""

from __future__ import annotations

import random
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from builder.common.http.server import FileServer, candidate_ports
from builder.errors import BuildError
from tests.unit.http.conftest import free_ports, held_ports


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "http"
    (root / "preseed").mkdir(parents=True)
    (root / "preseed" / "debian.cfg").write_text("d-i debian-installer/locale string en_US\n")
    (root / "ks.cfg").write_text("text\nreboot\n")
    (tmp_path / "secret.txt").write_text("outside the directory")
    return root


def test_serves_the_directory_tree(site: Path) -> None:
    first = free_ports(1)
    with FileServer(directory=str(site)) as server:
        host, port = server.start("127.0.0.1", first, first)
        assert (host, port) == ("127.0.0.1", first)
        assert get(port, "/ks.cfg") == (200, b"text\nreboot\n")
        assert get(port, "/preseed/debian.cfg")[1].startswith(b"d-i ")
        assert get(port, "/missing.cfg")[0] == 404
        status, listing = get(port, "/preseed/")
        assert status == 200 and b"debian.cfg" in listing
        # no way out of the directory
        assert get(port, "/../secret.txt")[0] == 404
        assert get(port, "/%2e%2e/secret.txt")[0] == 404


def test_serves_a_content_map(tmp_path: Path) -> None:
    first = free_ports(1)
    content = {"/user-data": "#cloud-config\n", "meta-data": "instance-id: x\n"}
    with FileServer(content=content) as server:
        _, port = server.start("127.0.0.1", first, first)
        assert get(port, "/user-data") == (200, b"#cloud-config\n")
        assert get(port, "/meta-data") == (200, b"instance-id: x\n")
        assert get(port, "/./meta-data?x=1") == (200, b"instance-id: x\n")
        status, body = get(port, "/vendor-data")
        assert status == 404 and b"/vendor-data not found." in body


def test_each_request_is_logged_through_the_callable(site: Path) -> None:
    lines: list[str] = []
    first = free_ports(1)
    with FileServer(directory=str(site), log=lines.append) as server:
        _, port = server.start("127.0.0.1", first, first)
        get(port, "/ks.cfg")
        get(port, "/nope")
    assert lines == [
        'HTTP server: 127.0.0.1 "GET /ks.cfg HTTP/1.1" 200',
        'HTTP server: 127.0.0.1 "GET /nope HTTP/1.1" 404',
    ]


def test_a_busy_port_is_skipped_for_a_free_one_in_the_range(site: Path) -> None:
    for _ in range(50):
        with held_ports(1) as busy:
            if not _free(busy + 1):
                continue  # its neighbour is taken by something else: another pair
            with FileServer(directory=str(site)) as server:
                # [busy, busy + 2): busy + 2 itself is never chosen (Packer 1.6.6's range)
                for seed in range(5):
                    server.stop()
                    _, port = server.start("127.0.0.1", busy, busy + 2, rng=random.Random(seed))
                    assert port == busy + 1
            return
    raise AssertionError("found no busy port with a free neighbour")


def test_no_free_port_in_the_range_names_the_range(site: Path) -> None:
    with held_ports(3) as first:
        server = FileServer(directory=str(site))
        with pytest.raises(BuildError) as err:
            server.start("127.0.0.1", first, first + 3)
        message = str(err.value)
        assert message.startswith("Error finding port: ")
        assert f"any port from {first} to {first + 2} of 127.0.0.1" in message
        assert "Address already in use" in message
        assert "http_port_min/http_port_max" in message
        with pytest.raises(BuildError, match=f"could not listen on port {first} of"):
            server.start("127.0.0.1", first, first)


def test_an_address_not_of_this_machine_is_a_clear_error(site: Path) -> None:
    with pytest.raises(BuildError, match=r"cannot listen on 192\.0\.2\.1: "):
        FileServer(directory=str(site)).start("192.0.2.1", 8000, 9000)


def test_stop_closes_the_socket_and_joins_the_thread(site: Path) -> None:
    first = free_ports(1)
    server = FileServer(directory=str(site))
    _, port = server.start("127.0.0.1", first, first)
    thread = server._thread
    assert thread is not None and thread.is_alive()
    assert get(port, "/ks.cfg")[0] == 200
    server.stop()
    assert not thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    server.stop()  # twice is fine


def test_candidate_ports_follow_packer_rules() -> None:
    assert candidate_ports(8000, 8000) == [8000]
    assert sorted(candidate_ports(8000, 8003)) == [8000, 8001, 8002]
    orders = {tuple(candidate_ports(8000, 9000, random.Random(seed))) for seed in range(3)}
    assert len(orders) == 3  # randomised
    assert all(sorted(o) == list(range(8000, 9000)) for o in orders)


def test_one_of_directory_or_content() -> None:
    with pytest.raises(ValueError):
        FileServer()
    with pytest.raises(ValueError):
        FileServer(directory="x", content={"a": "b"})


def _free(port: int) -> bool:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_a_client_that_resets_is_logged_not_printed(
    site: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import struct

    (site / "big.bin").write_bytes(b"x" * 8_000_000)
    lines: list[str] = []
    first = free_ports(1)
    with FileServer(directory=str(site), log=lines.append) as server:
        _, port = server.start("127.0.0.1", first, first)
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        client.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
        client.recv(1024)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # a reset mid-transfer
        assert get(port, "/ks.cfg")[0] == 200  # and the server still answers
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert all(line.startswith("HTTP server: ") for line in lines), lines
