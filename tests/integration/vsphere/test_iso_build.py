"""vsphere-iso against the simulator: an ISO build end to end, the inventory read back with
pyvmomi afterwards, the boot command's exact HID codes, and bad input.

The simulator runs no guest: `Guest` plays the installer. It waits for the VM to be
powered on and the boot command to be typed (the PutUsbScanCodes calls the simulator
recorded), decodes the text, fetches the preseed from the URL in it (the build's HTTP
server on 127.0.0.1), then powers the VM off through "VMware Tools" (ShutdownGuest), as
an installer does at its end. With `communicator: none` the build waits for exactly that
("Please shutdown virtual machine within ..."), as packer 1.6.6 does.

As in packer 1.6.6 the uploaded ISO stays in the datastore's packer_cache (the next build
finds it there); the tests check it is there, then delete it for the leak check.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from builder.engine import BuildResult, RunOptions, load_template, prepare, run
from builder.events import Message, Say
from builder.testing import RecordingSink
from tests.integration.vsphere.conftest import (
    CLUSTER,
    DATACENTER,
    DATASTORE,
    HOSTS,
    NETWORK,
    LeakCheck,
)

PACKER = shutil.which("packer")
PRESEED = b"# pybuild vsphere-iso test preseed\nd-i debian-installer/locale string en_US\n"
BOOT_COMMAND = [
    "<esc><wait10ms>",
    "linux url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/preseed.cfg ",
    "hostname={{ .Name }}<enter>",
]

# ------------------------------------------------------------------ HID codes, decoded
# The US-keyboard HID usages (keyboard page 7), written out here on their own, so the
# builder's table is checked from outside.
_LETTERS = {chr(ord("a") + i): 0x04 + i for i in range(26)}
_DIGITS = {str((i + 1) % 10): 0x1E + i for i in range(10)}
_PLAIN = {" ": 0x2C, "-": 0x2D, "=": 0x2E, ".": 0x37, "/": 0x38, ";": 0x33, ",": 0x36}
_SHIFTED = {":": 0x33, "_": 0x2D, "?": 0x38}
ENTER, ESC = 0x28, 0x29
SHIFT = frozenset({"leftShift"})
NONE: frozenset[str] = frozenset()


def expected_keys(text: str) -> list[tuple[int, frozenset[str]]]:
    """(usage, modifiers) typing `text`: one key event per character."""
    out: list[tuple[int, frozenset[str]]] = []
    for c in text:
        if c.lower() in _LETTERS:
            out.append((_LETTERS[c.lower()], SHIFT if c.isupper() else NONE))
        elif c in _DIGITS:
            out.append((_DIGITS[c], NONE))
        elif c in _PLAIN:
            out.append((_PLAIN[c], NONE))
        elif c in _SHIFTED:
            out.append((_SHIFTED[c], SHIFT))
        elif c == "\n":
            out.append((ENTER, NONE))
        else:
            raise ValueError(f"the test's table has no key for {c!r}")
    return out


_BY_USAGE = {u: c for c, u in {**_LETTERS, **_DIGITS, **_PLAIN}.items()}
_BY_USAGE_SHIFTED = {u: c for c, u in _SHIFTED.items()}


def decode(events: Sequence[Any]) -> str:
    """The text typed by key events (the simulator's records); Enter is a newline."""
    out = []
    for e in events:
        shifted = bool({"leftShift", "rightShift"} & set(e.modifiers))
        if e.usage == ENTER:
            out.append("\n")
        elif e.usage == ESC:
            out.append("<esc>")
        elif shifted and e.usage in _BY_USAGE_SHIFTED:
            out.append(_BY_USAGE_SHIFTED[e.usage])
        elif e.usage in _BY_USAGE:
            c = _BY_USAGE[e.usage]
            out.append(c.upper() if shifted else c)
        else:
            out.append(f"<0x{e.usage:02x}>")
    return "".join(out)


# ------------------------------------------------------------------ the guest
class Guest:
    """Plays the installer of VM `name` (see the module's docstring); `errors` if it failed.

    `keys`: how many key events the whole boot command is; `fetch`: it holds a preseed URL
    to fetch. At the end: `reboot_with_ip` reboots into the installed system, whose VMware
    Tools report that address (the simulator's customization, applied at power-on), else
    `shutdown` powers off through ShutdownGuest (False: only watch). `start()` it before
    the build, `join()` after.
    """

    def __init__(
        self,
        vcsim: Any,
        name: str,
        keys: int,
        shutdown: bool = True,
        timeout: float = 90.0,
        fetch: bool = True,
        reboot_with_ip: str = "",
    ):
        self.vcsim, self.name, self.keys, self.fetch = vcsim, name, keys, fetch
        self.reboot_with_ip = reboot_with_ip
        self.shutdown, self.timeout = shutdown, timeout
        self.typed, self.preseed = "", b""
        self.backings: list[tuple[str, str]] = []  # (device kind, image) while it ran
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self.run, daemon=True, name=f"guest-{name}")

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.errors.append("the guest was still waiting when the build ended")

    def run(self) -> None:
        try:
            self._play()
        except Exception as exc:  # noqa: BLE001 - reported to the test through `errors`
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def _play(self) -> None:
        deadline = time.monotonic() + self.timeout
        with self.vcsim.connection() as si:
            vm = self._powered_on(si, deadline)
            self.backings = image_backings(vm)
            self.typed = decode(self._typed(deadline)) if self.keys else ""
            found = re.search(r"url=(http://127\.0\.0\.1:\d+/\S+)", self.typed)
            if found is None and self.fetch and self.keys:
                self.errors.append(f"no preseed URL in what was typed: {self.typed!r}")
            elif found is not None:
                with urllib.request.urlopen(found.group(1), timeout=10) as response:
                    self.preseed = response.read()
            if self.reboot_with_ip:
                self._reboot(vm, self.reboot_with_ip)
            elif self.shutdown:
                vm.ShutdownGuest()

    def _reboot(self, vm: Any, ip: str) -> None:
        from pyVim.task import WaitForTask
        from pyVmomi import vim

        custom = vim.vm.customization
        spec = custom.Specification(
            identity=custom.LinuxPrep(hostName=custom.FixedName(name="installed"), domain="local"),
            globalIPSettings=custom.GlobalIPSettings(),
            nicSettingMap=[
                custom.AdapterMapping(
                    adapter=custom.IPSettings(
                        ip=custom.FixedIp(ipAddress=ip), subnetMask="255.0.0.0"
                    )
                )
            ],
        )
        WaitForTask(vm.PowerOffVM_Task())
        WaitForTask(vm.CustomizeVM_Task(spec=spec))
        WaitForTask(vm.PowerOnVM_Task())

    def _powered_on(self, si: Any, deadline: float) -> Any:
        while time.monotonic() < deadline:
            vm = self.vcsim.vm(si, self.name)
            if vm is not None and vm.runtime.powerState == "poweredOn":
                return vm
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} was never powered on")

    def _typed(self, deadline: float) -> list[Any]:
        while time.monotonic() < deadline:
            events = self.vcsim.usb_scan_codes(self.name)
            if len(events) >= self.keys:
                return list(events)
            time.sleep(0.05)
        raise TimeoutError(f"{self.name}: fewer than {self.keys} keys were typed")


