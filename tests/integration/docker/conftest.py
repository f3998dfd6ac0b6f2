"""Docker integration fixtures: a private registry on 127.0.0.1, leak checks, CLI helpers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import run_cli
from tests.integration.conftest import free_port, service_missing

if TYPE_CHECKING:
    import docker

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "docker" / "template.json"
NAME_PREFIX = "pybuild_"
REGISTRY_BIN = "/usr/bin/docker-registry"


@dataclass
class Registry:
    """A docker-registry (distribution 2.8) with htpasswd auth, listening on 127.0.0.1."""

    address: str
    username: str
    password: str

    def get(self, path: str) -> Any:
        """GET /v2/<path> with the test credentials; the decoded JSON."""
        request = urllib.request.Request(f"http://{self.address}/v2/{path}")
        token = b64encode(f"{self.username}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """Debian's docker-registry serving from tmp_path on a free loopback port."""
    binary = shutil.which("docker-registry") or REGISTRY_BIN
    if not Path(binary).exists():
        service_missing("docker-registry missing: apt-get install docker-registry")
    import bcrypt

    root = tmp_path / "registry"
    root.mkdir()
    password = "registry-secret-pw"
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    (root / "htpasswd").write_text(f"tester:{hashed}\n")
    address = f"127.0.0.1:{free_port()}"
    (root / "config.yml").write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: {address}\n"
        f"auth:\n  htpasswd:\n    realm: pybuild-test\n    path: {root / 'htpasswd'}\n"
    )
    log = open(root / "registry.log", "wb")
    proc = subprocess.Popen([binary, "serve", str(root / "config.yml")], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://{address}/v2/", timeout=1)
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"docker-registry did not start:\n{(root / 'registry.log').read_text()}"
                )
            time.sleep(0.05)
        yield Registry(address, "tester", password)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def image_ids(client: docker.DockerClient) -> set[str]:
    return {str(i["Id"]) for i in client.api.images(all=True)}


