"""The qemu command line: Packer 1.6.6's default arguments, then `qemuargs` flag by flag.

A flag given in `qemuargs` replaces all of that flag's defaults (qemu accepts a flag
many times, so each `qemuargs` row adds one value); a row with only the flag gives a
bare flag. The defaults keep one order (Packer's Go map has none), user-only flags follow
in the template's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builder.qemu.config import QemuConfig

HOST_FORWARD_ADDRESS = "127.0.0.1"  # pybuild's default; Packer 1.6.6 forwards on every address
VNC_BASE_PORT = 5900  # qemu's `-vnc HOST:N` listens on 5900 + N

Args = dict[str, list[str]]


@dataclass
class Machine:
    """What the steps before the start learned, for the command line."""

    vm_name: str
    disk_paths: list[str]
    vnc_port: int
    vnc_password: bool = False
    iso_path: str = ""  # the installation CD (not when disk_image)
    cd_path: str = ""  # cd_files
    floppy_path: str = ""
    host_port: int = 0  # the forwarded communicator port; 0: none
    guest_port: int = 22
    qmp_socket: str = ""
    version_major: int = 7
    notes: list[str] = field(default_factory=list)  # Packer's messages about the choices


def vnc_display(cfg: QemuConfig, port: int, password: bool) -> str:
    """`-vnc ADDRESS:DISPLAY[,password=on]` for a VNC server on `port`."""
    vnc = f"{cfg.vnc_bind_address}:{port - VNC_BASE_PORT}"
    return f"{vnc},password=on" if password else vnc


def default_args(cfg: QemuConfig, m: Machine) -> Args:
    """Packer 1.6.6's default arguments for this config and machine."""
    args: Args = {}
    args["-name"] = [m.vm_name]
    if cfg.accelerator == "none":
        args["-machine"] = [f"type={cfg.machine_type}"]
        m.notes.append(
            "WARNING: The VM will be started with no hardware acceleration.\n"
            "The installation may take considerably longer to finish.\n"
        )
    else:
        args["-machine"] = [f"type={cfg.machine_type},accel={cfg.accelerator}"]
    if cfg.net_bridge:
        args["-netdev"] = [f"bridge,id=user.0,br={cfg.net_bridge}"]
    elif m.host_port:
        forward = f"hostfwd=tcp:{HOST_FORWARD_ADDRESS}:{m.host_port}-:{m.guest_port}"
        args["-netdev"] = [f"user,id=user.0,{forward}"]
    else:
        args["-netdev"] = ["user,id=user.0"]
    devices, drives = device_and_drive_args(cfg, m)
    args["-device"] = devices
    args["-drive"] = drives
    args["-vnc"] = [vnc_display(cfg, m.vnc_port, m.vnc_password)]
    args["-m"] = [f"{cfg.memory}M"]
    if cfg.cpus > 1:
        args["-smp"] = [f"cpus={cfg.cpus},sockets={cfg.cpus}"]
    args["-boot"] = ["c" if cfg.disk_image else "once=d"]
    if m.floppy_path:
        args["-fda"] = [m.floppy_path]
    if not cfg.headless:
        if m.version_major >= 2:
            if cfg.display and cfg.display != "none":
                args["-display"] = [cfg.display]
            elif not cfg.use_default_display:
                args["-display"] = ["gtk"]
        else:
            m.notes.append(
                "WARNING: The version of qemu  on your host doesn't support display mode.\n"
                "The display parameter will be ignored."
            )
    if cfg.qmp_enable:
        args["-qmp"] = [f"unix:{m.qmp_socket},server,nowait"]
    return args


def device_and_drive_args(cfg: QemuConfig, m: Machine) -> tuple[list[str], list[str]]:
    """`-device` and `-drive` values: the disks, the network card, the CDs."""
    devices: list[str] = []
    drives: list[str] = []
    common = f"cache={cfg.disk_cache},discard={cfg.disk_discard},format={cfg.format}"
    for i, path in enumerate(m.disk_paths):
        if cfg.disk_interface == "virtio-scsi":
            if i == 0:
                devices.append(f"virtio-scsi-pci,id=scsi{i}")
            devices.append(f"scsi-hd,bus=scsi0.0,drive=drive{i}")
            drive = f"if=none,file={path},id=drive{i},{common}"
        else:
            drive = f"file={path},if={cfg.disk_interface},{common}"
        if cfg.disk_detect_zeroes != "off":
            drive += f",detect-zeroes={cfg.disk_detect_zeroes}"
        drives.append(drive)
    devices.append(f"{cfg.net_device},netdev=user.0")
    cds = [p for p in ([] if cfg.disk_image else [m.iso_path]) + [m.cd_path] if p]
    for i, path in enumerate(cds):
        if not cfg.cdrom_interface:
            drives.append(f"file={path},index={i},media=cdrom")
        elif cfg.cdrom_interface == "virtio-scsi":
            drives.append(f"file={path},if=none,index={i},id=cdrom{i},media=cdrom")
            devices += ["virtio-scsi-device", f"scsi-cd,drive=cdrom{i}"]
        else:
            drives.append(f"file={path},if={cfg.cdrom_interface},index={i},id=cdrom{i},media=cdrom")
    return devices, drives


def apply_overrides(
    defaults: Args,
    qemuargs: Sequence[Sequence[str]],
    render: Callable[[str], str],
    net_device: str,
) -> list[str]:
    """The command line: `qemuargs` rows (rendered) replace the defaults of their flag."""
    given: Args = {}
    for row in qemuargs:
        if not row:
            continue
        values = [render(part) for part in row]
        key, value = values[0], "".join(values[1:])
        given.setdefault(key, [])
        if value:
            given[key].append(value)
    merged: Args = {}
    for key, values in defaults.items():
        merged[key] = given[key] if key in given else list(values)
    for key, values in given.items():
        merged.setdefault(key, values)
    devices = merged.get("-device")
    if devices is not None and net_device not in "".join(devices):
        devices.append(f"{net_device},netdev=user.0")  # the card the netdev needs (#6804)
    out: list[str] = []
    for key, values in merged.items():
        if values:
            for value in values:
                out += [key, value]
        else:
            out.append(key)
    return out


def headless_message(headless: bool, vnc: str, password: str) -> str:
    """How to watch the VM's screen, as Packer says it (a password only to the terminal)."""
    if not headless:
        return ""
    if password:
        return (
            "The VM will be run headless, without a GUI. If you want to\n"
            f"view the screen of the VM, connect via VNC to vnc://{vnc}\n"
            f"with the password: {password}"
        )
    return (
        "The VM will be run headless, without a GUI. If you want to\n"
        "view the screen of the VM, connect via VNC without a password to\n"
        f"vnc://{vnc}"
    )
