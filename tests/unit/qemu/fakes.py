"""FakeQemuDriver: a stateful fake of `QemuDriver` (no qemu runs), checked against the Protocol."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from builder.errors import DriverError
from builder.qemu.driver import QemuDriver, QemuProcess, QemuSettings

if TYPE_CHECKING:
    from builder.multistep import CancelToken


@dataclass
class FakeQMP:
    """Records QMP commands; answers `query-rx-filter` with one card."""

    commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    closed: bool = False

    def execute(self, command: str, arguments: Mapping[str, Any] | None = None) -> Any:
        self.commands.append((command, dict(arguments or {})))
        if command == "query-rx-filter":
            return [{"name": "net0", "main-mac": "52:54:00:12:34:56"}]
        return {}

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeQemuDriver:
    """Keeps what a build asked: qemu-img calls (files made on disk), the VM's arguments.

    `fail_start` makes the VM exit at once with that message; `stays_on` makes it ignore
    the shutdown command (a timeout); `img_errors` maps a qemu-img subcommand to the
    errors it raises, one per call.
    """

    settings: QemuSettings = field(default_factory=QemuSettings)
    version_text: str = "7.2.22"
    img_calls: list[list[str]] = field(default_factory=list)
    started: list[list[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    running_vm: bool = False
    stays_on: bool = False
    powers_off_alone: bool = False
    fail_start: str = ""
    img_errors: dict[str, list[str]] = field(default_factory=dict)
    qmp_monitor: FakeQMP = field(default_factory=FakeQMP)
    stops: int = 0
    closed: int = 0

    def open(self, settings: QemuSettings) -> FakeQemuDriver:
        """The factory `QEMU.override` takes."""
        self.settings = settings
        return self

    def version(self) -> str:
        return self.version_text

    def start(self, args: Sequence[str], env: Mapping[str, str]) -> QemuProcess:
        self.started.append(list(args))
        self.env = dict(env)
        self.running_vm = True
        return QemuProcess(4242, "123456")

    def check_started(
        self, seconds: float, cancel: CancelToken, listening: tuple[str, int] | None = None
    ) -> None:
        if self.fail_start:
            self.running_vm = False
            raise DriverError(f"Qemu failed to start (exit status 1): {self.fail_start}")

    def running(self) -> bool:
        if self.powers_off_alone:
            self.running_vm = False  # communicator none: the guest halts by itself
        return self.running_vm

    def power_off(self) -> None:
        """The guest ran `poweroff` (the shutdown command)."""
        if not self.stays_on:
            self.running_vm = False

    def wait_stopped(self, seconds: float, cancel: CancelToken) -> bool:
        return not self.running_vm

    def stop(self) -> None:
        self.stops += 1
        self.running_vm = False

    def qmp(self, socket_path: str, timeout: float) -> FakeQMP:
        return self.qmp_monitor

    def qemu_img(self, args: Sequence[str]) -> str:
        self.img_calls.append(list(args))
        errors = self.img_errors.get(args[0], [])
        if errors:
            raise DriverError(f"QemuImg error: {errors.pop(0)}")
        if args[0] in ("create", "convert"):
            target = args[-2] if args[0] == "create" else args[-1]
            with open(target, "wb") as f:
                f.write(b"QFI\xfb fake disk")
        if args[0] == "info":
            return '{"format": "qcow2"}'
        return ""

    def copy(self, source: str, target: str) -> None:
        with open(source, "rb") as src, open(target, "wb") as dst:
            dst.write(src.read())

    def close(self) -> None:
        self.closed += 1
        self.running_vm = False


def _typed(driver: FakeQemuDriver) -> QemuDriver:
    return driver  # mypy checks the fake against the Protocol here


def files(directory: str) -> list[str]:
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []
