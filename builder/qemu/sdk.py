"""`QemuProcessDriver`: the qemu emulator and qemu-img as subprocesses, QMP over its socket.

The only module that runs qemu programs. Failures become DriverError with the
operation named and qemu's own last words.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from builder.errors import DriverError
from builder.logs import logger
from builder.qemu.driver import QemuProcess, QemuSettings
from builder.qemu.resources import start_time

if TYPE_CHECKING:
    from builder.multistep import CancelToken

log = logger("pybuild.qemu")

INSTALL_HINT = {
    "qemu-img": "install it: apt-get install qemu-utils",
}
DEFAULT_HINT = "install it (apt-get install qemu-system-x86) or set qemu_binary"


def find_program(name: str) -> str:
    """The path of `name`, or DriverError with the package that provides it."""
    path = shutil.which(name)
    if path is None:
        hint = INSTALL_HINT.get(os.path.basename(name), DEFAULT_HINT)
        raise DriverError(f"Failed creating Qemu driver: {name}: executable file not found "
                          f"in $PATH; {hint}")  # fmt: skip
    return path


class QemuProcessDriver:
    """Runs one VM process per build, and qemu-img."""

    def __init__(self, settings: QemuSettings):
        self.qemu_path = find_program(settings.qemu_binary)
        self.qemu_img_path = find_program(settings.qemu_img)
        self._proc: subprocess.Popen[bytes] | None = None
        self._tail: deque[str] = deque(maxlen=20)
        self._readers: list[threading.Thread] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the emulator
    def version(self) -> str:
        try:
            out = subprocess.run(
                [self.qemu_path, "-version"], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DriverError(f"Error determining qemu version: {exc}") from exc
        words = out.stdout.split()
        for i, word in enumerate(words[:-1]):
            if word == "version":
                return words[i + 1].rstrip(",")
        raise DriverError(f"Error determining qemu version: none in {out.stdout.strip()!r}")

    def start(self, args: Sequence[str], env: Mapping[str, str]) -> QemuProcess:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                raise DriverError("Error launching VM: a VM of this build is already running")
            log.info("Executing %s: %r", self.qemu_path, list(args))
            try:
                proc = subprocess.Popen(
                    [self.qemu_path, *args],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env={**os.environ, **env},
                    start_new_session=True,  # Ctrl-C reaches pybuild, which stops the VM
                )
            except OSError as exc:
                raise DriverError(f"Error launching VM: {exc}") from exc
            self._proc, self._tail = proc, deque(maxlen=20)
            self._readers = [
                self._read(proc.stdout, "Qemu stdout"),
                self._read(proc.stderr, "Qemu stderr"),
            ]
        log.info("Started Qemu. Pid: %d", proc.pid)
        return QemuProcess(proc.pid, start_time(proc.pid) or "")

    def _read(self, stream: IO[bytes] | None, label: str) -> threading.Thread:
        def pump() -> None:
            assert stream is not None
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self._tail.append(line)
                    log.info("%s: %s", label, line)
            stream.close()

        thread = threading.Thread(target=pump, name=f"qemu-{label}", daemon=True)
        thread.start()
        return thread

    def check_started(
        self, seconds: float, cancel: CancelToken, listening: tuple[str, int] | None = None
    ) -> None:
        proc = self._proc
        if proc is None:
            raise DriverError("Qemu failed to start: no process")
        deadline = time.monotonic() + seconds
        while True:
            code = proc.poll()
            if code is not None:
                for reader in self._readers:
                    reader.join(timeout=2)
                said = "; ".join(self._tail) or "no output"
                raise DriverError(f"Qemu failed to start (exit status {code}): {said}")
            if listening is not None and _accepts(listening):
                return
            left = deadline - time.monotonic()
            if left <= 0 or cancel.wait(min(0.05, left)):
                return

    def running(self) -> bool:
        proc = self._proc
        return proc is not None and proc.poll() is None

    def wait_stopped(self, seconds: float, cancel: CancelToken) -> bool:
        proc = self._proc
        if proc is None:
            return True
        deadline = time.monotonic() + seconds
        while proc.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0 or cancel.wait(min(0.2, left)):
                return proc.poll() is not None
        return True

    def stop(self) -> None:
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired as exc:
                raise DriverError(f"Error stopping VM: qemu {proc.pid} did not exit") from exc
            for reader in self._readers:
                reader.join(timeout=2)

    def close(self) -> None:
        self.stop()
        self._proc = None

    # ------------------------------------------------------------------ QMP
    def qmp(self, socket_path: str, timeout: float) -> SocketQMP:
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(max(1.0, timeout))
            try:
                sock.connect(socket_path)
                return SocketQMP(sock)
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                sock.close()
                if time.monotonic() > deadline or not self.running():
                    raise DriverError(f"Error opening QMP socket: {exc}") from exc
                time.sleep(0.05)
            except OSError as exc:
                sock.close()
                raise DriverError(f"Error connecting to QMP socket: {exc}") from exc

    # ------------------------------------------------------------------ qemu-img
    def qemu_img(self, args: Sequence[str]) -> str:
        log.info("Executing qemu-img: %r", list(args))
        try:
            out = subprocess.run(
                [self.qemu_img_path, *args],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise DriverError(f"QemuImg error: {exc}") from exc
        log.info("stdout: %s", out.stdout.strip())
        log.info("stderr: %s", out.stderr.strip())
        if out.returncode != 0:
            raise DriverError(f"QemuImg error: {out.stderr.strip()}")
        return out.stdout

    def copy(self, source: str, target: str) -> None:
        try:
            shutil.copyfile(source, target)
        except OSError as exc:
            raise DriverError(f"Error copying {source} to {target}: {exc}") from exc


def _accepts(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=0.5):
            return True
    except OSError:
        return False


class SocketQMP:
    """One QMP session over a unix socket: greeting read, capabilities negotiated."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._file = sock.makefile("rwb")
        try:
            greeting = self._read()
            if "QMP" not in greeting:
                raise DriverError(f"Error connecting to QMP socket: unexpected greeting {greeting}")
            self.execute("qmp_capabilities")
        except BaseException:
            self.close()
            raise

    def _read(self) -> dict[str, Any]:
        while True:
            try:
                line = self._file.readline()
            except OSError as exc:
                raise DriverError(f"QMP: {exc}") from exc
            if not line:
                raise DriverError("QMP: qemu closed the monitor socket")
            message = json.loads(line)
            if "event" not in message:  # events are not answers
                return dict(message)

    def execute(self, command: str, arguments: Mapping[str, Any] | None = None) -> Any:
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = dict(arguments)
        try:
            self._file.write(json.dumps(request).encode() + b"\n")
            self._file.flush()
        except OSError as exc:
            raise DriverError(f"QMP {command}: {exc}") from exc
        answer = self._read()
        if "error" in answer:
            desc = answer["error"].get("desc", answer["error"])
            raise DriverError(f"QMP {command}: {desc}")
        return answer.get("return")

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._sock.close()
