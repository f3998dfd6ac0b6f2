"""`DockerSDKDriver`: the `DockerDriver` Protocol over the Docker SDK for Python.

This is the only module that imports the `docker` SDK, and only when a driver is made
(`builder.docker.driver.DOCKER` names it). Every SDK or HTTP exception stops here and
becomes a DriverError naming the operation.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

from builder.communicator.docker import ContainerState, ExecStream
from builder.docker.driver import ContainerInfo, DockerSettings, ImageInfo, StatusHandler
from builder.docker.runargs import ContainerSpec, RunArgsError, create_kwargs
from builder.errors import BuildCancelled, DriverError

if TYPE_CHECKING:
    from builder.multistep import CancelToken

KILL_TIMEOUT = 60.0
# Engine API version per endpoint, asked once per process: every build and docker
# post-processor makes its own driver, and each would otherwise ask again (GET /version).
_API_VERSIONS: dict[str, str] = {}
_API_VERSIONS_LOCK = threading.Lock()


class DockerSDKDriver:
    """`DockerDriver` over the Docker SDK for Python (the Engine API; no docker CLI)."""

    def __init__(self, settings: DockerSettings | None = None, timeout: float = 300.0):
        import docker  # noqa: F401 - the one place the SDK is imported
        from docker.utils import kwargs_from_env

        settings = settings or DockerSettings.from_env()
        self.settings = settings
        self.endpoint, self._origin = settings.host, settings.origin
        env = {"DOCKER_HOST": settings.host}
        if settings.tls_verify:
            env["DOCKER_TLS_VERIFY"] = "1"
        if settings.cert_path:
            env["DOCKER_CERT_PATH"] = settings.cert_path
        kwargs = kwargs_from_env(environment=env)
        with self._errors("connect"), _API_VERSIONS_LOCK:  # parallel builds: one asks
            known = _API_VERSIONS.get(kwargs["base_url"])
            self.api = docker.APIClient(timeout=timeout, version=known, **kwargs)
            _API_VERSIONS[kwargs["base_url"]] = self.api.api_version
            # long transfers and exec streams must not hit a read timeout
            self.stream_api = docker.APIClient(timeout=None, version=self.api.api_version, **kwargs)
        self._auth: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------------ errors
    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        """SDK and HTTP exceptions become DriverError naming the operation."""
        import docker.errors
        import requests.exceptions

        try:
            yield
        except (BuildCancelled, DriverError):
            raise
        except docker.errors.APIError as exc:
            text = exc.explanation or str(exc)
            if isinstance(text, bytes):
                text = text.decode(errors="replace")
            raise DriverError(f"{operation}: {text}") from exc
        except (requests.exceptions.ConnectionError, docker.errors.DockerException) as exc:
            if _refused(exc):
                raise DriverError(
                    f"Cannot connect to the Docker daemon at {self.endpoint} ({self._origin}). "
                    "Is the docker daemon running?"
                ) from exc
            raise DriverError(f"{operation}: {exc}") from exc
        except requests.exceptions.RequestException as exc:
            raise DriverError(f"{operation}: {exc}") from exc

    # ------------------------------------------------------------------ registry
    def login(self, server: str, username: str, password: str) -> None:
        with self._errors(f"login to {server or 'Docker Hub'}"):
            self.api.login(username, password, registry=server or None, reauth=True)
        self._auth[server] = {"username": username, "password": password}

    def logout(self, server: str) -> None:
        self._auth.pop(server, None)

    def _auth_for(self, name: str) -> dict[str, str] | None:
        from docker.auth import resolve_repository_name

        registry, _ = resolve_repository_name(name)
        for server, creds in self._auth.items():
            host = server.split("://", 1)[-1].rstrip("/")
            if host == registry or (not server and registry in ("docker.io", "index.docker.io")):
                return creds
        return None

    def pull(
        self, image: str, platform: str, on_status: StatusHandler, cancel: CancelToken
    ) -> None:
        from docker.utils import parse_repository_tag

        repo, tag = parse_repository_tag(image)
        with self._errors(f"pull {image}"):
            stream = self.stream_api.pull(
                repo,
                tag or "latest",
                stream=True,
                decode=True,
                platform=platform or None,
                auth_config=self._auth_for(image),
            )
            _follow(stream, on_status, cancel)

    def push(self, name: str, on_status: StatusHandler, cancel: CancelToken) -> None:
        from docker.utils import parse_repository_tag

        repo, tag = parse_repository_tag(name)
        with self._errors(f"push {name}"):
            stream = self.stream_api.push(
                repo, tag or None, stream=True, decode=True, auth_config=self._auth_for(name)
            )
            _follow(stream, on_status, cancel)

    # ------------------------------------------------------------------ containers
    def start_container(self, spec: ContainerSpec) -> str:
        try:
            kwargs, host = create_kwargs(spec)
        except RunArgsError as exc:
            raise DriverError(f"run_command: {exc}") from exc
        with self._errors(f"create a container from {spec.run.image}"):
            host_config = self.api.create_host_config(**host)
            created = self.api.create_container(host_config=host_config, **kwargs)
        cid = str(created["Id"])
        try:
            with self._errors(f"start container {cid[:12]}"):
                self.api.start(cid)
        except DriverError:
            self.remove_container(cid)
            raise
        return cid

    def container_state(self, container_id: str) -> ContainerState:
        with self._errors(f"inspect container {container_id[:12]}"):
            info = self.api.inspect_container(container_id)
        state = info.get("State") or {}
        networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
        ip = (info.get("NetworkSettings") or {}).get("IPAddress") or next(
            (n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), ""
        )
        return ContainerState(
            running=bool(state.get("Running")),
            exit_code=int(state.get("ExitCode") or 0),
            oom_killed=bool(state.get("OOMKilled")),
            error=state.get("Error") or "",
            user=(info.get("Config") or {}).get("User") or "",
            ip_address=ip,
        )

    def container_logs(self, container_id: str, lines: int = 10) -> str:
        with self._errors(f"read the logs of {container_id[:12]}"):
            data = self.api.logs(container_id, tail=lines)
        return data.decode(errors="replace") if isinstance(data, bytes) else str(data)

    def list_containers(self, name_prefix: str) -> list[ContainerInfo]:
        with self._errors("list containers"):
            found = self.api.containers(all=True, filters={"name": name_prefix})
        out = []
        for c in found:
            names = [str(n).lstrip("/") for n in c.get("Names") or []]
            name = next((n for n in names if n.startswith(name_prefix)), "")
            if name:
                out.append(ContainerInfo(str(c["Id"]), name, c.get("State") == "running"))
        return out

    def remove_container(self, container_id: str) -> bool:
        import docker.errors

        with self._errors(f"remove container {container_id[:12]}"):
            try:
                self.api.remove_container(container_id, force=True, v=True)
            except docker.errors.NotFound:
                return False
            except docker.errors.APIError as exc:
                # 409 "removal already in progress" (a --rm container being removed)
                if exc.status_code == 409 and "in progress" in str(exc.explanation):
                    return False
                raise
        return True

    def kill_container(self, container_id: str) -> None:
        import docker.errors

        with self._errors(f"stop container {container_id[:12]}"):
            try:
                self.api.kill(container_id)
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: not running any more, which is the aim
                    raise
            self.api.wait(container_id, timeout=KILL_TIMEOUT)

    def commit(
        self,
        container_id: str,
        changes: list[str],
        author: str,
        message: str,
        pause: bool = True,
    ) -> str:
        with self._errors("commit the container"):
            out = self.api.commit(
                container_id,
                pause=pause,
                message=message or None,
                author=author or None,
                changes=changes or None,
            )
        return str(out["Id"])

    def export(self, container_id: str, dst: IO[bytes], cancel: CancelToken) -> int:
        with self._errors("export the container"):
            return _copy(self.stream_api.export(container_id), dst, cancel)

    # ------------------------------------------------------------------ images
    def image_id(self, ref: str) -> str | None:
        import docker.errors

        with self._errors(f"inspect image {ref}"):
            try:
                return str(self.api.inspect_image(ref)["Id"])
            except docker.errors.ImageNotFound:
                return None

    def inspect_image(self, ref: str) -> ImageInfo | None:
        import docker.errors

        with self._errors(f"inspect image {ref}"):
            try:
                info = self.api.inspect_image(ref)
            except docker.errors.ImageNotFound:
                return None
        return ImageInfo(
            str(info["Id"]),
            tuple(str(t) for t in info.get("RepoTags") or ()),
            str(info.get("Container") or ""),
        )

    def images_since(self, since: float) -> list[ImageInfo]:
        with self._errors("list images"):
            listed = self.api.images()
        out = []
        for item in listed:
            if float(item.get("Created") or 0) + 1 < since:  # the listing has whole seconds
                continue
            info = self.inspect_image(str(item["Id"]))
            if info is not None:
                out.append(info)
        return out

    def remove_image(self, ref: str, force: bool = False) -> bool:
        import docker.errors

        with self._errors(f"remove image {ref}"):
            try:
                self.api.remove_image(ref, force=force)
            except docker.errors.ImageNotFound:
                return False
        return True

    def tag_image(self, image: str, repository: str, tag: str) -> None:
        with self._errors(f"tag {image} as {repository}:{tag or 'latest'}"):
            if not self.api.tag(image, repository, tag or None):
                raise DriverError(f"tag {image}: the engine refused")

    def import_image(self, path: str, repository: str, tag: str, changes: list[str]) -> str:
        with self._errors(f"import {path}"), open(path, "rb") as f:
            out = self.stream_api.import_image(
                src=f, repository=repository, tag=tag or None, changes=changes or None
            )
        for line in reversed(str(out).splitlines()):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if data.get("error"):
                raise DriverError(f"import {path}: {data['error']}")
            if data.get("status", "").startswith("sha256:"):
                return str(data["status"])
        return self.image_id(f"{repository}:{tag or 'latest'}") or ""

    def save_image(self, image: str, dst: IO[bytes], cancel: CancelToken) -> int:
        with self._errors(f"save image {image}"):
            return _copy(self.stream_api.get_image(image), dst, cancel)

    # ------------------------------------------------------------------ exec and archives
    def exec(
        self, container_id: str, argv: list[str], user: str, env: dict[str, str], tty: bool
    ) -> ExecStream:
        with self._errors("start a command in the container"):
            exec_id = self.api.exec_create(
                container_id, argv, stdin=False, tty=tty, user=user, environment=env or None
            )["Id"]
            stream = self.stream_api.exec_start(exec_id, stream=True, demux=True, tty=tty)
        return _SDKExec(self, container_id, exec_id, stream)

    def put_archive(self, container_id: str, path: str, chunks: Iterable[bytes]) -> None:
        with self._errors(f"copy into the container at {path}"):
            self.stream_api.put_archive(container_id, path, chunks)

    def get_archive(self, container_id: str, path: str) -> tuple[Iterator[bytes], dict[str, Any]]:
        with self._errors(f"copy {path} out of the container"):
            stream, stat = self.stream_api.get_archive(container_id, path)
        return _guarded(self, f"copy {path} out of the container", stream), dict(stat)

    def close(self) -> None:
        self.api.close()
        self.stream_api.close()


class _SDKExec:
    """An exec instance: demultiplexed frames, exit code, kill through the host's /proc."""

    def __init__(self, driver: DockerSDKDriver, container_id: str, exec_id: str, stream: Any):
        self.driver, self.container_id, self.exec_id, self.stream = (
            driver,
            container_id,
            exec_id,
            stream,
        )

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        for out, err in self.stream:
            if out:
                yield 1, out
            if err:
                yield 2, err

    def close(self) -> None:
        try:
            self.stream.close()
        except Exception:  # noqa: BLE001 - already closed or broken: nothing to unblock
            pass

    def exit_code(self) -> int | None:
        with self.driver._errors("inspect a command in the container"):
            info = self.driver.api.exec_inspect(self.exec_id)
        if info.get("Running"):
            return None
        code = info.get("ExitCode")
        return None if code is None else int(code)

    def kill(self) -> bool:
        """Signal the command's process tree (TERM, then KILL) when the engine is local.

        The Engine API has no call to stop an exec; with a local engine its processes
        are visible in this host's /proc. A remote engine's are not: the container
        itself is removed at cleanup.
        """
        try:
            pid = int(self.driver.api.exec_inspect(self.exec_id).get("Pid") or 0)
        except Exception:  # noqa: BLE001 - the engine is gone: nothing left to signal
            return False
        if not pid or not _in_container(pid, self.container_id):
            return False
        tree = set(_process_tree(pid))
        for sig in (signal.SIGTERM, signal.SIGKILL):
            # the exec'd shell leads its own process group: signalling the group also
            # reaches children forked while we look; the tree walk catches any that left it
            try:
                os.killpg(pid, sig)
            except OSError:
                pass
            tree.update(_process_tree(pid))
            for p in tree:
                try:
                    os.kill(p, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and any(_alive(p) for p in tree):
                time.sleep(0.05)
            if not any(_alive(p) for p in tree):
                return True
        return True


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
        return True


def _in_container(pid: int, container_id: str) -> bool:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return container_id in f.read()
    except OSError:
        return False


def _process_tree(root: int) -> list[int]:
    """`root` and its descendants, children first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []

    def walk(p: int) -> None:
        for c in children.get(p, []):
            walk(c)
        out.append(p)

    walk(root)
    return out


def _guarded(driver: DockerSDKDriver, operation: str, stream: Iterable[bytes]) -> Iterator[bytes]:
    with driver._errors(operation):
        yield from stream


def _refused(exc: BaseException) -> bool:
    text = str(exc)
    return any(
        s in text
        for s in (
            "Connection refused",
            "No such file or directory",
            "Connection aborted",
            "Error while fetching server API version",
            "Max retries exceeded",
        )
    )


def _follow(
    stream: Iterable[dict[str, Any]], on_status: StatusHandler, cancel: CancelToken
) -> None:
    """Report a pull/push progress stream's status lines; raise on an `error` record."""
    last = ""
    for item in stream:
        cancel.check()
        if item.get("error"):
            raise DriverError(str(item.get("error")))
        status = str(item.get("status") or "")
        if not status or item.get("progressDetail", {}).get("total"):
            continue
        line = f"{item['id']}: {status}" if item.get("id") else status
        if line != last and status not in ("Downloading", "Extracting", "Pushing", "Waiting"):
            on_status(line)
            last = line


def _copy(chunks: Iterable[bytes], dst: IO[bytes], cancel: CancelToken) -> int:
    total = 0
    for chunk in chunks:
        cancel.check()
        dst.write(chunk)
        total += len(chunk)
    return total
