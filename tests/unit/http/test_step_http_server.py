"""StepHTTPServer in a BuildRun: run fields, build data, logging through the ui, cleanup."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from builder.common.http import StepHTTPServer
from builder.events import Message, Say
from builder.multistep import Step
from builder.testing import RecordingSink
from tests.unit.http.conftest import HTTPTestRun, free_ports, make_run


def qemu_user_net(ctx: HTTPTestRun) -> str:
    return "10.0.2.2"


def test_serves_http_directory_and_fills_the_run(tmp_path: Path) -> None:
    (tmp_path / "ks.cfg").write_text("text\n")
    first = free_ports(4)
    sink = RecordingSink()
    ctx = make_run(sink, http_directory=str(tmp_path), http_port_min=first, http_port_max=first + 4)
    step = StepHTTPServer(guest_ip=qemu_user_net)
    steps: list[Step[HTTPTestRun]] = [step]  # the step fits a platform's step list (mypy)
    steps[0].run(ctx)
    try:
        assert ctx.http_ip == "10.0.2.2"
        assert first <= ctx.http_port < first + 4
        assert sink.texts(Say) == [f"Starting HTTP server on port {ctx.http_port}"]
        url = f"http://127.0.0.1:{ctx.http_port}/ks.cfg"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.read() == b"text\n"
        assert sink.texts(Message) == ['HTTP server: 127.0.0.1 "GET /ks.cfg HTTP/1.1" 200']
        data = ctx.build_data()
        assert data["PackerHTTPIP"] == "10.0.2.2"
        assert data["PackerHTTPPort"] == str(ctx.http_port)
        assert data["PackerHTTPAddr"] == f"10.0.2.2:{ctx.http_port}"
    finally:
        step.cleanup(ctx)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", ctx.http_port), timeout=5).close()
    step.cleanup(ctx)  # twice is fine


def test_without_http_directory_no_server_and_port_zero() -> None:
    sink = RecordingSink()
    ctx = make_run(sink)
    step = StepHTTPServer(guest_ip=qemu_user_net)
    step.run(ctx)
    assert (ctx.http_ip, ctx.http_port) == ("10.0.2.2", 0)
    assert sink.events == []
    data = ctx.build_data()
    # Packer 1.6.6's qemu: http_ip is always set, http_port is 0
    assert (data["PackerHTTPIP"], data["PackerHTTPPort"], data["PackerHTTPAddr"]) == (
        "10.0.2.2",
        "0",
        "10.0.2.2:0",
    )
    step.cleanup(ctx)


def test_no_free_port_fails_the_step(tmp_path: Path) -> None:
    from builder.errors import BuildError
    from tests.unit.http.conftest import held_ports

    with held_ports(1) as busy:
        ctx = make_run(
            RecordingSink(), http_directory=str(tmp_path), http_port_min=busy, http_port_max=busy
        )
        step = StepHTTPServer(guest_ip=qemu_user_net)
        with pytest.raises(
            BuildError, match=f"Error finding port: could not listen on port {busy}"
        ):
            step.run(ctx)
        step.cleanup(ctx)