@dataclass
class Leaks:
    """What this test's builds made, to prove they left nothing behind.

    Only what the test itself made counts, and only that is removed afterwards: other
    suites, benchmarks or a developer may use the same engine at the same time. Ours are
    the containers pybuild printed (`Container ID: ...`) or that mount a directory under
    this test's PACKER_TMP_DIR, and the images pybuild printed (`Image ID`, `Imported ID`)
    or committed from one of those containers.
    """

    client: docker.DockerClient
    images: set[str]
    tmp_root: Path
    container_ids: set[str] = field(default_factory=set)
    printed_images: set[str] = field(default_factory=set)

    def note(self, output: str) -> None:
        """Remember the containers and images a pybuild run printed."""
        self.container_ids |= set(re.findall(r"Container ID: ([0-9a-f]{64})", output))
        self.printed_images |= set(
            re.findall(r"(?:Image ID|Imported ID): (sha256:[0-9a-f]{64})", output)
        )

    def containers(self) -> list[str]:
        """Names of this test's build containers that still exist."""
        found = self.client.containers.list(
            all=True, filters={"name": NAME_PREFIX}, ignore_removed=True
        )
        return [c.name for c in found if self._ours(c.id, c.attrs.get("Mounts") or [])]

    def _ours(self, container_id: str, mounts: list[dict[str, Any]]) -> bool:
        root = str(self.tmp_root) + os.sep
        return container_id in self.container_ids or any(
            str(m.get("Source", "")).startswith(root) for m in mounts
        )

    def new_images(self) -> set[str]:
        """Images made since the test began, by this test's builds."""
        import docker.errors

        found = set()
        for image in image_ids(self.client) - self.images:
            if image in self.printed_images:
                found.add(image)
                continue
            try:  # the container a commit was made from
                made_from = self.client.api.inspect_image(image).get("Container")
            except docker.errors.NotFound:  # removed meanwhile
                continue
            if made_from in self.container_ids:
                found.add(image)
        return found

    def assert_clean(self, allowed_images: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        assert self.containers() == []
        assert self.new_images() - allowed_images == set()
        assert not self.tmp_root.exists() or list(self.tmp_root.iterdir()) == []


@pytest.fixture
def leaks(docker_client: docker.DockerClient, base_image: str, tmp_path: Path) -> Iterator[Leaks]:
    """Snapshot of images; PACKER_TMP_DIR points into tmp_path; removes what the test made."""
    state = Leaks(docker_client, image_ids(docker_client), tmp_path / "packer-tmp")
    yield state
    for image in state.new_images():
        try:
            docker_client.images.remove(image, force=True)
        except Exception:  # noqa: BLE001 - best effort after the assertions ran
            pass


def cli_env(leaks: Leaks, **extra: str) -> dict[str, str]:
    """The environment of a pybuild run under test."""
    return {"PACKER_TMP_DIR": str(leaks.tmp_root), "NO_COLOR": "1", **extra}


def pybuild(
    leaks: Leaks, *args: str, cwd: Path, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    proc = run_cli(*args, cwd=cwd, env=cli_env(leaks, **env), timeout=timeout)
    leaks.note(proc.stdout)
    return proc


def remove_refs(client: docker.DockerClient, *refs: str) -> None:
    for ref in refs:
        try:
            client.images.remove(ref, force=True)
        except Exception:  # noqa: BLE001
            pass


# --------------------------------------------------------------------------- killed builds
@dataclass
class KilledRun:
    """A `pybuild build` killed with SIGKILL, and what its ledger says it made."""

    proc: subprocess.CompletedProcess[str] | None
    state_dir: Path
    run_id: str = ""
    container_ids: set[str] = field(default_factory=set)
    container_names: set[str] = field(default_factory=set)

    def read_ledger(self) -> None:
        """Learn the run id and the containers from the run's ledger file."""
        from builder.ledger import read_run, run_files

        (path,) = run_files(self.state_dir)
        run = read_run(path)
        self.run_id = run.run_id
        for res in run.resources:
            if res.ref == "docker.container":
                self.container_names.add(res.name)
                if res.id and res.id != res.name:
                    self.container_ids.add(res.id)


@dataclass
class KillBuild:
    """Runs a docker build with a shell provisioner that the test kills somewhere."""

    leaks: Leaks
    client: docker.DockerClient
    base_image: str
    tmp_path: Path

    def template(self, inline: list[str] | None = None, **builder: Any) -> Path:
        from tests.conftest import write_template

        return write_template(
            self.tmp_path,
            {
                "builders": [
                    {
                        "type": "docker",
                        "image": self.base_image,
                        "pull": False,
                        "commit": True,
                        **builder,
                    }
                ],
                "provisioners": [
                    {"type": "shell", "inline": inline or ["echo provisioned > /etc/kill-test"]}
                ],
            },
        )

    @property
    def state_dir(self) -> Path:
        return self.tmp_path / "state"

    def env(self, **extra: str) -> dict[str, str]:
        return {"PYBUILD_STATE_DIR": str(self.state_dir), "PYTHONUNBUFFERED": "1", **extra}

    def run(self, fault: str) -> KilledRun:
        """`pybuild build` with PYBUILD_FAULT=<fault>; it must die by SIGKILL."""
        import signal

        proc = pybuild(
            self.leaks,
            "build",
            str(self.template()),
            cwd=self.tmp_path,
            timeout=120,
            **self.env(PYBUILD_FAULT=fault),
        )
        assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
        return self._killed(proc)

    def _killed(self, proc: subprocess.CompletedProcess[str] | None) -> KilledRun:
        killed = KilledRun(proc, self.state_dir)
        killed.read_ledger()
        self.leaks.container_ids |= killed.container_ids
        return killed

    def run_killed_while_provisioning(self, marker: str) -> KilledRun:
        """A build killed (SIGKILL from outside) while its provisioner prints `marker` and sleeps."""
        import signal
        import sys

        path = self.template(inline=[f"echo {marker}", "sleep 60"])
        env = {**os.environ, **cli_env(self.leaks), **self.env()}
        proc = subprocess.Popen(
            [sys.executable, "-m", "builder", "build", str(path)],
            cwd=self.tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        lines: list[str] = []
        try:
            for line in proc.stdout:
                lines.append(line)
                if marker in line and "echo" not in line:
                    break
            proc.send_signal(signal.SIGKILL)
            rest, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        output = "".join(lines) + (rest or "")
        self.leaks.note(output)
        assert proc.returncode == -signal.SIGKILL, output
        return self._killed(None)

    def run_containers(self, killed: KilledRun) -> list[str]:
        """Names of the engine's containers that belong to the killed run."""
        found = self.client.containers.list(
            all=True, filters={"name": killed.run_id}, ignore_removed=True
        )
        ids = killed.container_ids
        return sorted(
            c.name
            for c in found
            if killed.run_id in c.name or c.id in ids or c.name in killed.container_names
        )


@pytest.fixture
def kill_build(
    leaks: Leaks, docker_client: docker.DockerClient, base_image: str, tmp_path: Path
) -> KillBuild:
    """Builds to kill; `leaks` removes any image they left after the test."""
    return KillBuild(leaks, docker_client, base_image, tmp_path)
