"""vsphere-iso's own steps, one at a time, over FakeISODriver: run, check, clean up, check."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BuildCancelled, BuildError
from builder.events import Say
from builder.multistep import RunState
from builder.vsphere.common.driver import DiskSpec, NicSpec
from builder.vsphere.common.steps.step_add_floppy import StepAddFloppy
from builder.vsphere.common.steps.step_remove_floppy import StepRemoveFloppy
from builder.vsphere.common.steps.step_upload import StepRemoteUpload
from builder.vsphere.iso.steps.step_create_vm import StepCreateVM, create_spec
from builder.vsphere.iso.steps.step_download import StepDownloadISO, cached_targets
from tests.unit.vsphere.iso.conftest import MakeRun, config
from tests.unit.vsphere.iso.fakes import FakeISODriver, remote_names


def failed(run_state: RunState) -> None:
    run_state.fail(BuildError("a later step failed"), False)


def records(run) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(r.ref, r.name, r.state) for r in run.resources._resources]


# ------------------------------------------------------------------ StepCreateVM
def test_create_spec_carries_every_create_option() -> None:
    cfg = config(
        vm_version=13,
        guest_os_type="",
        notes="built by pybuild",
        folder="/templates/linux/",
        disk_controller_type=["pvscsi", "nvme"],
        storage=[
            {"disk_size": 2048, "disk_thin_provisioned": True},
            {"disk_size": 512, "disk_eagerly_scrub": True, "disk_controller_index": 1},
        ],
        network_adapters=[
            {
                "network": "VM Network",
                "network_card": "vmxnet3",
                "mac_address": "00:50:56:aa:bb:cc",
            },
            {"network": "DC0_DVPG0", "passthrough": True},
        ],
        usb_controller=["1", "xhci", "false"],
    )
    spec = create_spec(cfg, "run-9")
    assert spec.name == "isovm" and spec.version == 13 and spec.guest_os_type == "otherGuest"
    assert spec.annotation == "built by pybuild" and spec.run_id == "run-9"
    assert spec.placement.folder == "templates/linux" and spec.placement.host == "DC0_C0_H0"
    assert spec.storage.controller_types == ("pvscsi", "nvme")
    assert spec.storage.disks == (
        DiskSpec(2048, thin_provisioned=True),
        DiskSpec(512, eagerly_scrub=True, controller_index=1),
    )
    assert spec.nics == (
        NicSpec("VM Network", "vmxnet3", "00:50:56:aa:bb:cc", False),
        NicSpec("DC0_DVPG0", "e1000", "", True),  # no network_card: govmomi's e1000, as 1.6.6
    )
    assert spec.usb_controllers == ("usb", "xhci")
    assert create_spec(config()).storage.controller_types == ("",)  # 1.6.6's default lsilogic


def test_create_vm_records_the_vm_first_and_keeps_it_on_success(
    make_run: MakeRun, driver: FakeISODriver
) -> None:
    run, sink = make_run()
    step = StepCreateVM()
    step.run(run)
    assert run.vm is not None and run.vm.path == "/DC0/vm/isovm"
    assert sink.texts(Say) == ["Creating VM..."]
    assert driver.vms[run.vm.id].run_id == "run-1"  # the run id rides on the VM until kept
    assert records(run) == [("vsphere.vm", "isovm", "created")]
    step.cleanup(run)
    assert records(run) == [("vsphere.vm", "isovm", "kept")]
    assert driver.vms and not driver.vms[run.vm.id].run_id
    step.cleanup(run)  # twice is harmless
    assert len(driver.vms) == 1


def test_create_vm_is_destroyed_when_the_build_fails(
    make_run: MakeRun, driver: FakeISODriver
) -> None:
    run, sink = make_run()
    step = StepCreateVM()
    step.run(run)
    failed(run.state)
    step.cleanup(run)
    assert driver.vms == {}
    assert "Destroying VM..." in sink.texts(Say)
    assert records(run) == [("vsphere.vm", "isovm", "released")]


def test_an_existing_vm_is_an_error_unless_forced(make_run: MakeRun, driver: FakeISODriver) -> None:
    run, _ = make_run()
    StepCreateVM().run(run)
    old = run.vm
    again, sink = make_run()
    with pytest.raises(BuildError, match="isovm already exists, you can use -force flag"):
        StepCreateVM().run(again)
    forced, sink = make_run()
    StepCreateVM(force=True).run(forced)
    assert old is not None and old.id not in driver.vms and forced.vm is not None
    assert sink.texts(Say)[0] == (
        "the vm/template isovm already exists, but deleting it due to -force flag"
    )


def test_a_failed_create_names_the_missing_network_and_leaves_nothing(
    make_run: MakeRun, driver: FakeISODriver
) -> None:
    run, _ = make_run(network_adapters=[{"network": "VM Netwrk"}])
    step = StepCreateVM()
    with pytest.raises(BuildError) as err:
        step.run(run)
    text = str(err.value)
    assert text.startswith("error creating vm: network 'VM Netwrk' not found")
    assert "did you mean 'VM Network'?" in text
    step.cleanup(run)
    assert driver.vms == {} and records(run) == [("vsphere.vm", "isovm", "released")]


# ------------------------------------------------------------------ download and upload
def test_download_skips_an_iso_already_on_the_datastore(
    make_run: MakeRun, driver: FakeISODriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACKER_CACHE_DIR", str(tmp_path / "cache"))
    sha = "a" * 64
    run, sink = make_run(iso_url="http://127.0.0.1:9/x.iso", iso_checksum=f"sha256:{sha}")
    (target,) = cached_targets(run.config)
    name = Path(target).name
    driver.files[("LocalDS_0", f"packer_cache/{name}")] = b"iso"
    StepDownloadISO().run(run)  # no download: port 9 would refuse it
    assert sink.texts(Say) == [f"File {target} already uploaded; continuing"]
    assert run.iso_path == target  # not on this machine: StepRemoteUpload finds it there
    StepRemoteUpload().run(run)
    assert not [c for c in driver.calls if c.startswith("upload_file")]
    assert run.iso_datastore_paths == [f"[LocalDS_0] packer_cache/{name}"]
    assert sink.texts(Say)[-1] == (
        f"File [LocalDS_0] packer_cache/{name} already exists; skipping upload."
    )


def test_download_without_iso_urls_does_nothing(make_run: MakeRun, driver: FakeISODriver) -> None:
    run, sink = make_run(iso_paths=["[LocalDS_0] iso/debian.iso"])
    StepDownloadISO().run(run)
    assert sink.texts() == [] and driver.calls == [] and run.iso_path == ""


def test_a_local_iso_is_verified_in_place_then_uploaded(
    make_run: MakeRun, driver: FakeISODriver, tmp_path: Path
) -> None:
    import hashlib

    iso = tmp_path / "install.iso"
    iso.write_bytes(b"CD001 iso bytes")
    digest = hashlib.sha256(iso.read_bytes()).hexdigest()
    run, sink = make_run(iso_url=str(iso), iso_checksum=f"sha256:{digest}")
    StepDownloadISO().run(run)
    assert run.iso_path == str(iso)
    assert not [c for c in driver.calls if c.startswith("file_exists")]  # nothing to ask
    StepRemoteUpload().run(run)
    assert driver.files[("LocalDS_0", "packer_cache/install.iso")] == b"CD001 iso bytes"
    assert run.iso_datastore_paths == ["[LocalDS_0] packer_cache/install.iso"]


def test_a_mismatching_iso_is_never_uploaded(
    make_run: MakeRun, driver: FakeISODriver, tmp_path: Path
) -> None:
    iso = tmp_path / "install.iso"
    iso.write_bytes(b"not what was promised")
    run, _ = make_run(iso_url=str(iso), iso_checksum="sha256:" + "0" * 64)
    with pytest.raises(BuildError, match="0000000000"):
        StepDownloadISO().run(run)
    assert driver.files == {}


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("reset", BuildError),  # the transfer fails half way
        ("cancel", BuildCancelled),  # Ctrl-C during the PUT
    ],
)
def test_a_cut_iso_upload_is_deleted_so_no_later_build_reuses_it(
    make_run: MakeRun, driver: FakeISODriver, tmp_path: Path, fault: str, expected: type
) -> None:
    from builder.errors import DriverError

    iso = tmp_path / "install.iso"
    iso.write_bytes(b"CD001 " * 1000)

    def cut(datastore: str, path: str) -> None:
        driver.files[(datastore, path)] = b"CD001 "  # a truncated file is on the datastore
        if fault == "cancel":
            raise BuildCancelled("cancelled")
        raise DriverError(f"upload to [{datastore}] {path}: connection reset")

    run, _ = make_run(iso_url=str(iso), iso_checksum="none")
    run.iso_path = str(iso)
    driver.on_upload = cut
    with pytest.raises(expected):
        StepRemoteUpload().run(run)
    assert remote_names(driver) == []
    assert records(run)[-1] == (
        "vsphere.file",
        "[LocalDS_0] packer_cache/install.iso",
        "released",
    )
    # the next build uploads the whole ISO again instead of skipping a partial one
    driver.on_upload = None
    run2, sink = make_run(iso_url=str(iso), iso_checksum="none")
    run2.iso_path = str(iso)
    StepRemoteUpload().run(run2)
    assert driver.files[("LocalDS_0", "packer_cache/install.iso")] == iso.read_bytes()
    assert not [t for t in sink.texts(Say) if "skipping upload" in t]


# ------------------------------------------------------------------ floppies
def test_the_floppy_is_uploaded_next_to_the_vm_attached_then_removed(
    make_run: MakeRun, driver: FakeISODriver, tmp_path: Path
) -> None:
    img = tmp_path / "packer42"
    img.write_bytes(b"\0" * 512)
    run, sink = make_run(floppy_img_path="[LocalDS_0] flp/drivers.flp")
    StepCreateVM().run(run)
    run.floppy_path = str(img)
    add = StepAddFloppy()
    add.run(run)
    remote = "isovm/packer-tmp-created-floppy.flp"
    assert ("LocalDS_0", remote) in driver.files
    assert run.vm is not None
    assert driver.vms[run.vm.id].floppies == [
        f"[LocalDS_0] {remote}",
        "[LocalDS_0] flp/drivers.flp",
    ]
    assert sink.texts(Say)[1:] == [
        "Uploading created floppy image",
        "Adding generated Floppy...",
        "Adding Floppy image...",
    ]
    StepRemoveFloppy().run(run)
    assert driver.vms[run.vm.id].floppies == [] and ("LocalDS_0", remote) not in driver.files
    assert sink.texts(Say)[-2:] == ["Deleting Floppy drives...", "Deleting Floppy image..."]
    add.cleanup(run)
    assert [r for r in records(run) if r[0] == "vsphere.file"] == [
        ("vsphere.file", f"[LocalDS_0] {remote}", "released")
    ]
    assert driver.calls.count(f"delete_file [LocalDS_0] {remote}") == 1


def test_a_failed_build_deletes_the_uploaded_floppy(
    make_run: MakeRun, driver: FakeISODriver, tmp_path: Path
) -> None:
    img = tmp_path / "packer43"
    img.write_bytes(b"\0")
    run, sink = make_run()
    StepCreateVM().run(run)
    run.floppy_path = str(img)
    add = StepAddFloppy()
    add.run(run)
    failed(run.state)
    add.cleanup(run)
    assert "Deleting Floppy image ..." in sink.texts(Say)
    assert remote_names(driver) == []


def test_a_failed_floppy_upload_deletes_the_partial_file(
    make_run: MakeRun, driver: FakeISODriver, tmp_path: Path
) -> None:
    from builder.errors import DriverError

    img = tmp_path / "packer44"
    img.write_bytes(b"\0")

    def cut(datastore: str, path: str) -> None:
        raise DriverError(f"upload to [{datastore}] {path}: connection reset")

    run, _ = make_run()
    StepCreateVM().run(run)
    run.floppy_path = str(img)
    driver.on_upload = cut  # the file arrives in part, then the transfer fails
    with pytest.raises(BuildError, match="Error uploading the floppy image: upload to"):
        StepAddFloppy().run(run)
    assert remote_names(driver) == []
    assert records(run)[-1] == (
        "vsphere.file",
        "[LocalDS_0] isovm/packer-tmp-created-floppy.flp",
        "released",
    )


def test_an_unset_datastore_is_the_only_one_or_an_error_listing_them(
    make_run: MakeRun, driver: FakeISODriver, tmp_path: Path
) -> None:
    from builder.vsphere.common.datastore import build_datastore

    run, _ = make_run(datastore="")
    assert build_datastore(run) == "LocalDS_0"
    driver.datastores = ("LocalDS_0", "LocalDS_1")
    with pytest.raises(BuildError, match="one of: LocalDS_0, LocalDS_1"):
        build_datastore(run)
