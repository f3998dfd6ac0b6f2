"""vsphere-iso unit tests: steps and whole builds against FakeISODriver (no vCenter)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.components import PluginOptions
from builder.ledger import Ledger
from builder.multistep import CancelToken
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui
from builder.vsphere.iso.config import VSphereISOConfig
from builder.vsphere.iso.run import VSphereISORun
from tests.unit.vsphere.iso.fakes import FakeISODriver

BASE: dict[str, Any] = {
    "vcenter_server": "127.0.0.1:8989",
    "username": "user",
    "password": "secret-pass",
    "insecure_connection": True,
    "datacenter": "DC0",
    "cluster": "DC0_C0",
    "host": "DC0_C0_H0",
    "datastore": "LocalDS_0",
    "vm_name": "isovm",
    "storage": [{"disk_size": 1024, "disk_thin_provisioned": True}],
    "network_adapters": [{"network": "VM Network", "network_card": "vmxnet3"}],
    "communicator": "none",
}


def config(**over: Any) -> VSphereISOConfig:
    return VSphereISOConfig.model_validate({**BASE, **over})


class _Hook:
    def provision(self, ui: Any, communicator: Any, data: dict[str, str]) -> None:
        pass

    def error_cleanup(
        self, ui: Any, communicator: Any, data: dict[str, str], original: Any
    ) -> None:
        pass


MakeRun = Callable[..., tuple[VSphereISORun, RecordingSink]]


@pytest.fixture
def driver() -> FakeISODriver:
    return FakeISODriver()


@pytest.fixture
def make_run(driver: FakeISODriver) -> MakeRun:
    """`make_run(**options)`: a run over the fake driver with BASE plus the options."""

    def make(**over: Any) -> tuple[VSphereISORun, RecordingSink]:
        cfg = config(**over)
        sink = RecordingSink()
        render = RenderContext(user_vars={}, build_name="vsphere-iso", build_type="vsphere-iso")
        run = VSphereISORun(
            ui=Ui(sink, "vsphere-iso"),
            cancel=CancelToken(),
            hook=_Hook(),
            options=PluginOptions(
                build_name="vsphere-iso", build_type="vsphere-iso", render=render
            ),  # fmt: skip
            resources=Ledger.memory("run-1").build("vsphere-iso"),
            config=cfg,
            driver=driver,
            vm_path=cfg.vm_path(),
        )
        return run, sink

    return make


@pytest.fixture
def fake(
    plugins: Callable[[str, str, type[Any]], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[FakeISODriver]:
    """Every driver a vsphere-iso build makes is this fake; cwd is tmp_path."""
    from builder.vsphere.common.driver import VSPHERE
    from builder.vsphere.iso import Builder

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PACKER_CACHE_DIR", str(tmp_path / "packer_cache"))
    plugins("builder", "vsphere-iso", Builder)
    driver = FakeISODriver()
    with VSPHERE.override(driver.open):
        yield driver
