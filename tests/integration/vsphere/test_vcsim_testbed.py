"""The vSphere simulator testbed itself: credentials, the inventory TESTBED.md describes,
guest IPs from customization, and the launcher's extensions (PutUsbScanCodes, ExportVm,
CreateDescriptor, the SOAP log, sessions, datastore files behind a login)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.vsphere.conftest import (
    CLUSTER,
    DATACENTER,
    DATASTORE,
    DV_PORTGROUP,
    HOSTS,
    NETWORK,
    SOURCE_VM,
    STANDALONE_HOST,
    VMS,
    LeakCheck,
    UsbKeyEvent,
    Vcsim,
)

HID_A, HID_ENTER = 0x04, 0x28
PACKER = shutil.which("packer")


def wait(task: Any) -> Any:
    from pyVim.task import WaitForTask

    WaitForTask(task)
    return task.info.result


@pytest.fixture
def si(vsphere: LeakCheck) -> Iterator[Any]:
    with vsphere.connection() as connection:
        yield connection


def clone(si: Any, name: str, ip: str | None = None) -> Any:
    """A powered-off clone of SOURCE_VM in DC0's vm folder, customized to `ip` when given:
    by CustomizeVM_Task after the clone, as packer 1.6.6 does (vcsim 0.24 ignores a
    CloneSpec's customization)."""
    from pyVmomi import vim

    source = si.content.searchIndex.FindByInventoryPath(f"{DATACENTER}/vm/{SOURCE_VM}")
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(), powerOn=False, template=False)
    vm = wait(source.CloneVM_Task(folder=source.parent, name=name, spec=spec))
    if ip is not None:
        customization = vim.vm.customization.Specification(
            identity=vim.vm.customization.LinuxPrep(
                hostName=vim.vm.customization.FixedName(name="pybuild"), domain="local"
            ),
            globalIPSettings=vim.vm.customization.GlobalIPSettings(),
            nicSettingMap=[
                vim.vm.customization.AdapterMapping(
                    adapter=vim.vm.customization.IPSettings(
                        ip=vim.vm.customization.FixedIp(ipAddress=ip), subnetMask="255.0.0.0"
                    )
                )
            ],
        )
        wait(vm.CustomizeVM_Task(spec=customization))
    return vm


def destroy(vm: Any) -> None:
    from pyVmomi import vim

    if vm.runtime.powerState == vim.VirtualMachine.PowerState.poweredOn:
        wait(vm.PowerOffVM_Task())
    wait(vm.Destroy_Task())


@pytest.fixture
def new_vm(si: Any) -> Iterator[Any]:
    """A powered-off clone called pybuild-it-<hex>, destroyed after the test."""
    vm = clone(si, f"pybuild-it-{secrets.token_hex(4)}")
    yield vm
    destroy(vm)


def test_wrong_password_and_wrong_user_are_refused(vcsim: Vcsim) -> None:
    from pyVmomi import vim

    with pytest.raises(vim.fault.InvalidLogin):
        vcsim.connect(password=vcsim.password + "x")
    with pytest.raises(vim.fault.InvalidLogin):
        vcsim.connect(username="administrator@vsphere.local")
    with vcsim.connection() as si:
        assert si.content.about.apiType == "VirtualCenter"


def test_inventory_is_the_vpx_model(si: Any, vsphere: LeakCheck) -> None:
    from pyVmomi import vim

    content = si.content
    (datacenter,) = content.rootFolder.childEntity
    assert datacenter.name == DATACENTER
    computes = {c.name: c for c in datacenter.hostFolder.childEntity}
    assert set(computes) == {CLUSTER, STANDALONE_HOST}
    assert isinstance(computes[CLUSTER], vim.ClusterComputeResource)
    assert sorted(h.name for h in computes[CLUSTER].host) == list(HOSTS)
    assert computes[CLUSTER].resourcePool.name == "Resources"
    assert [d.name for d in datacenter.datastore] == [DATASTORE]
    assert {n.name for n in datacenter.network} >= {NETWORK, DV_PORTGROUP}
    vms = {vm.name: vm for vm in datacenter.vmFolder.childEntity}
    assert set(VMS) <= set(vms)
    for name in VMS:
        assert vms[name].runtime.powerState == vim.VirtualMachine.PowerState.poweredOn
        assert vms[name].config.hardware.numCPU == 1
        assert vms[name].config.hardware.memoryMB == 32
    inventory = vsphere.inventory()
    assert {entry.split()[0] for entry in inventory["vm"]} >= set(VMS)
    assert f"{SOURCE_VM}/{SOURCE_VM}.vmx" in inventory["file"]
    assert vsphere.vm(si, SOURCE_VM).name == SOURCE_VM
    assert vsphere.vm(si, "no-such-vm") is None


