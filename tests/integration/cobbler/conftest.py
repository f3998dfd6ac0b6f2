"""Cobbler integration fixtures: a real cobblerd (3.3.10, tests/testbed/cobbler.sh) for the
session, on 127.0.0.1:25151 (its stock port: cobblerd binds it), with its state under the
session's temporary directory and a leak check around each test.

`bash tests/testbed/cobbler.sh` installs it once per machine; the session starts it with
`cobbler.sh start DIR` (a private mount namespace with overlays over /etc, /var and /srv:
the host is untouched, what cobblerd writes lands under DIR/ov) and stops it at the end. Its
TFTP tree is DIR/ov/srv/u/tftpboot. Needs root (unshare, overlayfs). The tests' own
XML-RPC client (`Cobbler.api()`) is stdlib xmlrpc, outside the code under test.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import service_missing

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "tests" / "testbed" / "cobbler.sh"
# Read at import: the autouse isolation fixture clears PYBUILD_* before each test.
TESTBED_CACHE = Path(os.environ.get("PYBUILD_TESTBED_CACHE", "/var/cache/pybuild-testbed"))
VENV = TESTBED_CACHE / "cobbler" / "venv-3.3.10"
URL = "http://127.0.0.1:25151/"
USER, PASSWORD = "cobbler", "cobbler"  # the stock users.digest
SETUP_HINT = "run `bash tests/testbed/cobbler.sh` as root"
KINDS = ("distro", "profile", "system")


@dataclass
class Cobbler:
    """The session's cobblerd: its URL, credentials, state directory and TFTP tree."""

    url: str
    username: str
    password: str
    state: Path

    @property
    def tftpboot(self) -> Path:
        return self.state / "ov" / "srv" / "u" / "tftpboot"

    def api(self) -> Any:
        return xmlrpc.client.ServerProxy(self.url, allow_none=True)

    def token(self) -> str:
        return str(self.api().login(self.username, self.password))

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        found = self.api().get_item(kind, name)
        return dict(found) if isinstance(found, dict) else None

    def names(self, kind: str) -> set[str]:
        return {str(n) for n in self.api().get_item_names(kind)}

    def inventory(self) -> dict[str, set[str]]:
        return {kind: self.names(kind) for kind in KINDS}

    def remove(self, kind: str, name: str) -> None:
        self.api().remove_item(kind, name, self.token(), True)

    def add(self, kind: str, name: str, attrs: dict[str, Any]) -> None:
        self.api().xapi_object_edit(kind, name, "add", {"name": name, **attrs}, self.token())

    def sync(self) -> None:
        self.api().sync(self.token())

    def tftp(self, path: str) -> Path:
        return self.tftpboot / path

    def log(self) -> str:
        out = self.state / "cobblerd.out"
        return out.read_text(errors="replace") if out.exists() else ""


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="session")
def cobblerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cobbler]:
    """One cobblerd for the session, started from a fresh state and stopped at the end."""
    if not (VENV / "bin" / "cobblerd").exists():
        service_missing(f"Cobbler 3.3.10 not installed at {VENV}: {SETUP_HINT}")
    if os.geteuid() != 0:
        service_missing("cobblerd runs in a mount namespace of its own: run the tests as root")
    state = tmp_path_factory.mktemp("cobbler")
    started = _script("start", str(state))
    if started.returncode != 0:
        pytest.fail(f"cobbler.sh start failed:\n{started.stdout}{started.stderr}", pytrace=False)
    try:
        yield Cobbler(URL, USER, PASSWORD, state)
    finally:
        _script("stop", str(state))


@pytest.fixture
def cobbler(cobblerd: Cobbler, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cobbler]:
    """The session's cobblerd; fails the test if it leaves a distro, profile or system."""
    monkeypatch.setenv("COBBLER_PASSWORD", cobblerd.password)
    before = cobblerd.inventory()
    yield cobblerd
    after = cobblerd.inventory()
    leaked = {k: sorted(after[k] - before[k]) for k in KINDS if after[k] - before[k]}
    assert leaked == {}, f"left behind in Cobbler: {leaked}"


@dataclass(frozen=True)
class BootFiles:
    """A synthetic image: a kernel, an initrd and a raw disk (random bytes, fast)."""

    kernel: Path
    initrd: Path
    disk: Path

    @property
    def paths(self) -> list[str]:
        return [str(self.kernel), str(self.initrd), str(self.disk)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def boot_files(tmp_path: Path) -> BootFiles:
    src = tmp_path / "image"
    src.mkdir()
    kernel, initrd, disk = src / "vmlinuz", src / "initrd.img", src / "disk.raw"
    kernel.write_bytes(b"MZ" + secrets.token_bytes(256 * 1024))
    initrd.write_bytes(secrets.token_bytes(128 * 1024))
    with disk.open("wb") as f:
        f.truncate(4 * 1024 * 1024)
        f.seek(510)
        f.write(b"\x55\xaa")
        f.seek(4096)
        f.write(secrets.token_bytes(64 * 1024))
    return BootFiles(kernel, initrd, disk)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def random_mac() -> str:
    return "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
