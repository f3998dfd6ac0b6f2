"""How `pybuild cleanup` stops a qemu VM a killed build left running, and finds it.

Kind (platform "qemu"): "process". The record is written before the emulator starts,
named by a token the process carries in its environment (`PYBUILD_QEMU_ID=<run id>:<nonce>`);
its id is the pid and attr `start_time` the kernel's start time of that pid. Cleanup
kills the pid only while its start time still matches (a reused pid is someone else),
and finds a process whose pid was never recorded by its token. The output directory is
a `local.dir` record of its own, removed after the process (newest first).
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from builder.errors import PybuildError
from builder.ledger import LeftResource

PLATFORM = "qemu"
ENV_TOKEN = "PYBUILD_QEMU_ID"
_PROC = "/proc"


def new_token(run_id: str) -> str:
    """`<run id>:<nonce>`: what the process carries, so its run is known from it alone."""
    return f"{run_id}:{secrets.token_hex(6)}"


def start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (clock ticks after boot), or None when there is no PID."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm (field 2) is in parentheses and may hold spaces: split after the last ')'
    fields = text[text.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] == "Z":
        return None  # a zombie is gone already: only its exit status is left
    return fields[19]


def token_of(pid: int) -> str:
    """The pybuild token in a process's environment ("" when none, or not readable)."""
    try:
        with open(f"{_PROC}/{pid}/environ", "rb") as f:
            env = f.read()
    except OSError:
        return ""
    prefix = f"{ENV_TOKEN}=".encode()
    for item in env.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix) :].decode("utf-8", "replace")
    return ""


def processes_with_token(prefix: str = "") -> Iterator[tuple[int, str]]:
    """(pid, token) of live processes carrying a token that starts with `prefix`."""
    try:
        names = os.listdir(_PROC)
    except OSError:
        return
    for name in names:
        if not name.isdigit():
            continue
        token = token_of(int(name))
        if token and token.startswith(prefix) and start_time(int(name)) is not None:
            yield int(name), token


def kill_process(pid: int, started: str, wait: float = 10.0) -> bool:
    """SIGKILL `pid` if it is still the process that started at `started`; True if killed."""
    if not started or start_time(pid) != started:
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + wait
    while start_time(pid) == started:
        if time.monotonic() > deadline:
            raise PybuildError(f"qemu process {pid} did not die after SIGKILL")
        time.sleep(0.05)
    return True


class QemuRemover:
    """Stops orphaned qemu processes on this machine."""

    def remove(self, res: LeftResource) -> bool:
        if res.kind != "process":
            raise PybuildError(f"unknown qemu resource kind {res.kind!r}")
        killed = False
        if res.state == "created" and res.id.isdigit():
            killed = kill_process(int(res.id), res.attrs.get("start_time", ""))
        if res.name:  # started but its pid not recorded, or restarted by the same record
            for pid, token in list(processes_with_token(res.name)):
                if token == res.name:
                    killed = kill_process(pid, start_time(pid) or "") or killed
        return killed

    def sweep(self) -> Iterable[LeftResource]:
        """qemu processes of any run, found by the token in their environment."""
        for pid, token in processes_with_token():
            run_id, _, _nonce = token.rpartition(":")
            if not run_id:
                continue
            yield LeftResource(
                run_id,
                f"sweep:qemu:{pid}",
                "",
                PLATFORM,
                "process",
                name=token,
                id=str(pid),
                attrs={"start_time": start_time(pid) or ""},
                state="created",
            )


class QemuHandler:
    """`pybuild cleanup`'s way to this machine's qemu processes (no settings needed)."""

    @contextmanager
    def open(self, recorded: Mapping[str, Any], full: Any | None) -> Iterator[QemuRemover]:
        yield QemuRemover()


HANDLER = QemuHandler()
