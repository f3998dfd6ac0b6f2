"""What pybuild asks of a Docker engine (`DockerDriver`), in our words, and how to reach it.

No SDK here: `builder.docker.sdk` implements the Protocol and is imported only when the
first driver is made (through `DOCKER`, the platform's one DriverFactory).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import IO, TYPE_CHECKING, Any, Protocol

from builder.common.drivers import DriverFactory
from builder.communicator.docker import ContainerState, ExecStream

if TYPE_CHECKING:
    from builder.docker.runargs import ContainerSpec
    from builder.multistep import CancelToken

__all__ = [
    "DEFAULT_SOCKET",
    "DOCKER",
    "ContainerInfo",
    "ContainerState",
    "DockerDriver",
    "DockerSettings",
    "ExecStream",
    "ImageInfo",
    "StatusHandler",
]

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
DEFAULT_ORIGIN = "the default socket; set DOCKER_HOST to use another"
StatusHandler = Callable[[str], None]


@dataclass(frozen=True)
class DockerSettings:
    """Which engine a build talks to, resolved once when it starts (cleanup reuses it)."""

    host: str = DEFAULT_SOCKET
    origin: str = DEFAULT_ORIGIN  # where `host` came from, for "cannot connect" messages
    tls_verify: bool = False
    cert_path: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DockerSettings:
        """DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), else the default socket."""
        env = os.environ if environ is None else environ
        host = env.get("DOCKER_HOST", "")
        verify = env.get("DOCKER_TLS_VERIFY")
        return cls(
            host=host or DEFAULT_SOCKET,
            origin="from DOCKER_HOST" if host else DEFAULT_ORIGIN,
            tls_verify=verify is not None and verify != "",
            cert_path=env.get("DOCKER_CERT_PATH", ""),
        )

    @classmethod
    def from_record(cls, recorded: Mapping[str, Any]) -> DockerSettings:
        """The settings a ledger recorded (unknown keys ignored; missing ones from the env)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in recorded.items() if k in known}
        if not values.get("host"):
            return cls.from_env()
        return cls(**values)


@dataclass(frozen=True)
class ContainerInfo:
    """A container as a listing shows it."""

    id: str
    name: str  # without the leading slash
    running: bool = False


@dataclass(frozen=True)
class ImageInfo:
    """An image as `inspect` shows it; `container` is what it was committed from, if said."""

    id: str
    tags: tuple[str, ...] = ()
    container: str = ""


class DockerDriver(Protocol):
    """The Docker operations a build, the docker post-processors and cleanup need."""

    @property
    def endpoint(self) -> str: ...

    # registry
    def login(self, server: str, username: str, password: str) -> None: ...
    def logout(self, server: str) -> None: ...
    def pull(
        self, image: str, platform: str, on_status: StatusHandler, cancel: CancelToken
    ) -> None: ...
    def push(self, name: str, on_status: StatusHandler, cancel: CancelToken) -> None: ...

    # containers
    def start_container(self, spec: ContainerSpec) -> str:
        """Create and start; a container that would not start is removed again."""
        ...

    def container_state(self, container_id: str) -> ContainerState: ...
    def container_logs(self, container_id: str, lines: int = 10) -> str: ...
    def list_containers(self, name_prefix: str) -> list[ContainerInfo]:
        """Every container (running or not) whose name starts with `name_prefix`."""
        ...

    def remove_container(self, container_id: str) -> bool:
        """Kill and remove (id or name); False when it was already gone."""
        ...

    def kill_container(self, container_id: str) -> None:
        """SIGKILL, and wait until it stopped."""
        ...

    def commit(
        self,
        container_id: str,
        changes: list[str],
        author: str,
        message: str,
        pause: bool = True,
    ) -> str: ...
    def export(self, container_id: str, dst: IO[bytes], cancel: CancelToken) -> int: ...

    # images
    def image_id(self, ref: str) -> str | None: ...
    def inspect_image(self, ref: str) -> ImageInfo | None: ...
    def images_since(self, since: float) -> list[ImageInfo]:
        """Top-level images created at or after `since` (epoch seconds), inspected."""
        ...

    def remove_image(self, ref: str, force: bool = False) -> bool:
        """Remove an image or one of its names; False when it was already gone."""
        ...

    def tag_image(self, image: str, repository: str, tag: str) -> None: ...
    def import_image(self, path: str, repository: str, tag: str, changes: list[str]) -> str: ...
    def save_image(self, image: str, dst: IO[bytes], cancel: CancelToken) -> int: ...

    # exec and archives (the docker communicator's ContainerAPI)
    def exec(
        self, container_id: str, argv: list[str], user: str, env: dict[str, str], tty: bool
    ) -> ExecStream: ...
    def put_archive(self, container_id: str, path: str, chunks: Iterable[bytes]) -> None: ...
    def get_archive(
        self, container_id: str, path: str
    ) -> tuple[Iterator[bytes], dict[str, Any]]: ...

    def close(self) -> None: ...


# The one way a driver is made: `DOCKER.open(settings)`; tests `DOCKER.override(...)`.
DOCKER = DriverFactory[DockerSettings, DockerDriver]("docker", "builder.docker.sdk:DockerSDKDriver")
