"""qemu integration fixtures: the qemu binaries and the test ISO that tests/testbed/qemu.sh
builds once per machine (from tests/testbed/make-iso.sh) into the testbed cache.

The ISO waits forever at an isolinux `boot:` prompt. Typed there (Packer's boot command):

    <esc><wait>linux url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/preseed.cfg<enter>

the guest DHCPs on qemu's user-mode network (the host's 127.0.0.1 is 10.0.2.2 from inside),
fetches the preseed file (see `preseed_text`), and starts dropbear on port 22 for root. Its
host keys appear on the serial console as `host key: TYPE BASE64`; `poweroff` makes qemu exit.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import service_missing

ROOT = Path(__file__).resolve().parents[3]
MAKE_ISO = ROOT / "tests" / "testbed" / "make-iso.sh"
QEMU_SETUP_HINT = "run `bash tests/testbed/qemu.sh` as root"
# Read at import: the autouse isolation fixture clears PYBUILD_* before each test.
TESTBED_CACHE = Path(os.environ.get("PYBUILD_TESTBED_CACHE", "/var/cache/pybuild-testbed"))
ISO_NAME = "pybuild-test.iso"

GUEST_HOST_IP = "10.0.2.2"  # the host's loopback as qemu's user-mode network shows it
BOOT_COMMAND = ["<esc><wait>", "linux url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/preseed.cfg<enter>"]
PRESEED_NAME = "preseed.cfg"


@dataclass(frozen=True)
class BootISO:
    """The cached test ISO and its sha256 (hex)."""

    path: Path
    sha256: str

    @property
    def checksum(self) -> str:
        """The ISO's checksum in iso_checksum form."""
        return f"sha256:{self.sha256}"

    @property
    def url(self) -> str:
        return self.path.as_uri()


def iso_recipe() -> str:
    """The cache key: the first 16 hex digits of make-iso.sh's sha256 (as qemu.sh computes it)."""
    return hashlib.sha256(MAKE_ISO.read_bytes()).hexdigest()[:16]


def iso_dir() -> Path:
    return TESTBED_CACHE / "qemu" / f"iso-{iso_recipe()}"


def preseed_text(authorized_keys: Sequence[str] = (), root_password: str | None = None) -> str:
    """A preseed file the test ISO understands: one `authorized_key=` line per key and an
    optional `root_password=` line (which turns on password logins). Bare authorized_keys
    lines are accepted too; `#` comments and blank lines are ignored."""
    lines = ["# pybuild test ISO preseed"]
    lines += [f"authorized_key={key.strip()}" for key in authorized_keys]
    if root_password is not None:
        lines.append(f"root_password={root_password}")
    return "\n".join(lines) + "\n"


def _tool(name: str, package: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/bin") / name, Path("/usr/sbin") / name) if p.exists()), None
    )
    if found is None:
        service_missing(f"{name} missing (Debian package {package}): {QEMU_SETUP_HINT}")
    return found


@pytest.fixture(scope="session")
def qemu_binary() -> str:
    """The path of qemu-system-x86_64."""
    return _tool("qemu-system-x86_64", "qemu-system-x86")


@pytest.fixture(scope="session")
def qemu_img() -> str:
    """The path of qemu-img."""
    return _tool("qemu-img", "qemu-utils")


@pytest.fixture(scope="session")
def debugfs() -> str:
    """The path of debugfs (reads files out of an ext4 image without mounting it)."""
    return _tool("debugfs", "e2fsprogs")


@pytest.fixture(scope="session")
def qemu_iso() -> BootISO:
    """The test ISO built from this checkout's make-iso.sh, its sha256 checked."""
    directory = iso_dir()
    path = directory / ISO_NAME
    recorded = directory / f"{ISO_NAME}.sha256"
    if not path.is_file() or not recorded.is_file():
        service_missing(f"qemu test ISO missing ({path}): {QEMU_SETUP_HINT}")
    expected = recorded.read_text().split()[0]
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        service_missing(
            f"qemu test ISO {path} has sha256 {actual}, not {expected} as built: "
            f"remove {directory} and {QEMU_SETUP_HINT}"
        )
    return BootISO(path, actual)
