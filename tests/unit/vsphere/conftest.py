"""vSphere unit tests: the builders run against FakeVSphereDriver (no pyVmomi, no network)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.vsphere.common.driver import VSPHERE
from tests.unit.vsphere.fake_driver import FakeVSphereDriver


@pytest.fixture
def fake(
    plugins: Callable[[str, str, type[Any]], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[FakeVSphereDriver]:
    """One fake vCenter for every driver the builders make; cwd is tmp_path."""
    from builder.vsphere.clone import Builder

    monkeypatch.chdir(tmp_path)
    plugins("builder", "vsphere-clone", Builder)
    driver = FakeVSphereDriver()
    with VSPHERE.override(driver.open):
        yield driver
