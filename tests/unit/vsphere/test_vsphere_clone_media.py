"""vsphere-clone's cd_files and floppy options (Packer 1.6.6), end to end over FakeVSphereDriver.

The CD image is made before the clone, uploaded to packer_cache/ and mounted with the
CD-ROMs; the floppy image only in a build with a communicator: made after customize,
uploaded next to the VM and attached, the drives and image removed after the shutdown.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from builder.engine import RunOptions, load_template, prepare, run
from builder.events import Say
from builder.ledger import Resource
from builder.testing import RecordingSink
from tests.unit.vsphere.fake_driver import FakeVSphereDriver, vm_named
from tests.unit.vsphere.test_vsphere_clone_builder import BASE

FLOPPY = "[LocalDS_0] clone1/packer-tmp-created-floppy.flp"
FLOPPY_SIZE = 1474560  # a 1.44 MB FAT12 image


def media(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "cd").mkdir()
    (tmp_path / "cd" / "meta-data").write_text("instance-id: clone1\n")
    (tmp_path / "ks.cfg").write_text("# kickstart\n")
    return {
        "datastore": "LocalDS_0",
        "cd_files": [str(tmp_path / "cd" / "meta-data")],
        "cd_label": "cidata",
        "floppy_files": [str(tmp_path / "ks.cfg")],
        "floppy_label": "OEMDRV",
    }


def with_ssh(**over: Any) -> dict[str, Any]:
    return {"communicator": "ssh", "ssh_username": "u", "ssh_password": "unused-pw",
            "ip_settle_timeout": "1ms", "http_ip": "192.0.2.1", **over}  # fmt: skip


@pytest.fixture
def connected(monkeypatch: pytest.MonkeyPatch) -> None:
    """StepConnect hands over a FakeCommunicator (the fake guest has no sshd)."""
    from builder.common.steps import connect
    from builder.testing import FakeCommunicator

    def connect_fake(self: Any, ctx: Any) -> None:
        ctx.communicator = FakeCommunicator()

    monkeypatch.setattr(connect.StepConnect, "run", connect_fake)


def prepared(tmp_path: Path, **over: Any) -> Any:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [{**BASE, **over}]}))
    result = prepare(load_template(str(path)), RunOptions(record_resources=False))
    assert not result.errors, result.all_errors
    return result


def go(tmp_path: Path, **over: Any) -> tuple[Any, RecordingSink, list[tuple[str, Resource]]]:
    build = prepared(tmp_path, **over)
    records: list[tuple[str, Resource]] = []
    build.options.ledger.observers.append(lambda rec, _b, res: records.append((rec, res)))
    sink = RecordingSink()
    return run(build, sink)["vsphere-clone"], sink, records


def in_order(texts: list[str], *expected: str) -> None:
    for line in expected:
        assert line in texts, (line, texts)
        texts = texts[texts.index(line) + 1 :]


def cd_remote(fake: FakeVSphereDriver) -> str:
    (path,) = [p for ds, p in fake.uploaded if p.startswith("packer_cache/")]
    return path


def local_images(records: list[tuple[str, Resource]]) -> list[Resource]:
    return list({r.rid: r for rec, r in records if r.ref == "local.file"}.values())


def test_a_clone_mounts_the_cd_and_floppy_images_and_removes_the_floppy(
    fake: FakeVSphereDriver, tmp_path: Path, connected: None
) -> None:
    over = media(tmp_path)
    result, sink, records = go(tmp_path, **with_ssh(**over), floppy_img_path="[LocalDS_0] f.flp")
    assert result.error is None, result.error
    cd = cd_remote(fake)
    in_order(
        sink.texts(Say),
        "Creating CD disk...",
        f"Uploading {os.path.basename(cd)} to {cd}",
        "Cloning VM...",
        "Mounting ISO images...",
        "Adding configuration parameters...",
        "Creating floppy disk...",
        "Uploading created floppy image",
        "Adding generated Floppy...",
        "Adding Floppy image...",
        "Power on VM...",
        "Shutting down VM...",
        "Deleting Floppy drives...",
        "Deleting Floppy image...",
        "Eject CD-ROM drives...",
    )
    assert ("add_cdrom", ("", f"[LocalDS_0] {cd}")) in fake.calls
    floppies = [a for op, a in fake.calls if op == "add_floppy"]
    assert floppies == [FLOPPY, "[LocalDS_0] f.flp"]
    image = fake.uploaded[("LocalDS_0", "clone1/packer-tmp-created-floppy.flp")]
    assert len(image) == FLOPPY_SIZE and b"OEMDRV" in image[:64]  # the FAT boot sector
    assert fake.uploaded[("LocalDS_0", cd)][0x8001:0x8006] == b"CD001"
    ops = fake.ops()
    assert ops.index("add_floppy") < ops.index("power_on")
    assert ops.index("shutdown_guest") < ops.index("remove_floppies") < ops.index("eject_cdroms")
    vm = vm_named(fake, "clone1")
    assert vm is not None and vm.floppies == [] and vm.cdroms == [""]
    # 1.6.6 leaves the cd_files image in packer_cache/ (kept); the floppy image is deleted
    assert set(fake.files) == {("LocalDS_0", cd)}
    uploads = {r.name: r.state for _, r in records if r.ref == "vsphere.file"}
    assert uploads == {f"[LocalDS_0] {cd}": "kept", FLOPPY: "released"}
    images = local_images(records)
    assert len(images) == 2 and all(r.state == "released" for r in images)
    assert not any(os.path.exists(r.id) for r in images)


def test_without_a_communicator_only_the_cd_is_made_and_the_floppy_is_warned_about(
    fake: FakeVSphereDriver, tmp_path: Path
) -> None:
    over = media(tmp_path)
    warnings = prepared(tmp_path, **over).builds[0].warnings
    assert any("floppy_files ignored" in w and "communicator" in w for w in warnings), warnings
    result, sink, records = go(tmp_path, **over)
    assert result.error is None, result.error
    texts = sink.texts(Say)
    assert "Creating CD disk..." in texts
    assert not [t for t in texts if "Floppy" in t or "floppy" in t], texts
    assert not {"add_floppy", "remove_floppies"} & set(fake.ops())
    assert [p for _, p in fake.files] == [cd_remote(fake)]
    (image,) = local_images(records)
    assert image.state == "released"


def test_a_failed_build_deletes_both_uploaded_images(
    fake: FakeVSphereDriver, tmp_path: Path, connected: None
) -> None:
    from builder.errors import DriverError

    fake.fail["power_on"] = DriverError("PowerOnVM_Task: InsufficientResourcesFault")
    result, sink, records = go(tmp_path, **with_ssh(**media(tmp_path)))
    assert "InsufficientResourcesFault" in str(result.error)
    texts = sink.texts(Say)
    for line in ("Deleting Floppy image ...", "Destroying VM...",
                 "Deleting cd_files image from remote datastore ..."):  # fmt: skip
        assert line in texts, (line, texts)
    assert fake.files == {} and vm_named(fake, "clone1") is None
    assert len(fake.uploaded) == 2
    left = {r.rid: r for _, r in records}.values()
    assert [r for r in left if r.state in ("creating", "created")] == []


def test_the_plan_lists_the_images_and_1_6_6_step_order(
    fake: FakeVSphereDriver, tmp_path: Path
) -> None:
    build = prepared(tmp_path, **with_ssh(**media(tmp_path), boot_command=["<enter>"]))
    (b,) = build.builds
    plan = dict(b.builder.plan_steps())
    assert list(plan) == [
        "StepConnectVSphere",
        "StepCreateCD",
        "StepRemoteUpload",
        "StepCloneVM",
        "StepConfigureHardware",
        "StepAddCDRom",
        "StepConfigParams",
        "StepCreateFloppy",
        "StepAddFloppy",
        "StepHTTPIPDiscover",
        "StepHTTPServer",
        "StepSshKeyPair",
        "StepRun",
        "StepBootCommand",
        "StepWaitForIp",
        "StepConnect",
        "StepProvision",
        "StepShutdown",
        "StepRemoveFloppy",
        "StepRemoveCDRom",
        "StepCreateSnapshot",
        "StepConvertToTemplate",
    ]
    assert [c.ref for c in plan["StepCreateCD"]] == ["local.file"]
    assert [c.ref for c in plan["StepCreateFloppy"]] == ["local.file"]
    (cd,) = plan["StepRemoteUpload"]
    assert (cd.ref, cd.name) == ("vsphere.file", "[LocalDS_0] packer_cache/packer<random>.iso")
    (floppy,) = plan["StepAddFloppy"]
    assert (floppy.ref, floppy.name) == ("vsphere.file", FLOPPY)
    assert fake.calls == []  # planning is offline


def test_the_plan_without_images_or_a_communicator(fake: FakeVSphereDriver, tmp_path: Path) -> None:
    (b,) = prepared(tmp_path).builds
    plan = dict(b.builder.plan_steps())
    assert plan["StepCreateCD"] == [] and plan["StepRemoteUpload"] == []
    assert not {"StepCreateFloppy", "StepAddFloppy", "StepRemoveFloppy"} & set(plan)


@pytest.mark.parametrize(
    ("over", "where", "message"),
    [
        ({"cd_files": ["missing.txt"]}, "builders[0].cd_files[0]", "Bad CD disk file"),
        ({"floppy_files": ["nope.cfg"]}, "builders[0].floppy_files[0]", "Bad Floppy disk file"),
        ({"floppy_label": "much-too-long"}, "builders[0].floppy_label", "a FAT label"),
        ({"cd_label": "x" * 33}, "builders[0].cd_label", "at most 32"),
        ({"floppy_img_pth": "[ds] f.flp"}, "builders[0]", "did you mean 'floppy_img_path'"),
    ],
)
def test_the_media_options_are_checked_at_validate(
    fake: FakeVSphereDriver, tmp_path: Path, over: dict[str, Any], where: str, message: str
) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [{**BASE, **over}]}))
    result = prepare(load_template(str(path)), RunOptions(record_resources=False))
    texts = [str(e) for e in result.all_errors]
    assert any(where in t and message in t for t in texts), texts


@pytest.mark.packer
def test_packer_validates_the_same_media_options(tmp_path: Path) -> None:
    """Packer 1.6.6's vsphere-clone takes every one of these options, as pybuild does."""
    import shutil
    import subprocess

    packer = shutil.which("packer")
    if packer is None:
        pytest.skip("packer 1.6.6 is not installed (Debian package packer)")
    block = {**BASE, **media(tmp_path), "floppy_dirs": [str(tmp_path / "cd")],
             "floppy_img_path": "[LocalDS_0] f.flp"}  # fmt: skip
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [block]}))
    proc = subprocess.run(
        [packer, "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CHECKPOINT_DISABLE": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not prepare(load_template(str(path)), RunOptions(record_resources=False)).errors
