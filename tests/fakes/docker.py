"""FakeDockerDriver: a stateful fake of builder.docker.driver.DockerDriver, with injectable errors.

It is checked against the Protocol (`_as_driver` below, for mypy), and keeps what exists
(containers by id with their names, images by reference with the container each was
committed from) so tests can count what a build left behind.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from builder.docker.driver import ContainerInfo, ContainerState, DockerDriver, ImageInfo
from builder.docker.runargs import ContainerSpec
from builder.errors import DriverError
from builder.multistep import CancelToken

# (container, argv, user, env) -> (stdout, stderr, exit code)
ExecHandler = Callable[["FakeContainer", list[str], str, dict[str, str]], tuple[str, str, int]]


@dataclass
class FakeContainer:
    """A container: its spec, whether it runs, and a tiny file system (path -> bytes)."""

    id: str
    spec: ContainerSpec
    name: str = ""
    running: bool = True
    exit_code: int = 0
    user: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=lambda: {"/", "/tmp", "/etc", "/packer-files"})


class FakeExec:
    """One exec: replays output frames; `hang=True` blocks until killed or the container stops."""

    def __init__(
        self,
        driver: FakeDockerDriver,
        container: FakeContainer,
        frames: list[tuple[int, bytes]],
        code: int,
        hang: bool,
    ):
        self.driver, self.container, self.frames, self.code, self.hang = (
            driver,
            container,
            frames,
            code,
            hang,
        )
        self.stop = threading.Event()
        self.killed = False
        self.done = False

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        yield from self.frames
        if self.hang:
            while not self.stop.wait(0.02):
                if not self.container.running:
                    break
        self.done = True

    def close(self) -> None:
        self.stop.set()

    def exit_code(self) -> int | None:
        if not self.done:
            return None
        return 137 if (self.killed or not self.container.running) else self.code

    def kill(self) -> bool:
        self.killed = True
        self.driver.killed_execs += 1
        self.stop.set()
        return True


class FakeDockerDriver:
    """Images, containers, execs and registries in dicts; `fail[op]` makes an operation raise."""

    endpoint = "unix:///fake/docker.sock"

    def __init__(self, images: Iterable[str] = ("pybuild-test/debian:bookworm",)):
        self.images: dict[str, str] = {ref: f"sha256:{i:064x}" for i, ref in enumerate(images, 1)}
        self.image_configs: dict[str, dict[str, Any]] = {}
        self.image_sources: dict[str, str] = {}  # image id -> container committed from
        self.image_times: dict[str, float] = {}  # image id -> when it was made
        self.containers: dict[str, FakeContainer] = {}
        self.removed_containers: list[str] = []
        self.removed_images: list[str] = []
        self.calls: list[str] = []
        self.fail: dict[str, BaseException] = {}
        self.exec_handler: ExecHandler | None = None
        self.hang_on: str = ""  # an exec whose command contains this blocks
        self.execs: list[tuple[str, list[str], str, dict[str, str]]] = []
        self.killed_execs = 0
        self.logged_in: dict[str, tuple[str, str]] = {}
        self.pushed: list[str] = []
        self.commits: list[tuple[str, bool, bool]] = []  # (container, pause, was running)
        self.registry: dict[str, str] = {}
        self.export_data = b"exported-tarball"
        self.closed = False
        self.opened: list[Any] = []  # the settings of every driver made through DOCKER
        self.closes = 0
        self._n = 0

    # ------------------------------------------------------------------ helpers
    def _op(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise self.fail[name]

    def _new_id(self) -> str:
        self._n += 1
        return f"{self._n:064x}"

    def _container(self, cid: str) -> FakeContainer:
        c = self.containers.get(cid)
        if c is None:
            raise DriverError(f"No such container: {cid}")
        return c

    def running(self) -> list[str]:
        return [c.id for c in self.containers.values()]

    def committed(self) -> list[str]:
        """Ids of the committed images that still exist."""
        ids = set(self.images.values())
        return [i for i in self.image_sources if i in ids]

    def _add_image(self, ref: str, image: str, source: str = "") -> None:
        self.images[ref] = image
        self.image_times.setdefault(image, time.time())
        if source:
            self.image_sources[image] = source

    # ------------------------------------------------------------------ registry
    def login(self, server: str, username: str, password: str) -> None:
        self._op("login")
        self.logged_in[server] = (username, password)

    def logout(self, server: str) -> None:
        self._op("logout")
        self.logged_in.pop(server, None)

    def pull(
        self, image: str, platform: str, on_status: Callable[[str], None], cancel: CancelToken
    ) -> None:
        self._op("pull")
        on_status(f"Pulling from {image}")
        self.images.setdefault(image, f"sha256:{len(self.images) + 100:064x}")

    def push(self, name: str, on_status: Callable[[str], None], cancel: CancelToken) -> None:
        self._op("push")
        if name not in self.images:
            raise DriverError(f"push {name}: An image does not exist locally with the tag: {name}")
        on_status(f"The push refers to repository [{name}]")
        self.pushed.append(name)

    # ------------------------------------------------------------------ containers
    def start_container(self, spec: ContainerSpec) -> str:
        self._op("start_container")
        if spec.run.image not in self.images:
            raise DriverError(
                f"create a container from {spec.run.image}: No such image: {spec.run.image}"
            )
        if spec.run.name and any(c.name == spec.run.name for c in self.containers.values()):
            raise DriverError(f"Conflict. The container name {spec.run.name!r} is already in use")
        cid = self._new_id()
        self.containers[cid] = FakeContainer(
            cid, spec, name=spec.run.name, running=spec.run.interactive
        )
        return cid

    def container_state(self, container_id: str) -> ContainerState:
        self._op("container_state")
        c = self._container(container_id)
        return ContainerState(c.running, c.exit_code, False, "", c.user, "172.17.0.9")

    def container_logs(self, container_id: str, lines: int = 10) -> str:
        return "sh: exited"

    def list_containers(self, name_prefix: str) -> list[ContainerInfo]:
        self._op("list_containers")
        return [
            ContainerInfo(c.id, c.name, c.running)
            for c in self.containers.values()
            if c.name.startswith(name_prefix)
        ]

    def remove_container(self, container_id: str) -> bool:
        self._op("remove_container")
        by_name = [c.id for c in self.containers.values() if c.name and c.name == container_id]
        cid = by_name[0] if by_name else container_id
        if self.containers.pop(cid, None) is None:
            return False
        self.removed_containers.append(cid)
        return True

    def stop_container(self, container_id: str, exit_code: int = 137) -> None:
        """What `docker kill` from outside does (for tests)."""
        c = self._container(container_id)
        c.running, c.exit_code = False, exit_code

    def kill_container(self, container_id: str) -> None:
        self._op("kill_container")
        c = self._container(container_id)
        if c.running:
            c.running, c.exit_code = False, 137

    def commit(
        self,
        container_id: str,
        changes: list[str],
        author: str,
        message: str,
        pause: bool = True,
    ) -> str:
        self._op("commit")
        c = self._container(container_id)
        image = f"sha256:{self._new_id()}"
        self._add_image(image, image, source=container_id)
        self.image_configs[image] = {"changes": list(changes), "author": author, "message": message}
        self.commits.append((container_id, pause, c.running))
        return image

    def export(self, container_id: str, dst: IO[bytes], cancel: CancelToken) -> int:
        self._op("export")
        self._container(container_id)
        dst.write(self.export_data)
        return len(self.export_data)

    # ------------------------------------------------------------------ images
    def image_id(self, ref: str) -> str | None:
        return self.images.get(ref)

    def inspect_image(self, ref: str) -> ImageInfo | None:
        image = self.images.get(ref)
        if image is None:
            return None
        tags = tuple(
            r for r, i in self.images.items() if i == image and not r.startswith("sha256:")
        )
        return ImageInfo(image, tags, self.image_sources.get(image, ""))

    def images_since(self, since: float) -> list[ImageInfo]:
        self._op("images_since")
        ids = dict.fromkeys(self.images.values())
        found = [self.inspect_image(i) for i in ids if self.image_times.get(i, 0.0) >= since]
        return [i for i in found if i is not None]

    def remove_image(self, ref: str, force: bool = False) -> bool:
        """As the engine: a name of an image with other names untags; else the image goes."""
        self._op("remove_image")
        image = self.images.get(ref)
        if image is None:
            return False
        names = [r for r, i in self.images.items() if i == image and r != image]
        if ref != image and len(names) > 1:
            del self.images[ref]
        else:
            for r in [r for r, i in self.images.items() if i == image]:
                del self.images[r]
        self.removed_images.append(ref)
        return True

    def tag_image(self, image: str, repository: str, tag: str) -> None:
        self._op("tag_image")
        if image not in self.images:
            raise DriverError(f"No such image: {image}")
        self._add_image(f"{repository}:{tag or 'latest'}", self.images[image])
        if not tag:
            self._add_image(repository, self.images[image])

    def import_image(self, path: str, repository: str, tag: str, changes: list[str]) -> str:
        self._op("import_image")
        with open(path, "rb") as f:
            f.read()
        image = f"sha256:{self._new_id()}"
        self._add_image(f"{repository}:{tag}" if tag else repository, image)
        self.image_configs[image] = {"changes": list(changes)}
        return image

    def save_image(self, image: str, dst: IO[bytes], cancel: CancelToken) -> int:
        self._op("save_image")
        if image not in self.images:
            raise DriverError(f"save image {image}: No such image")
        dst.write(b"saved:" + image.encode())
        return 6 + len(image)

    # ------------------------------------------------------------------ exec and archives
    def exec(
        self, container_id: str, argv: list[str], user: str, env: dict[str, str], tty: bool
    ) -> FakeExec:
        self._op("exec")
        c = self._container(container_id)
        if not c.running:
            raise DriverError(
                f"start a command in the container: Container {container_id} is not running"
            )
        self.execs.append((container_id, list(argv), user, dict(env)))
        out, err, code = ("", "", 0)
        if self.exec_handler is not None:
            out, err, code = self.exec_handler(c, argv, user, env)
        frames = [(1, out.encode())] if out else []
        if err:
            frames.append((2, err.encode()))
        hang = bool(self.hang_on) and self.hang_on in " ".join(argv)
        return FakeExec(self, c, frames, code, hang)

    def put_archive(self, container_id: str, path: str, chunks: Iterable[bytes]) -> None:
        self._op("put_archive")
        c = self._container(container_id)
        data = b"".join(chunks)
        if path not in c.dirs:
            raise DriverError(
                f"copy into the container at {path}: Could not find the file {path} in container {container_id}"
            )
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for m in tar:
                full = posixpath.normpath(posixpath.join(path, m.name))
                if m.isdir():
                    c.dirs.add(full)
                elif m.isfile():
                    f = tar.extractfile(m)
                    c.files[full] = f.read() if f else b""
                    c.modes[full] = m.mode

    def get_archive(self, container_id: str, path: str) -> tuple[Iterator[bytes], dict[str, Any]]:
        self._op("get_archive")
        c = self._container(container_id)
        path = posixpath.normpath(path)
        buf = io.BytesIO()
        base = posixpath.basename(path)
        with tarfile.open(fileobj=buf, mode="w") as tar:
            if path in c.files:
                _add(tar, base, c.files[path])
                size = len(c.files[path])
            elif path in c.dirs:
                tar.addfile(_dir(base))
                for d in sorted(x for x in c.dirs if x.startswith(path + "/")):
                    tar.addfile(_dir(base + d[len(path) :]))
                for f, data in sorted(c.files.items()):
                    if f.startswith(path + "/"):
                        _add(tar, base + f[len(path) :], data)
                size = 4096
            else:
                raise DriverError(
                    f"copy {path} out of the container: Could not find the file {path}"
                )
        raw = buf.getvalue()
        return iter([raw[i : i + 700] for i in range(0, len(raw), 700)]), {
            "name": base,
            "size": size,
        }

    def open(self, settings: Any) -> FakeDockerDriver:
        """The factory tests give `DOCKER.override`: every driver made is this fake."""
        self.opened.append(settings)
        return self

    def close(self) -> None:
        self.closed = True
        self.closes += 1


def _as_driver(fake: FakeDockerDriver) -> DockerDriver:
    """For mypy: the fake has every method of the Protocol, with the same signatures."""
    return fake


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info