def test_a_customized_clone_reports_its_fixed_ip_once_powered_on(si: Any) -> None:
    name = f"pybuild-it-{secrets.token_hex(4)}"
    vm = clone(si, name, ip="127.0.0.1")
    try:
        assert vm.guest.ipAddress in (None, "")
        wait(vm.PowerOnVM_Task())
        assert vm.guest.ipAddress == "127.0.0.1"
        assert vm.guest.hostName == "pybuild"
    finally:
        destroy(vm)


def test_put_usb_scan_codes_are_recorded_per_call(vsphere: LeakCheck, new_vm: Any) -> None:
    from pyVmomi import vim as vim_types

    vim: Any = vim_types  # pyvmomi's stubs lack the UsbScanCodeSpec types

    def event(usage: int, **modifiers: bool) -> Any:
        return vim.UsbScanCodeSpecKeyEvent(
            usbHidCode=(usage << 16) | 7,
            modifiers=vim.UsbScanCodeSpecModifierType(**modifiers),
        )

    with pytest.raises(vim.fault.InvalidPowerState):  # a VM that is off has no keyboard
        new_vm.PutUsbScanCodes(vim.UsbScanCodeSpec(keyEvents=[event(HID_A)]))
    wait(new_vm.PowerOnVM_Task())
    first = [event(HID_A, leftShift=True, leftAlt=False), event(HID_A)]
    assert new_vm.PutUsbScanCodes(vim.UsbScanCodeSpec(keyEvents=first)) == 2
    assert new_vm.PutUsbScanCodes(vim.UsbScanCodeSpec(keyEvents=[event(HID_ENTER)])) == 1

    shift_a = UsbKeyEvent((HID_A << 16) | 7, HID_A, frozenset({"leftShift"}))
    plain_a = UsbKeyEvent((HID_A << 16) | 7, HID_A)
    enter = UsbKeyEvent((HID_ENTER << 16) | 7, HID_ENTER)
    assert vsphere.usb_scan_calls(new_vm.name) == [[shift_a, plain_a], [enter]]
    assert vsphere.usb_scan_codes(new_vm._moId) == [shift_a, plain_a, enter]
    assert vsphere.usb_scan_codes(SOURCE_VM) == []


def test_export_lease_serves_the_disk_until_completed(
    si: Any, vsphere: LeakCheck, new_vm: Any
) -> None:
    from pyVmomi import vim

    disk = next(
        d for d in new_vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)
    )
    backing: Any = disk.backing
    disk_path = backing.fileName.split("] ", 1)[1]  # "[LocalDS_0] name/disk1.vmdk"
    payload = secrets.token_bytes(4096)
    vsphere.upload(disk_path, payload)

    lease = new_vm.ExportVm()
    assert lease.state == vim.HttpNfcLease.State.ready
    (device,) = [d for d in lease.info.deviceUrl if d.disk]
    assert device.url.startswith("https://*/")
    assert device.fileSize == len(payload)
    url = device.url.replace("*", vsphere.vcenter_server, 1)
    context = ssl._create_unverified_context()
    with urllib.request.urlopen(url, context=context, timeout=30) as response:
        assert response.read() == payload

    params = vim.OvfManager.CreateDescriptorParams(
        name="exported",
        ovfFiles=[
            vim.OvfManager.OvfFile(
                deviceId=device.key, path="exported-disk-0.vmdk", size=len(payload)
            )
        ],
    )
    descriptor = si.content.ovfManager.CreateDescriptor(obj=new_vm, cdp=params).ovfDescriptor
    assert '<File ovf:href="exported-disk-0.vmdk" ovf:id="file1" ovf:size="4096"/>' in descriptor
    assert "<Name>exported</Name>" in descriptor

    lease.HttpNfcLeaseComplete()
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(url, context=context, timeout=30)
    assert gone.value.code == 404


def test_export_needs_a_powered_off_vm(si: Any) -> None:
    from pyVmomi import vim

    with pytest.raises(vim.fault.InvalidPowerState):
        si.content.searchIndex.FindByInventoryPath(f"{DATACENTER}/vm/{SOURCE_VM}").ExportVm()


def test_datastore_upload_round_trips_and_needs_a_login(si: Any, vsphere: LeakCheck) -> None:
    path = f"pybuild-it-{secrets.token_hex(4)}/upload.bin"
    payload = secrets.token_bytes(100_000)
    vsphere.upload(path, payload)
    assert vsphere.download(path) == payload
    assert path in vsphere.inventory()["file"]

    url = f"https://{vsphere.vcenter_server}{vsphere.folder_path(path)}"
    context = ssl._create_unverified_context()
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(url, context=context, timeout=30)
    assert anonymous.value.code == 401
    cookie = si._stub.cookie  # 'vmware_soap_session="..."; Path=/; ...'
    request = urllib.request.Request(url, headers={"Cookie": cookie.split(";")[0]})
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        assert response.read() == payload

    datacenter = si.content.rootFolder.childEntity[0]
    wait(
        si.content.fileManager.DeleteDatastoreFile_Task(
            name=f"[{DATASTORE}] {path.split('/')[0]}", datacenter=datacenter
        )
    )
    assert vsphere.download(path) is None


