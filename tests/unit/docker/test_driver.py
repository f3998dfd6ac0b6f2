"""The SDK driver without an engine: where it looked, and errors in our words."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from builder.docker.driver import DEFAULT_SOCKET, DockerSettings
from builder.docker.sdk import DockerSDKDriver
from builder.errors import DriverError


def endpoint_from_env() -> tuple[str, str]:
    settings = DockerSettings.from_env()
    return settings.host, settings.origin


def test_endpoint_says_where_it_comes_from(monkeypatch: pytest.MonkeyPatch) -> None:
    assert endpoint_from_env() == (
        DEFAULT_SOCKET,
        "the default socket; set DOCKER_HOST to use another",
    )
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    assert endpoint_from_env() == ("tcp://127.0.0.1:1", "from DOCKER_HOST")


def test_settings_are_resolved_once_and_recorded_without_surprises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from builder.common.drivers import public_settings

    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2376")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", "/certs")
    settings = DockerSettings.from_env()
    recorded = public_settings(settings)
    assert recorded == {
        "host": "tcp://127.0.0.1:2376",
        "origin": "from DOCKER_HOST",
        "tls_verify": True,
        "cert_path": "/certs",
    }
    monkeypatch.delenv("DOCKER_HOST")
    assert DockerSettings.from_record(recorded) == settings  # cleanup reaches the same engine
    assert DockerSettings.from_record({}) == DockerSettings.from_env()


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