# ------------------------------------------------------------------ templates and runs
@dataclass
class ISOBench:
    """A test's working directory: the ISO, the HTTP directory, files for the images."""

    root: Path
    vsphere: LeakCheck
    iso: Path = field(init=False)
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        self.iso = self.root / f"install-{secrets.token_hex(3)}.iso"
        self.iso.write_bytes(b"CD001" + secrets.token_bytes(256 * 1024))
        self.sha256 = hashlib.sha256(self.iso.read_bytes()).hexdigest()
        (self.root / "http").mkdir()
        (self.root / "http" / "preseed.cfg").write_bytes(PRESEED)
        (self.root / "cd").mkdir()
        (self.root / "cd" / "meta-data").write_text("instance-id: pybuild\n")
        (self.root / "ks.cfg").write_text("# floppy kickstart\n")

    @staticmethod
    def boot_keys(name: str) -> int:
        """How many keys BOOT_COMMAND is for VM `name` (Esc, the text; a 4-digit port)."""
        return 1 + len(f"linux url=http://127.0.0.1:8000/preseed.cfg hostname={name}\n")

    @property
    def iso_remote(self) -> str:
        return f"packer_cache/{self.iso.name}"

    def block(self, name: str, **over: Any) -> dict[str, Any]:
        """A vsphere-iso block with every kind of option this builder has."""
        block: dict[str, Any] = {
            "type": "vsphere-iso",
            **self.vsphere.connect_settings(),
            "cluster": CLUSTER,
            "host": HOSTS[0],
            "datastore": DATASTORE,
            "vm_name": name,
            "notes": "built by {{build_type}}",
            "guest_os_type": "otherLinux64Guest",
            "vm_version": 13,
            "CPUs": 2,
            "cpu_cores": 1,
            "RAM": 256,
            "disk_controller_type": ["pvscsi"],
            "storage": [
                {"disk_size": 1024, "disk_thin_provisioned": True},
                {"disk_size": 512, "disk_eagerly_scrub": True},
            ],
            "network_adapters": [{"network": NETWORK, "network_card": "vmxnet3"}],
            "iso_url": str(self.iso),
            "iso_checksum": f"sha256:{self.sha256}",
            "cd_files": [str(self.root / "cd" / "meta-data")],
            "cd_label": "cidata",
            "floppy_files": [str(self.root / "ks.cfg")],
            "http_directory": str(self.root / "http"),
            "http_ip": "127.0.0.1",
            "http_bind_address": "127.0.0.1",
            "boot_wait": "100ms",
            "boot_keygroup_interval": "1ms",
            "boot_command": BOOT_COMMAND,
            "boot_order": "disk,cdrom",
            "communicator": "none",
            "shutdown_timeout": "1m",
            "convert_to_template": True,
        }
        block.update(over)
        return block

    def template(self, *blocks: dict[str, Any]) -> Path:
        path = self.root / f"t-{secrets.token_hex(3)}.json"
        path.write_text(json.dumps({"builders": list(blocks)}, indent=2))
        return path


