"""vsphere-iso end to end through the engine, against FakeISODriver (no vCenter)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from builder.engine import RunOptions, load_template, prepare, run
from builder.events import Message, Say
from builder.ledger import Resource
from builder.testing import RecordingSink
from tests.unit.vsphere.iso.conftest import BASE
from tests.unit.vsphere.iso.fakes import FakeISODriver, remote_names

# packer 1.6.6's messages for this template, in its order (recorded from its run on the
# simulator; pybuild's media steps word their own details as messages between them)
PACKER_SAYS = [
    "Retrieving ISO",
    "Creating CD disk...",
    "Uploading install.iso to packer_cache/install.iso",
    "Creating VM...",
    "Customizing hardware...",
    "Mounting ISO images...",
    "Adding configuration parameters...",
    "Creating floppy disk...",
    "Uploading created floppy image",
    "Adding generated Floppy...",
    "Set boot order...",
    "Power on VM...",
    "Waiting 1ms for boot...",
    "Typing boot command...",
    "Deleting Floppy drives...",
    "Deleting Floppy image...",
    "Eject CD-ROM drives...",
    "Convert VM into template...",
]


def write(tmp_path: Path, **over: Any) -> Path:
    iso = tmp_path / "install.iso"
    iso.write_bytes(b"CD001 install")
    (tmp_path / "ks.cfg").write_text("# kickstart\n")
    (tmp_path / "meta-data").write_text("instance-id: x\n")
    block = {
        "type": "vsphere-iso",
        **BASE,
        "CPUs": 2,
        "RAM": 512,
        "iso_url": str(iso),
        "iso_checksum": "sha256:" + hashlib.sha256(iso.read_bytes()).hexdigest(),
        "cd_files": [str(tmp_path / "meta-data")],
        "floppy_files": [str(tmp_path / "ks.cfg")],
        "http_ip": "127.0.0.1",
        "boot_wait": "1ms",
        "boot_keygroup_interval": "1ms",
        "boot_command": ["<esc>ab<enter>"],
        "boot_order": "disk,cdrom",
        "convert_to_template": True,
        **over,
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [block]}))
    return path


def go(path: Path, **options: Any) -> tuple[Any, RecordingSink, list[tuple[str, Resource]]]:
    opts = RunOptions(record_resources=False, **options)
    records: list[tuple[str, Resource]] = []
    opts.ledger.observers.append(lambda rec, build, res: records.append((rec, res)))
    prepared = prepare(load_template(str(path)), opts)
    assert not prepared.errors, prepared.all_errors
    sink = RecordingSink()
    (result,) = run(prepared, sink).values()
    return result, sink, records


def test_an_iso_build_runs_packers_steps_in_order_and_keeps_a_template(
    fake: FakeISODriver, tmp_path: Path
) -> None:
    fake.halt_after_keys = 4
    result, sink, records = go(write(tmp_path))
    assert result.error is None, result.error
    says = [s for s in sink.texts(Say, "vsphere-iso") if s in PACKER_SAYS]
    assert says == PACKER_SAYS
    assert "VM is already powered off" in sink.texts(Say, "vsphere-iso")  # the guest halted
    (artifact,) = result.artifacts
    assert artifact.builder_id == "jetbrains.vsphere" and artifact.id == "isovm"
    assert artifact.string() == "/DC0/vm/isovm"
    (vm,) = fake.vms.values()
    assert vm.template and vm.hardware is not None and vm.hardware.cpus == 2
    assert vm.boot_order == ["disk", "cdrom"]
    assert [c for c, _ in vm.cdroms] == ["", ""] and all(not b for _, b in vm.cdroms)
    assert vm.floppies == [] and not vm.run_id
    # the ISO stays on the datastore (1.6.6), so does the cd_files image of a successful
    # build (1.6.6); the floppy image is gone
    names = remote_names(fake)
    assert "[LocalDS_0] packer_cache/install.iso" in names
    assert not any(n.endswith(".flp") for n in names)
    assert [e.usage for call in fake.typed for e in call] == [0x29, 0x04, 0x05, 0x28]
    refs = {(rec, r.ref) for rec, r in records}
    assert ("kept", "vsphere.vm") in refs and ("released", "vsphere.session") in refs
    assert ("released", "local.file") in refs  # the cd and floppy images on this machine
    assert fake.calls[-1] == "logout" and fake.closed == 1


def test_without_boot_command_or_communicator_the_guest_powers_off(
    fake: FakeISODriver, tmp_path: Path
) -> None:
    path = write(tmp_path, boot_command=[], cd_files=[], floppy_files=[],
                 convert_to_template=False, create_snapshot=True)  # fmt: skip
    fake.halt_after_polls = 2  # on at the first look, off after the step's first wait
    result, sink, _ = go(path)
    assert result.error is None, result.error
    says = sink.texts(Say, "vsphere-iso")
    assert not any(s.startswith("Waiting") for s in says)  # no boot wait without a command
    assert "Please shutdown virtual machine within 5m0s." in sink.texts(Message, "vsphere-iso")
    assert fake.polls == 2 and "Creating snapshot..." in says
    (vm,) = fake.vms.values()
    assert vm.snapshots == ["Created by Packer"] and not vm.template


def test_a_failed_boot_command_destroys_the_vm_and_deletes_every_upload(
    fake: FakeISODriver, tmp_path: Path
) -> None:
    fake.fail["put_usb_scan_codes"] = "InvalidPowerState"
    result, sink, records = go(write(tmp_path))
    assert "Error running boot command: error typing a boot command" in str(result.error)
    assert fake.vms == {}
    assert remote_names(fake) == ["[LocalDS_0] packer_cache/install.iso"]  # kept as 1.6.6
    says = sink.texts(Say, "vsphere-iso")
    for line in ("Power off VM...", "Deleting Floppy image ...", "Destroying VM...",
                 "Deleting cd_files image from remote datastore ..."):  # fmt: skip
        assert line in says, line
    outstanding = {r.rid: r for _, r in records}.values()
    assert [r for r in outstanding if r.state in ("creating", "created")] == []


def test_force_replaces_an_existing_vm(fake: FakeISODriver, tmp_path: Path) -> None:
    fake.halt_after_keys = 4
    path = write(tmp_path)
    assert go(path)[0].error is None
    result, _, _ = go(path)
    assert "isovm already exists, you can use -force flag to destroy it" in str(result.error)
    result, sink, _ = go(path, force=True)
    assert result.error is None, result.error
    assert len(fake.vms) == 1


def test_the_plan_lists_what_the_build_will_make(fake: FakeISODriver, tmp_path: Path) -> None:
    from builder.vsphere.iso import Builder

    prepared = prepare(load_template(str(write(tmp_path))), RunOptions(record_resources=False))
    (build,) = prepared.builds
    assert isinstance(build.builder, Builder)
    plan = dict(build.builder.plan_steps())
    assert [c.ref for c in plan["StepCreateVM"]] == ["vsphere.vm"]
    assert plan["StepCreateVM"][0].name == "isovm"
    assert [c.ref for c in plan["StepAddFloppy"]] == ["vsphere.file"]
    assert plan["StepAddFloppy"][0].name == "[LocalDS_0] isovm/packer-tmp-created-floppy.flp"
    assert [c.ref for c in plan["StepConnectVSphere"]] == ["vsphere.session"]


@pytest.mark.parametrize(
    ("over", "path", "message"),
    [
        ({"storage": []}, "builders[0].storage", "no storage devices have been defined"),
        ({"iso_skip_cache": True}, "builders[0].iso_skip_cache", "unknown option"),
        ({"boot_command": ["<entre>"]}, "builders[0].boot_command[0]", "did you mean '<enter>'"),
        ({"guest_os_typ": "x"}, "builders[0]", "unknown option 'guest_os_typ'"),
    ],
)
def test_bad_input_is_named_at_validate(
    fake: FakeISODriver, tmp_path: Path, over: dict[str, Any], path: str, message: str
) -> None:
    prepared = prepare(
        load_template(str(write(tmp_path, **over))), RunOptions(record_resources=False)
    )
    texts = [str(e) for e in prepared.all_errors]
    assert any(path in t and message in t for t in texts), texts