def test_soap_calls_are_logged_one_line_each(vcsim: Vcsim) -> None:
    mark = vcsim.soap_mark()
    with vcsim.connection() as si:
        si.content.searchIndex.FindByInventoryPath(f"{DATACENTER}/vm/{SOURCE_VM}")
    calls = vcsim.soap_calls(since=mark)
    methods = [c.method for c in calls]
    assert "Login" in methods and methods[-1] == "Logout"
    (find,) = [c for c in calls if c.method == "FindByInventoryPath"]
    assert find.obj == "SearchIndex:SearchIndex"
    assert find.session != "-" and "pyvmomi" in find.agent.lower()
    assert calls[0].session == "-"  # before Login: no session cookie yet
    assert all(c.seconds >= 0 for c in calls)
    assert vcsim.soap_calls(since=mark, agent_filter="Go-http-client") == []
    assert vcsim.soap_calls(since=vcsim.soap_mark()) == []


def test_dropped_sessions_end_the_connection(vcsim: Vcsim) -> None:
    from pyVim.connect import Disconnect
    from pyVmomi import vim

    si = vcsim.connect()
    assert vcsim.username in {s["user"] for s in vcsim.sessions()}
    assert vcsim.drop_sessions() >= 1
    assert vcsim.sessions() == []
    with pytest.raises(vim.fault.NotAuthenticated):
        si.content.searchIndex.FindByInventoryPath(f"{DATACENTER}/vm/{SOURCE_VM}")
    Disconnect(si)  # pyVim ignores the NotAuthenticated of its Logout


def test_the_leak_check_sees_what_a_test_leaves(vcsim: Vcsim) -> None:
    before = vcsim.inventory()
    path = f"pybuild-it-{secrets.token_hex(4)}/left.txt"
    vcsim.upload(path, b"left")
    si = vcsim.connect()
    try:
        vm = clone(si, f"pybuild-it-{secrets.token_hex(4)}")
        wait(vm.PowerOffVM_Task()) if vm.runtime.powerState == "poweredOn" else None
        vm.MarkAsTemplate()
        after = vcsim.inventory()
        assert after["file"] - before["file"] >= {path}
        assert after["template"] - before["template"] == {f"{vm.name} {vm._moId}"}
        assert after["vm"] == before["vm"]
        assert len(after["session"] - before["session"]) == 1  # `si`, still logged in
        wait(vm.Destroy_Task())
    finally:
        from pyVim.connect import Disconnect

        Disconnect(si)
    (vcsim.datastore_dir / path).unlink()
    (vcsim.datastore_dir / path).parent.rmdir()
    after = vcsim.inventory()
    assert {k: after[k] - before[k] for k in after} == {k: set() for k in after}


@pytest.mark.packer
@pytest.mark.skipif(PACKER is None, reason="packer is not installed (apt-get install packer)")
def test_packer_clones_converts_and_exports_against_the_simulator(
    vsphere: LeakCheck, tmp_path: Path
) -> None:
    """The reference client (govmomi 0.24 inside packer 1.6.6) against the fixture: a
    vsphere-clone with communicator none, convert_to_template and export goes through the
    extension's ExportVm lease and CreateDescriptor, and its SOAP calls are in the log."""
    name = f"packer-it-{secrets.token_hex(4)}"
    out = tmp_path / "export"
    template = {
        "builders": [
            {
                "type": "vsphere-clone",
                **vsphere.connect_settings(),
                "cluster": CLUSTER,
                "host": HOSTS[0],
                "template": SOURCE_VM,
                "vm_name": name,
                "communicator": "none",
                "convert_to_template": True,
                "export": {"output_directory": str(out), "manifest": "sha256"},
            }
        ]
    }
    path = tmp_path / "clone.json"
    path.write_text(json.dumps(template))
    mark = vsphere.soap_mark()
    proc = subprocess.run(
        [PACKER or "packer", "build", "-color=false", str(path)],
        cwd=tmp_path,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    vsphere.ignore.add("session")  # packer 1.6.6 never logs out
    calls = vsphere.soap_calls(since=mark, agent_filter="Go-http-client")
    methods = [c.method for c in calls]
    for method in ("Login", "CloneVM_Task", "MarkAsTemplate", "ExportVm", "CreateDescriptor"):
        assert method in methods, methods
    assert "HttpNfcLeaseComplete" in methods and "Logout" not in methods

    ovf = (out / f"{name}.ovf").read_text()
    assert f"<Name>{name}</Name>" in ovf
    assert (out / f"{name}.vmdk").is_file()
    manifest = (out / f"{name}.mf").read_text()
    assert f"SHA256({name}.ovf)= {hashlib.sha256(ovf.encode()).hexdigest()}" in manifest

    with vsphere.connection() as si:
        made = vsphere.vm(si, name)
        assert made is not None and made.config.template
        wait(made.Destroy_Task())