@pytest.fixture
def bench(tmp_path: Path, vsphere: LeakCheck, monkeypatch: pytest.MonkeyPatch) -> ISOBench:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PACKER_CACHE_DIR", str(tmp_path / "packer_cache"))
    monkeypatch.setenv("PYBUILD_STATE_DIR", str(tmp_path / "state"))
    return ISOBench(tmp_path, vsphere)


def build(path: Path, options: RunOptions | None = None) -> tuple[BuildResult, RecordingSink]:
    """Run the template's one build in this process (the builders registered by `vsphere`)."""
    options = options or RunOptions()
    prepared = prepare(load_template(str(path)), options)
    assert not prepared.errors, prepared.all_errors
    sink = RecordingSink()
    (result,) = run(prepared, sink).values()
    return result, sink


def vm_name(tag: str) -> str:
    return f"pybuild-iso-{tag}-{secrets.token_hex(3)}"


def remove_cached_iso(vsphere: LeakCheck, si: Any, remote: str) -> None:
    """Delete a file packer_cache keeps, so the leak check sees only what it should."""
    from pyVim.task import WaitForTask

    datacenter = si.content.searchIndex.FindByInventoryPath(DATACENTER)
    WaitForTask(
        si.content.fileManager.DeleteDatastoreFile_Task(
            name=f"[{DATASTORE}] {remote}", datacenter=datacenter
        )
    )


def image_backings(vm: Any) -> list[tuple[str, str]]:
    """(kind, image file) of the VM's CD-ROM and floppy drives, in device order."""
    from pyVmomi import vim

    out = []
    for device in vm.config.hardware.device:
        if isinstance(device, (vim.vm.device.VirtualCdrom, vim.vm.device.VirtualFloppy)):
            kind = "cdrom" if isinstance(device, vim.vm.device.VirtualCdrom) else "floppy"
            out.append((kind, getattr(device.backing, "fileName", "") or ""))
    return out


def uploads(sink: RecordingSink) -> list[str]:
    """The packer_cache paths StepRemoteUpload said it uploaded to."""
    found = (re.fullmatch(r"Uploading \S+ to (packer_cache/\S+)", s) for s in sink.texts(Say))
    return [m.group(1) for m in found if m]


def devices(vm: Any) -> dict[str, list[Any]]:
    """The VM's devices by kind."""
    from pyVmomi import vim

    kinds = {
        "disk": vim.vm.device.VirtualDisk,
        "pvscsi": vim.vm.device.ParaVirtualSCSIController,
        "nic": vim.vm.device.VirtualVmxnet3,
        "cdrom": vim.vm.device.VirtualCdrom,
        "floppy": vim.vm.device.VirtualFloppy,
        "usb": vim.vm.device.VirtualUSBController,
    }
    found: dict[str, list[Any]] = {k: [] for k in kinds}
    for device in vm.config.hardware.device:
        for kind, cls in kinds.items():
            if isinstance(device, cls):
                found[kind].append(device)
    return found


