"""The qemu test ISO boots for real: boot command typed through QMP, preseed over HTTP on
127.0.0.1, SSH on a 127.0.0.1 host forward, a file system written to the disk, poweroff.

Pure TCG (never KVM), the way the qemu builder runs it with `accelerator: tcg`. The timings
of each phase are printed (run with -s to see them) and recorded as test properties.
"""

from __future__ import annotations

import base64
import http.server
import json
import re
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paramiko
import pytest

from tests.integration.conftest import KeyPair, free_port, read_banner
from tests.integration.qemu.conftest import GUEST_HOST_IP, PRESEED_NAME, BootISO

PROMPT_TIMEOUT = 60.0  # power-on to isolinux's boot: prompt
BANNER_TIMEOUT = 240.0  # boot command typed to an SSH banner (TCG on a busy machine)
POWEROFF_TIMEOUT = 60.0
KEY_INTERVAL = 0.05  # between key presses, as the builder's boot_key_interval

# QMP qcodes for the characters a boot command needs; the shifted ones hold "shift".
QCODES = {" ": "spc", ".": "dot", "/": "slash", "=": "equal", "-": "minus", ",": "comma"}
QCODES |= {";": "semicolon", "\n": "ret"}
SHIFTED = {":": "semicolon", "_": "minus", "?": "slash", "&": "7", "+": "equal"}


