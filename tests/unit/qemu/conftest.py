"""qemu unit tests: the builder runs against FakeQemuDriver (no qemu), in tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.qemu import Builder
from builder.qemu.driver import QEMU
from tests.unit.qemu.fakes import FakeQemuDriver


@pytest.fixture
def fake(
    plugins: Callable[[str, str, type[Any]], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[FakeQemuDriver]:
    """A fresh fake qemu for every qemu driver the builder makes; cwd is tmp_path."""
    from provisioners.shell import ShellProvisioner

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PACKER_CACHE_DIR", str(tmp_path / "packer_cache"))
    plugins("builder", "qemu", Builder)
    plugins("provisioner", "shell", ShellProvisioner)
    driver = FakeQemuDriver()
    with QEMU.override(driver.open):
        yield driver


@pytest.fixture
def iso(tmp_path: Path) -> Path:
    """A file standing for the installation ISO (never booted: the driver is the fake)."""
    path = tmp_path / "install.iso"
    path.write_bytes(b"CD001 fake iso")
    return path
