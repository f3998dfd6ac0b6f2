"""The qemu builder end to end through the engine, against FakeQemuDriver (no qemu runs)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from builder.engine import RunOptions, load_template, prepare, run
from builder.events import Message, Say
from builder.ledger import Resource
from builder.qemu.artifact import BUILDER_ID
from builder.testing import RecordingSink
from tests.unit.qemu.fakes import FakeQemuDriver


def block(iso: Path, **over: Any) -> dict[str, Any]:
    return {
        "type": "qemu",
        "iso_url": str(iso),
        "iso_checksum": "none",
        "communicator": "none",
        "accelerator": "tcg",
        "headless": True,
        "disable_vnc": True,
        "disk_size": "1G",
        **over,
    }


def go(
    tmp_path: Path, data: dict[str, Any], options: RunOptions | None = None
) -> tuple[Any, RecordingSink, list[tuple[str, Resource]]]:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data, indent=2))
    options = options or RunOptions(record_resources=False)
    records: list[tuple[str, Resource]] = []
    options.ledger.observers.append(lambda rec, build, res: records.append((rec, res)))
    prepared = prepare(load_template(str(path)), options)
    assert not prepared.errors, prepared.all_errors
    sink = RecordingSink()
    return run(prepared, sink), sink, records


def flags(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag]


def test_an_iso_build_creates_the_disk_starts_qemu_and_keeps_the_output(
    fake: FakeQemuDriver, iso: Path, tmp_path: Path
) -> None:
    fake.powers_off_alone = True
    results, sink, records = go(tmp_path, {"builders": [block(iso)]})
    result = results["qemu"]
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    assert artifact.builder_id == BUILDER_ID == "transcend.qemu"
    assert artifact.id == "VM" and artifact.string() == "VM files in directory: output-qemu"
    assert artifact.files == [os.path.join("output-qemu", "packer-qemu")]
    assert artifact.state("diskType") == "qcow2" and artifact.state("domainType") == "tcg"
    assert fake.img_calls[0] == ["create", "-f", "qcow2", "output-qemu/packer-qemu", "1G"]
    (args,) = fake.started
    assert flags(args, "-machine") == ["type=pc,accel=tcg"]
    assert flags(args, "-netdev") == ["user,id=user.0"]  # communicator none: no forward
    assert flags(args, "-drive")[1] == f"file={iso},index=0,media=cdrom"
    says = sink.texts(Say, "qemu")
    assert says[:2] == ["Retrieving ISO", f"Trying {iso}"] or "Retrieving ISO" in says
    assert "Starting VM, booting from CD-ROM" in says
    assert "Waiting for shutdown..." in says
    assert fake.closed == 1  # the driver is closed when the build ends
    kinds = [(rec, r.ref) for rec, r in records]
    assert ("create", "local.dir") in kinds and ("kept", "local.dir") in kinds
    assert [rec for rec, r in records if r.ref == "qemu.process"] == [
        "create",
        "created",
        "released",
    ]
    process = next(r for _, r in records if r.ref == "qemu.process")
    assert process.id == "4242" and process.name == fake.env["PYBUILD_QEMU_ID"]
    artifact.destroy()
    assert not (tmp_path / "output-qemu").exists()


def test_compression_converts_with_c_and_renames_over_the_disk(
    fake: FakeQemuDriver, iso: Path, tmp_path: Path
) -> None:
    fake.powers_off_alone = True
    cfg = block(iso, disk_compression=True, qemu_img_args={"convert": ["-o", "compat=1.1"]},
                disk_additional_size=["2G"])  # fmt: skip
    results, sink, _ = go(tmp_path, {"builders": [cfg]})
    assert results["qemu"].error is None, results["qemu"].error
    d = "output-qemu/packer-qemu"
    assert fake.img_calls == [
        ["create", "-f", "qcow2", d, "1G"],
        ["create", "-f", "qcow2", f"{d}-1", "2G"],
        ["convert", "-c", "-o", "compat=1.1", "-O", "qcow2", d, f"{d}.convert"],
    ]
    assert sorted(os.listdir("output-qemu")) == ["packer-qemu", "packer-qemu-1"]
    assert "Converting hard drive..." in sink.texts(Say, "qemu")
    assert "Creating required virtual machine disks" in sink.texts(Say, "qemu")


def test_a_locked_disk_is_retried_then_converted(
    fake: FakeQemuDriver, iso: Path, tmp_path: Path
) -> None:
    fake.powers_off_alone = True
    fake.img_errors["convert"] = ['Failed to get shared "write" lock']
    results, sink, _ = go(tmp_path, {"builders": [block(iso, disk_compression=True)]})
    assert results["qemu"].error is None
    assert "Error getting file lock for conversion; retrying..." in sink.texts(Say, "qemu")


def test_a_disk_image_is_copied_resized_or_backed(fake: FakeQemuDriver, tmp_path: Path) -> None:
    fake.powers_off_alone = True
    image = tmp_path / "base.qcow2"
    image.write_bytes(b"QFI\xfb")
    cfg = block(image, disk_image=True, vm_name="vm.qcow2")
    results, sink, _ = go(tmp_path, {"builders": [cfg]})
    assert results["qemu"].error is None, results["qemu"].error
    d = "output-qemu/vm.qcow2"
    assert fake.img_calls == [  # resized, then compacted (qcow2 and skip_compaction unset)
        ["resize", "-f", "qcow2", d, "1G"],
        ["convert", "-O", "qcow2", d, f"{d}.convert"],
    ]
    assert "File extension already matches desired output format. Skipping qemu-img convert " \
        "step" in sink.texts(Message, "qemu")  # fmt: skip
    assert (tmp_path / "output-qemu" / "vm.qcow2").exists()
    assert flags(fake.started[0], "-boot") == ["c"]

    fake.img_calls.clear()
    cfg = block(image, disk_image=True, use_backing_file=True, output_directory="out2")
    results, _, _ = go(tmp_path, {"builders": [cfg]})
    assert results["qemu"].error is None, results["qemu"].error
    assert fake.img_calls[0] == ["info", "--output=json", str(image)]
    assert fake.img_calls[1] == ["create", "-f", "qcow2", "-b", str(image), "-F", "qcow2",
                                 "out2/packer-qemu", "1G"]  # fmt: skip


def test_qemu_that_will_not_start_fails_with_a_hint_and_removes_the_output(
    fake: FakeQemuDriver, iso: Path, tmp_path: Path
) -> None:
    fake.fail_start = "qemu-system-x86_64: gtk initialization failed"
    results, sink, records = go(tmp_path, {"builders": [block(iso, headless=False)]})
    error = str(results["qemu"].error)
    assert "Error launching VM: Qemu failed to start (exit status 1)" in error
    assert 'set "headless": true' in error
    assert not (tmp_path / "output-qemu").exists()
    assert "Deleting output directory..." in sink.texts(Say, "qemu")
    assert records[-1][0] == "released" and all(r.state == "released" for _, r in records)


def test_qemuargs_override_defaults_with_run_time_values(
    fake: FakeQemuDriver, iso: Path, tmp_path: Path
) -> None:
    fake.powers_off_alone = True
    (tmp_path / "http").mkdir()
    rows = [
        ["-m", "1024M"],
        ["-fw_cfg", "name=opt/url,string=http://{{ .HTTPIP }}:{{ .HTTPPort }}/x"],
        ["-name", "{{ .Name }}-in-{{ .OutputDir }}"],
        ["-no-reboot"],
    ]
    results, sink, _ = go(
        tmp_path, {"builders": [block(iso, qemuargs=rows, http_directory="http")]}
    )
    assert results["qemu"].error is None, results["qemu"].error
    (args,) = fake.started
    http_port = int(sink.texts(Say, "qemu")[[i for i, t in enumerate(sink.texts(Say, "qemu"))
                    if t.startswith("Starting HTTP server on port")][0]].rsplit(" ", 1)[1])  # fmt: skip
    assert flags(args, "-m") == ["1024M"]
    assert flags(args, "-fw_cfg") == [f"name=opt/url,string=http://10.0.2.2:{http_port}/x"]
    assert flags(args, "-name") == ["packer-qemu-in-output-qemu"]
    assert "-no-reboot" in args
    assert "Overriding default Qemu arguments with qemuargs template option..." in sink.texts(
        Say, "qemu"
    )


def busy_port() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def test_no_free_vnc_port_in_the_range(fake: FakeQemuDriver, iso: Path, tmp_path: Path) -> None:
    sock, port = busy_port()
    if port < 5900:
        sock.close()
        pytest.skip("the kernel gave a port below the VNC range")
    with sock:
        cfg = block(iso, vnc_port_min=port, vnc_port_max=port)
        results, _, _ = go(tmp_path, {"builders": [cfg]})
    assert str(results["qemu"].error) == (
        f"Error finding VNC port: no free port between {port} and {port} on 127.0.0.1"
    )
    assert fake.started == [] and not (tmp_path / "output-qemu").exists()


def test_no_free_host_port_in_the_range(fake: FakeQemuDriver, iso: Path, tmp_path: Path) -> None:
    sock, port = busy_port()
    with sock:
        cfg = block(iso, communicator="ssh", ssh_username="root", ssh_password="pw",
                    host_port_min=port, host_port_max=port)  # fmt: skip
        results, _, _ = go(tmp_path, {"builders": [cfg]})
    assert str(results["qemu"].error) == (
        f"Error finding port: no free port between {port} and {port} on 127.0.0.1"
    )
    assert fake.started == []


def test_ctrl_c_during_the_boot_wait_stops_qemu_and_removes_the_output(
    fake: FakeQemuDriver, iso: Path, tmp_path: Path
) -> None:
    options = RunOptions(record_resources=False)
    cfg = block(iso, disable_vnc=False, boot_wait="10m", boot_command=["<enter>"])
    outcome: dict[str, Any] = {}

    def build() -> None:
        outcome["results"], outcome["sink"], _ = go(tmp_path, {"builders": [cfg]}, options)

    thread = threading.Thread(target=build)
    thread.start()
    deadline = time.monotonic() + 30
    while not fake.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.started, "qemu was never started"
    began = time.monotonic()
    options.cancel.cancel()  # what the CLI does on SIGINT
    thread.join(timeout=30)
    assert not thread.is_alive()
    result = outcome["results"]["qemu"]
    assert result.cancelled
    assert fake.stops >= 1 and not fake.running_vm
    assert not (tmp_path / "output-qemu").exists()
    assert time.monotonic() - began < 10  # bounded: the wait is a cancel wait, not a sleep


def test_plan_names_the_output_directory_and_the_process(
    fake: FakeQemuDriver, iso: Path, tmp_path: Path
) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [block(iso)]}))
    prepared = prepare(load_template(str(path)), RunOptions(record_resources=False))
    builder = prepared.builds[0].builder
    planned = builder.plan_steps()
    assert planned is not None
    steps = dict(planned)
    assert [c.ref for c in steps["StepPrepareOutputDir"]] == ["local.dir"]
    assert [c.ref for c in steps["StepRun"]] == ["qemu.process"]
    (writes,) = builder.plan_writes()
    assert writes.mode == "refuse" and writes.path == str(tmp_path / "output-qemu")


def test_qemu_not_installed_is_a_clear_error(
    plugins: Any, iso: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real driver (no fake): a qemu_binary that is not there names the package."""
    from builder.qemu import Builder

    monkeypatch.chdir(tmp_path)
    plugins("builder", "qemu", Builder)
    results, _, _ = go(tmp_path, {"builders": [block(iso, qemu_binary="qemu-system-nothere")]})
    error = str(results["qemu"].error)
    assert "qemu-system-nothere: executable file not found in $PATH" in error
    assert "apt-get install qemu-system-x86" in error
    assert not (tmp_path / "output-qemu").exists()