class QMP:
    """A minimal QMP client on qemu's unix socket: capabilities, then commands."""

    def __init__(self, path: Path, timeout: float) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(str(path))
        self._file = self._sock.makefile("rwb")
        self._read()  # the greeting
        self.command("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        line = self._file.readline()
        if not line:
            raise ConnectionError("qemu closed the QMP socket")
        return json.loads(line)

    def command(self, name: str, **arguments: Any) -> Any:
        self._file.write(json.dumps({"execute": name, "arguments": arguments}).encode() + b"\n")
        self._file.flush()
        while True:
            reply = self._read()
            if "error" in reply:
                raise RuntimeError(f"QMP {name}: {reply['error']}")
            if "return" in reply:
                return reply["return"]  # anything else is an asynchronous event

    def send_key(self, *qcodes: str) -> None:
        keys = [{"type": "qcode", "data": code} for code in qcodes]
        self.command("send-key", keys=keys, **{"hold-time": 30})

    def type_text(self, text: str) -> None:
        for char in text:
            if char in SHIFTED:
                self.send_key("shift", SHIFTED[char])
            elif char.isupper():
                self.send_key("shift", char.lower())
            else:
                self.send_key(QCODES.get(char, char))
            time.sleep(KEY_INTERVAL)

    def close(self) -> None:
        self._file.close()
        self._sock.close()


@contextmanager
def http_server(directory: Path) -> Iterator[tuple[int, list[str]]]:
    """A stdlib HTTP server for `directory` on 127.0.0.1: (port, paths requested)."""
    requested: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            requested.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Console:
    """The guest's serial console, written by qemu to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self) -> str:
        return self.path.read_text(errors="replace") if self.path.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def host_keys(self) -> list[str]:
        return re.findall(r"host key: ((?:ssh|ecdsa)-\S+ \S+)", self.text())


def wait_for(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    vm: subprocess.Popen[bytes],
    console: Console,
) -> float:
    """Poll `check` until it holds; the seconds it took. Fails if qemu exits or time runs out."""
    start = time.monotonic()
    while not check():
        if vm.poll() is not None:
            pytest.fail(f"qemu exited ({vm.returncode}) before {what}\n{console.tail()}")
        if time.monotonic() - start > timeout:
            pytest.fail(f"no {what} within {timeout:.0f} s\n{console.tail()}")
        time.sleep(0.2)
    return time.monotonic() - start


def banner_answers(port: int) -> bool:
    try:
        read_banner("127.0.0.1", port, timeout=2.0)
        return True
    except OSError:
        return False


def qemu_command(
    qemu: str, iso: Path, disk: Path, run_dir: Path, ssh_port: int, vnc_port: int
) -> list[str]:
    """The arguments Debian's packer 1.6.6 runs qemu with (as its PACKER_LOG shows) for an ISO
    build with accelerator tcg, headless, qemuargs binding the SSH forward to 127.0.0.1; plus
    -display none, QMP and a serial console file for this test."""
    return [
        qemu,
        "-name", "pybuild-testbed",
        "-machine", "type=pc,accel=tcg",
        "-m", "512M",
        "-boot", "once=d",
        "-netdev", f"user,id=user.0,hostfwd=tcp:127.0.0.1:{ssh_port}-:22",
        "-device", "virtio-net,netdev=user.0",
        "-drive", f"file={disk},if=virtio,cache=writeback,discard=ignore,format=qcow2",
        "-drive", f"file={iso},media=cdrom",
        "-vnc", f"127.0.0.1:{vnc_port - 5900}",
        "-display", "none",
        "-qmp", f"unix:{run_dir / 'qmp.sock'},server=on,wait=off",
        "-serial", f"file:{run_dir / 'console.log'}",
    ]  # fmt: skip


def ssh_connect(port: int, known_host_keys: list[str], **auth: Any) -> paramiko.SSHClient:
    """A paramiko client that accepts only the host keys the guest printed on its console."""
    client = paramiko.SSHClient()
    for line in known_host_keys:
        kind, blob = line.split()
        key = paramiko.PKey.from_type_string(kind, base64.b64decode(blob))
        client.get_host_keys().add(f"[127.0.0.1]:{port}", kind, key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        "127.0.0.1",
        port,
        username="root",
        look_for_keys=False,
        allow_agent=False,
        timeout=30,
        banner_timeout=30,
        auth_timeout=30,
        **auth,
    )
    return client


def run(client: paramiko.SSHClient, command: str, timeout: float = 120.0) -> tuple[int, str]:
    _, stdout, stderr = client.exec_command(command, timeout=timeout)
    stdout.channel.shutdown_write()
    output = stdout.read().decode() + stderr.read().decode()
    return stdout.channel.recv_exit_status(), output


def power_off(client: paramiko.SSHClient) -> None:
    """Ask for poweroff; the connection may drop before an exit status arrives."""
    try:
        run(client, "poweroff", timeout=15)
    except (OSError, paramiko.SSHException):
        pass
    client.close()


def wait_exit(vm: subprocess.Popen[bytes], console: Console) -> None:
    try:
        vm.wait(timeout=POWEROFF_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"qemu still running {POWEROFF_TIMEOUT:.0f} s after poweroff\n{console.tail()}")


def stop(vm: subprocess.Popen[bytes]) -> None:
    if vm.poll() is None:
        vm.kill()
    vm.wait(timeout=30)


def read_marker(qemu_img: str, debugfs: str, disk: Path) -> str:
    """qcow2 to raw with qemu-img, then /marker read out of the ext4 image by debugfs."""
    raw = disk.with_suffix(".raw")
    convert = [qemu_img, "convert", "-f", "qcow2", "-O", "raw", str(disk), str(raw)]
    subprocess.run(convert, check=True, capture_output=True, timeout=120)
    cat = [debugfs, "-R", "cat /marker", str(raw)]
    return subprocess.run(cat, check=True, capture_output=True, text=True, timeout=60).stdout


def type_boot_command(qmp_socket: Path, http_port: int) -> None:
    """Packer's `<esc><wait>linux url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/preseed.cfg<enter>`."""
    qmp = QMP(qmp_socket, timeout=30)
    try:
        qmp.send_key("esc")
        time.sleep(1.0)  # <wait>
        qmp.type_text(f"linux url=http://{GUEST_HOST_IP}:{http_port}/{PRESEED_NAME}\n")
    finally:
        qmp.close()


def use_guest(
    port: int, host_keys: list[str], keys: list[KeyPair], password: str, marker: str
) -> str:
    """Log in with each key and the password; write a file system and a marker to /dev/vda;
    power off. Returns the kernel command line the guest booted with."""
    first = ssh_connect(port, host_keys, key_filename=str(keys[0].private_path))
    with first:
        status, output = run(
            first,
            "set -e; mkfs.ext4 -q -F -L pybuild /dev/vda; mount -t ext4 /dev/vda /mnt; "
            f"echo {marker} > /mnt/marker; umount /mnt; sync; cat /proc/cmdline",
        )
        assert status == 0, output
    for key in keys[1:]:
        with ssh_connect(port, host_keys, key_filename=str(key.private_path)) as client:
            assert run(client, "id -un") == (0, "root\n")
    client = ssh_connect(port, host_keys, password=password)
    try:
        assert run(client, "hostname") == (0, "pybuild-test\n")
    finally:
        power_off(client)
    return output


def test_iso_boots_to_ssh_and_powers_off(
    qemu_binary: str,
    qemu_img: str,
    qemu_iso: BootISO,
    debugfs: str,
    ssh_keypair: Callable[..., KeyPair],
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    keys = [ssh_keypair(), ssh_keypair()]
    password, marker = secrets.token_urlsafe(12), f"pybuild-{secrets.token_hex(8)}"
    www = tmp_path / "http"
    www.mkdir()
    (www / PRESEED_NAME).write_text(
        f"# the test's preseed: both key forms and a password\n{keys[1].public_line}\n\n"
        f"authorized_key={keys[0].public_line}\nroot_password={password}\n"
    )
    disk = tmp_path / "disk.qcow2"
    create = [qemu_img, "create", "-f", "qcow2", str(disk), "64M"]
    subprocess.run(create, check=True, capture_output=True, timeout=60)
    console = Console(tmp_path / "console.log")
    ssh_port, vnc_port = free_port(), free_port()
    timings: dict[str, float] = {}

    with http_server(www) as (http_port, requested):
        command = qemu_command(qemu_binary, qemu_iso.path, disk, tmp_path, ssh_port, vnc_port)
        started = time.monotonic()
        with (tmp_path / "qemu.log").open("wb") as log:
            vm = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            timings["start_to_prompt"] = wait_for(
                "boot: prompt", lambda: "boot:" in console.text(), PROMPT_TIMEOUT, vm, console
            )
            with socket.create_connection(("127.0.0.1", vnc_port), timeout=10) as vnc:
                assert vnc.recv(12) == b"RFB 003.008\n"
            typing = time.monotonic()
            type_boot_command(tmp_path / "qmp.sock", http_port)
            timings["typing"] = time.monotonic() - typing
            timings["typed_to_banner"] = wait_for(
                "SSH banner", lambda: banner_answers(ssh_port), BANNER_TIMEOUT, vm, console
            )
            timings["start_to_banner"] = time.monotonic() - started
            assert requested == [f"/{PRESEED_NAME}"]
            host_keys = console.host_keys()
            assert host_keys, console.tail()
            cmdline = use_guest(ssh_port, host_keys, keys, password, marker)
            asked = time.monotonic()
            wait_exit(vm, console)
            timings["poweroff"] = time.monotonic() - asked
            timings["total"] = time.monotonic() - started
        finally:
            stop(vm)

    assert f"url=http://{GUEST_HOST_IP}:{http_port}/{PRESEED_NAME}" in cmdline
    assert vm.returncode == 0, (tmp_path / "qemu.log").read_text(errors="replace")
    assert read_marker(qemu_img, debugfs, disk).strip() == marker
    report = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    record_property("timings", report)
    print(f"\nqemu test ISO (tcg) timings: {report}")