# ------------------------------------------------------------------ the builds
def test_an_iso_build_uploads_types_the_boot_command_and_leaves_a_template(
    bench: ISOBench, vsphere: LeakCheck
) -> None:
    name = vm_name("full")
    typed = f"linux url=http://127.0.0.1:PORT/preseed.cfg hostname={name}\n"
    guest = Guest(vsphere.server, name, keys=1 + len(typed))
    guest.start()
    result, sink = build(bench.template(bench.block(name)))
    guest.join(30)
    assert result.error is None, result.error
    assert guest.errors == []

    # the boot command, key by key: Esc, then the text with the server's real port
    port = re.search(r"127\.0\.0\.1:(\d+)/", guest.typed)
    assert port is not None, guest.typed
    text = typed.replace("PORT", port.group(1))
    assert guest.typed == "<esc>" + text
    events = vsphere.usb_scan_codes(name)
    assert [(e.usage, e.modifiers) for e in events] == [(ESC, NONE), *expected_keys(text)]
    assert all(e.code == (e.usage << 16) | 7 for e in events)
    assert all(len(call) == 1 for call in vsphere.usb_scan_calls(name))  # one key per call
    assert guest.preseed == PRESEED  # the installer got its answers over loopback

    says = sink.texts(Say, "vsphere-iso")
    assert says[0] == "Retrieving ISO"
    for line in [
        "Creating CD disk...",
        f"Uploading {bench.iso.name} to {bench.iso_remote}",
        "Creating VM...",
        "Customizing hardware...",
        "Mounting ISO images...",
        "Adding configuration parameters...",
        "Creating floppy disk...",
        "Uploading created floppy image",
        "Adding generated Floppy...",
        "Set boot order...",
        "Power on VM...",
        "Waiting 100ms for boot...",
        f"HTTP server is working at http://127.0.0.1:{port.group(1)}/",
        "Typing boot command...",
        "Deleting Floppy drives...",
        "Deleting Floppy image...",
        "Eject CD-ROM drives...",
        "Convert VM into template...",
    ]:
        assert line in says, (line, says)
        says = says[says.index(line) + 1 :]  # in this order
    assert "Please shutdown virtual machine within 1m0s." in sink.texts(Message, "vsphere-iso")
    (artifact,) = result.artifacts
    assert name in artifact.string()

    with vsphere.connection() as si:
        vm = vsphere.vm(si, name)
        assert vm is not None
        config = vm.config
        assert config.template is True
        assert config.guestId == "otherLinux64Guest" and config.version == "vmx-13"
        assert config.hardware.numCPU == 2 and config.hardware.memoryMB == 256
        assert config.annotation == "built by vsphere-iso"
        found = devices(vm)
        assert len(found["pvscsi"]) == 1
        disks = sorted(found["disk"], key=lambda d: d.capacityInKB)
        assert [d.capacityInKB for d in disks] == [512 * 1024, 1024 * 1024]
        assert disks[1].backing.thinProvisioned is True
        assert disks[0].backing.eagerlyScrub is True
        assert all(d.controllerKey == found["pvscsi"][0].key for d in disks)
        (nic,) = found["nic"]
        assert nic.deviceInfo.summary == NETWORK or nic.backing.deviceName == NETWORK
        assert found["floppy"] == []  # removed before the template, as 1.6.6
        assert len(found["cdrom"]) == 2  # the ISO and the cd_files image, both ejected
        assert not any(hasattr(c.backing, "fileName") and c.backing.fileName
                       for c in found["cdrom"])  # fmt: skip
        # packer 1.6.6 leaves both uploads in packer_cache: the ISO for the next build,
        # the cd_files image (a new name each build) by neglect
        (cd_image,) = [u for u in uploads(sink) if u != bench.iso_remote]
        assert vsphere.download(bench.iso_remote) == bench.iso.read_bytes()
        assert vsphere.download(cd_image) is not None
        for remote in (bench.iso_remote, cd_image):
            remove_cached_iso(vsphere, si, remote)
        artifact.destroy()
        assert vsphere.vm(si, name) is None
    # nothing else was left: the leak check of the `vsphere` fixture (VMs, files, sessions)


