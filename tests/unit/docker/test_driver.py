"""The SDK driver without an engine: where it looked, and errors in our words."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from builder.docker.driver import DEFAULT_SOCKET, DockerSDKDriver, endpoint_from_env
from builder.errors import DriverError


def test_endpoint_says_where_it_comes_from(monkeypatch: pytest.MonkeyPatch) -> None:
    assert endpoint_from_env() == (
        DEFAULT_SOCKET,
        "the default socket; set DOCKER_HOST to use another",
    )
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    assert endpoint_from_env() == ("tcp://127.0.0.1:1", "from DOCKER_HOST")


def test_dead_socket_is_a_driver_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = tmp_path / "docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    with pytest.raises(DriverError) as err:
        DockerSDKDriver()
    assert str(err.value) == (
        f"Cannot connect to the Docker daemon at unix://{sock} (from DOCKER_HOST). "
        "Is the docker daemon running?"
    )


def test_refused_tcp_port(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    with pytest.raises(DriverError, match="Cannot connect to the Docker daemon at tcp://127.0.0.1"):
        DockerSDKDriver()


def test_default_socket_when_docker_host_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder.docker import driver

    dead = f"unix://{tmp_path / 'docker.sock'}"
    monkeypatch.setattr(driver, "DEFAULT_SOCKET", dead)
    with pytest.raises(DriverError) as err:
        DockerSDKDriver()
    assert str(err.value) == (
        f"Cannot connect to the Docker daemon at {dead} (the default socket; set DOCKER_HOST "
        "to use another). Is the docker daemon running?"
    )