def test_the_installed_system_is_provisioned_over_ssh_then_shut_down_by_vmware_tools(
    bench: ISOBench, vsphere: LeakCheck, sshd_host: Any
) -> None:
    host = sshd_host()
    name = vm_name("ssh")
    guest = Guest(vsphere.server, name, keys=bench.boot_keys(name), reboot_with_ip="127.0.0.1")
    guest.start()
    block = bench.block(
        name,
        communicator="ssh",
        ssh_port=host.port,
        ssh_username=host.user,
        ssh_password=host.password,
        ip_settle_timeout="100ms",
        cd_files=[],
        convert_to_template=False,
        create_snapshot=True,
        remove_cdrom=True,
    )
    template = json.loads(bench.template(block).read_text())
    template["provisioners"] = [
        {"type": "shell", "inline": ["echo 'installed {{ build `ID` }}' > /tmp/iso-marker"]}
    ]
    path = bench.root / "ssh.json"
    path.write_text(json.dumps(template))
    result, sink = build(path)
    guest.join(30)
    assert result.error is None, result.error
    assert guest.errors == [] and guest.preseed == PRESEED
    says = sink.texts(Say, "vsphere-iso")
    for line in [
        "Typing boot command...",
        "Waiting for IP...",
        "IP address: 127.0.0.1",
        "Using ssh communicator to connect: 127.0.0.1",
        "Shutting down VM...",
        "Deleting Floppy drives...",
        "Eject CD-ROM drives...",
        "Deleting CD-ROM drives...",
        "Creating snapshot...",
    ]:
        assert line in says, (line, says)
        says = says[says.index(line) + 1 :]
    (artifact,) = result.artifacts
    code, marker = host.exec("cat /tmp/iso-marker")
    assert code == 0 and marker.strip() == f"installed {artifact.state('vm_id')}"
    with vsphere.connection() as si:
        vm = vsphere.vm(si, name)
        assert vm.runtime.powerState == "poweredOff" and not vm.config.template
        found = devices(vm)
        assert found["cdrom"] == [] and found["floppy"] == []
        assert [s.name for s in vm.snapshot.rootSnapshotList] == ["Created by Packer"]
        remove_cached_iso(vsphere, si, bench.iso_remote)
    artifact.destroy()


def test_datastore_images_sata_usb_two_nics_and_efi(bench: ISOBench, vsphere: LeakCheck) -> None:
    """No ISO URL: `iso_paths` and `floppy_img_path` already on the datastore are mounted."""
    name = vm_name("paths")
    vsphere.upload("iso/tools.iso", b"CD001 tools")
    vsphere.upload("flp/drivers.flp", b"\0" * 1024)
    guest = Guest(vsphere.server, name, keys=0)
    guest.start()
    block = bench.block(
        name,
        iso_url="",
        iso_checksum="",
        iso_paths=[f"[{DATASTORE}] iso/tools.iso"],
        cd_files=[],
        floppy_files=[],
        floppy_img_path=f"[{DATASTORE}] flp/drivers.flp",
        cdrom_type="sata",
        usb_controller=["usb", "xhci"],
        firmware="efi",
        network_adapters=[
            {"network": NETWORK, "network_card": "e1000e", "mac_address": "00:50:56:01:02:03"},
            {"network": "DC0_DVPG0", "network_card": "vmxnet3"},
        ],
        boot_command=[],
        convert_to_template=False,
    )
    result, sink = build(bench.template(block))
    guest.join(30)
    assert result.error is None, result.error
    assert guest.errors == []
    says = sink.texts(Say, "vsphere-iso")
    assert "Retrieving ISO" not in says and not [s for s in says if s.startswith("Uploading")]
    assert "Adding SATA controller..." in says and "Adding Floppy image..." in says
    assert guest.backings == [
        ("cdrom", f"[{DATASTORE}] iso/tools.iso"),
        ("floppy", f"[{DATASTORE}] flp/drivers.flp"),
    ]
    from pyVim.task import WaitForTask
    from pyVmomi import vim

    with vsphere.connection() as si:
        vm = vsphere.vm(si, name)
        hw = vm.config.hardware.device
        sata = [d for d in hw if isinstance(d, vim.vm.device.VirtualAHCIController)]
        (cdrom,) = [d for d in hw if isinstance(d, vim.vm.device.VirtualCdrom)]
        assert len(sata) == 1 and cdrom.controllerKey == sata[0].key
        assert image_backings(vm) == [("cdrom", "")]  # ejected; the floppy drive removed
        assert any(isinstance(d, vim.vm.device.VirtualUSBController) for d in hw)
        assert any(isinstance(d, vim.vm.device.VirtualUSBXHCIController) for d in hw)
        nics = [d for d in hw if isinstance(d, vim.vm.device.VirtualEthernetCard)]
        assert [type(n).__name__ for n in nics] == ["vim.vm.device.VirtualE1000e",
                                                    "vim.vm.device.VirtualVmxnet3"]  # fmt: skip
        assert nics[0].macAddress == "00:50:56:01:02:03"
        assert vm.config.firmware == "efi"
        # the images were the test's: they stay, and nothing of the build's is left
        assert vsphere.download("iso/tools.iso") == b"CD001 tools"
        WaitForTask(vm.Destroy_Task())
        datacenter = si.content.searchIndex.FindByInventoryPath(DATACENTER)
        for path in ("iso/tools.iso", "flp/drivers.flp"):
            WaitForTask(si.content.fileManager.DeleteDatastoreFile_Task(
                name=f"[{DATASTORE}] {path}", datacenter=datacenter))  # fmt: skip


def test_the_iso_on_the_datastore_is_used_again_without_an_upload(
    bench: ISOBench, vsphere: LeakCheck
) -> None:
    first, second = vm_name("first"), vm_name("again")
    over = {"boot_command": [], "cd_files": [], "floppy_files": [], "convert_to_template": False}
    for name in (first, second):
        guest = Guest(vsphere.server, name, keys=0)
        guest.start()
        result, sink = build(bench.template(bench.block(name, **over)))
        guest.join(30)
        assert result.error is None, result.error
        assert guest.errors == []
    says = sink.texts(Say, "vsphere-iso")
    assert f"File [{DATASTORE}] {bench.iso_remote} already exists; skipping upload." in says
    assert not any(s.startswith("Uploading ") for s in says)
    assert "Waiting" not in " ".join(says)  # no boot command: no boot wait, as 1.6.6
    from pyVim.task import WaitForTask

    with vsphere.connection() as si:
        remove_cached_iso(vsphere, si, bench.iso_remote)
        for name in (first, second):
            vm = vsphere.vm(si, name)
            assert vm is not None and vm.config.template is False
            WaitForTask(vm.Destroy_Task())


def test_without_boot_order_a_template_keeps_the_temporary_one(
    bench: ISOBench, vsphere: LeakCheck
) -> None:
    """1.6.6 sets "disk,cdrom" for the install and clears it in cleanup, after the template
    exists, which the simulator refuses (1.6.6 fails the build there); pybuild leaves a
    template's order as it is."""
    name = vm_name("order")
    over = {"boot_order": "", "boot_command": [], "cd_files": [], "floppy_files": []}
    guest = Guest(vsphere.server, name, keys=0)
    guest.start()
    result, sink = build(bench.template(bench.block(name, **over)))
    guest.join(30)
    assert result.error is None, result.error
    says = sink.texts(Say, "vsphere-iso")
    assert "Set boot order temporary..." in says and "Clear boot order..." not in says
    (artifact,) = result.artifacts
    with vsphere.connection() as si:
        vm = vsphere.vm(si, name)
        assert vm.config.template is True
        kinds = [
            type(d).__name__.rsplit("Bootable", 1)[-1] for d in vm.config.bootOptions.bootOrder
        ]
        assert list(dict.fromkeys(kinds)) == ["DiskDevice", "CdromDevice"]  # both disks first
        remove_cached_iso(vsphere, si, bench.iso_remote)
    artifact.destroy()


def test_an_iso_checksum_mismatch_fails_before_anything_is_made(
    bench: ISOBench, vsphere: LeakCheck
) -> None:
    name = vm_name("bad-sum")
    wrong = "0" * 64
    result, sink = build(bench.template(bench.block(name, iso_checksum=f"sha256:{wrong}")))
    assert result.error is not None
    text = str(result.error)
    assert wrong in text and bench.sha256 in text, text
    assert "Creating VM..." not in sink.texts(Say, "vsphere-iso")
    # the leak check: no VM, no upload, the session logged out


@pytest.mark.parametrize(
    ("option", "value", "named", "closest"),
    [
        ("network_adapters", [{"network": "VM Netwrk"}], "VM Netwrk", NETWORK),
        ("datastore", "LocalDS_O", "LocalDS_O", DATASTORE),
        ("cluster", "DC0_C9", "DC0_C9", CLUSTER),
    ],
)
def test_an_unknown_name_is_named_with_the_closest_and_nothing_is_left(
    bench: ISOBench, vsphere: LeakCheck, option: str, value: Any, named: str, closest: str
) -> None:
    name = vm_name("bad-name")
    block = bench.block(name, **{option: value, "iso_url": "", "iso_checksum": ""})
    result, _ = build(bench.template(block))
    assert result.error is not None
    text = str(result.error)
    assert f"'{named}'" in text and f"did you mean '{closest}'?" in text, text


def test_ctrl_c_during_the_boot_wait_destroys_the_vm_and_deletes_the_uploads(
    bench: ISOBench, vsphere: LeakCheck
) -> None:
    name = vm_name("cancel")
    options = RunOptions()

    def cancel_once_on() -> None:
        with vsphere.connection() as si:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                vm = vsphere.vm(si, name)
                if vm is not None and vm.runtime.powerState == "poweredOn":
                    options.cancel.cancel()
                    return
                time.sleep(0.05)

    canceller = threading.Thread(target=cancel_once_on, daemon=True)
    canceller.start()
    result, sink = build(bench.template(bench.block(name, boot_wait="1m")), options)
    canceller.join(10)
    assert result.cancelled, result.error
    says = sink.texts(Say, "vsphere-iso")
    for line in ("Power off VM...", "Deleting Floppy image ...", "Destroying VM...",
                 "Deleting cd_files image from remote datastore ..."):  # fmt: skip
        assert line in says, (line, says)
    with vsphere.connection() as si:
        assert vsphere.vm(si, name) is None
        remove_cached_iso(vsphere, si, bench.iso_remote)  # kept even now, as 1.6.6 keeps it


@pytest.mark.packer
def test_packer_types_the_same_keys_in_as_many_calls(
    bench: ISOBench, vsphere: LeakCheck, tmp_path: Path
) -> None:
    """packer 1.6.6 and pybuild type the same boot command: the same events, one per call."""
    import subprocess

    if PACKER is None:
        pytest.skip("packer 1.6.6 is not installed (Debian package packer)")
    command = ["<esc>", "ls -la /Mnt:x_Y?<enter>", "<f2><up><down><tab><bs><spacebar>"]
    over = {"boot_command": command, "cd_files": [], "floppy_files": [], "iso_url": "",
            "iso_checksum": "", "convert_to_template": False, "disk_controller_type": [],
            "storage": [{"disk_size": 1024, "disk_thin_provisioned": True}]}  # fmt: skip
    names = {"pybuild": vm_name("pyb"), "packer": vm_name("pkr")}
    keys = 1 + len("ls -la /Mnt:x_Y?\n") + 6
    g1 = Guest(vsphere.server, names["pybuild"], keys=keys, fetch=False)
    g1.start()
    result, _ = build(bench.template(bench.block(names["pybuild"], **over)))
    g1.join(30)
    assert result.error is None, result.error
    assert {f"{x['user']} {x['id']}" for x in vsphere.sessions()} == vsphere.before["session"]
    vsphere.ignore.add("session")  # packer 1.6.6 never logs out; pybuild did (just above)
    # packer 1.6.6, the same block
    g2 = Guest(vsphere.server, names["packer"], keys=keys, fetch=False)
    g2.start()
    path = bench.template(bench.block(names["packer"], **over))
    proc = subprocess.run(
        [PACKER, "build", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CHECKPOINT_DISABLE": "1"},
    )
    g2.join(30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert g1.errors == g2.errors == []
    ours = vsphere.usb_scan_calls(names["pybuild"])
    theirs = vsphere.usb_scan_calls(names["packer"])
    assert [[(e.usage, e.modifiers) for e in c] for c in ours] == [
        [(e.usage, e.modifiers) for e in c] for c in theirs
    ]
    with vsphere.connection() as si:
        from pyVim.task import WaitForTask

        for name in names.values():
            WaitForTask(vsphere.vm(si, name).Destroy_Task())
