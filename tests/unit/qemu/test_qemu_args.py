"""The qemu command line: Packer 1.6.6's defaults, qemuargs overrides flag by flag, templating."""

from __future__ import annotations

from typing import Any

from builder.qemu.config import QemuConfig
from builder.qemu.qemuargs import Machine, apply_overrides, default_args, headless_message


def config(**over: Any) -> QemuConfig:
    base: dict[str, Any] = {
        "iso_url": "test.iso",
        "iso_checksum": "none",
        "ssh_username": "root",
        "ssh_password": "pw",
        "accelerator": "tcg",
    }
    return QemuConfig.model_validate({**base, **over})


def machine(**over: Any) -> Machine:
    base: dict[str, Any] = {
        "vm_name": "packer-qemu",
        "disk_paths": ["output-qemu/packer-qemu"],
        "vnc_port": 5907,
        "iso_path": "/cache/test.iso",
        "host_port": 3333,
    }
    return Machine(**{**base, **over})


def pairs(args: list[str]) -> list[tuple[str, str]]:
    out, i = [], 0
    while i < len(args):
        if i + 1 < len(args) and not args[i + 1].startswith("-"):
            out.append((args[i], args[i + 1]))
            i += 2
        else:
            out.append((args[i], ""))
            i += 1
    return out


def test_defaults_as_packer_with_the_forward_on_loopback() -> None:
    args = default_args(config(headless=True), machine())
    assert args == {
        "-name": ["packer-qemu"],
        "-machine": ["type=pc,accel=tcg"],
        "-netdev": ["user,id=user.0,hostfwd=tcp:127.0.0.1:3333-:22"],
        "-device": ["virtio-net,netdev=user.0"],
        "-drive": [
            "file=output-qemu/packer-qemu,if=virtio,cache=writeback,discard=ignore,format=qcow2",
            "file=/cache/test.iso,index=0,media=cdrom",
        ],
        "-vnc": ["127.0.0.1:7"],
        "-m": ["512M"],
        "-boot": ["once=d"],
    }


def test_not_headless_means_a_gtk_display_unless_told() -> None:
    assert default_args(config(), machine())["-display"] == ["gtk"]
    assert default_args(config(display="sdl"), machine())["-display"] == ["sdl"]
    assert "-display" not in default_args(config(use_default_display=True), machine())
    assert default_args(config(display="none"), machine())["-display"] == ["gtk"]  # as 1.6.6


def test_machine_cpus_floppy_cd_qmp_and_disk_options() -> None:
    cfg = config(
        headless=True,
        accelerator="none",
        cpus=2,
        memory=1024,
        qmp_enable=True,
        disk_detect_zeroes="unmap",
        disk_cache="none",
        disk_discard="unmap",
        format="raw",
        net_device="e1000",
    )
    m = machine(floppy_path="/tmp/f.img", cd_path="/tmp/cd.iso", qmp_socket="o/vm.monitor",
                disk_paths=["o/vm", "o/vm-1"])  # fmt: skip
    args = default_args(cfg, m)
    assert args["-machine"] == ["type=pc"]
    assert "no hardware acceleration" in m.notes[0]
    assert args["-smp"] == ["cpus=2,sockets=2"]
    assert args["-m"] == ["1024M"]
    assert args["-fda"] == ["/tmp/f.img"]
    assert args["-qmp"] == ["unix:o/vm.monitor,server,nowait"]
    assert args["-device"] == ["e1000,netdev=user.0"]
    assert args["-drive"] == [
        "file=o/vm,if=virtio,cache=none,discard=unmap,format=raw,detect-zeroes=unmap",
        "file=o/vm-1,if=virtio,cache=none,discard=unmap,format=raw,detect-zeroes=unmap",
        "file=/cache/test.iso,index=0,media=cdrom",
        "file=/tmp/cd.iso,index=1,media=cdrom",
    ]


def test_disk_image_boots_the_disk_without_the_iso() -> None:
    args = default_args(config(disk_image=True, headless=True), machine())
    assert args["-boot"] == ["c"]
    assert not any("media=cdrom" in d for d in args["-drive"])


def test_virtio_scsi_disks_and_cdrom_interface() -> None:
    cfg = config(disk_interface="virtio-scsi", cdrom_interface="virtio-scsi", headless=True)
    args = default_args(cfg, machine(disk_paths=["d0", "d1"]))
    assert args["-device"] == [
        "virtio-scsi-pci,id=scsi0",
        "scsi-hd,bus=scsi0.0,drive=drive0",
        "scsi-hd,bus=scsi0.0,drive=drive1",
        "virtio-net,netdev=user.0",
        "virtio-scsi-device",
        "scsi-cd,drive=cdrom0",
    ]
    assert (
        args["-drive"][0] == "if=none,file=d0,id=drive0,cache=writeback,discard=ignore,format=qcow2"
    )
    assert args["-drive"][2] == "file=/cache/test.iso,if=none,index=0,id=cdrom0,media=cdrom"


def test_no_communicator_no_forward_and_bridge() -> None:
    assert default_args(config(headless=True), machine(host_port=0))["-netdev"] == [
        "user,id=user.0"
    ]
    args = default_args(config(headless=True, net_bridge="br0"), machine())
    assert args["-netdev"] == ["bridge,id=user.0,br=br0"]


def test_vnc_password_and_the_headless_message() -> None:
    cfg = config(headless=True, vnc_use_password=True)
    assert default_args(cfg, machine(vnc_password=True))["-vnc"] == ["127.0.0.1:7,password=on"]
    text = headless_message(True, "127.0.0.1:7", "")
    assert "connect via VNC without a password to\nvnc://127.0.0.1:7" in text
    assert headless_message(False, "127.0.0.1:7", "") == ""


def test_overrides_replace_a_flag_and_keep_the_other_defaults() -> None:
    defaults = default_args(config(headless=True), machine())
    rows = [["-m", "1G"], ["-netdev", "user,id=user.0,hostfwd=tcp::{{ .SSHHostPort }}-:22"]]
    data = {"SSHHostPort": "3333"}
    out = apply_overrides(defaults, rows, lambda t: t.replace("{{ .SSHHostPort }}", data["SSHHostPort"]),
                          "virtio-net")  # fmt: skip
    got = dict(pairs(out))
    assert got["-m"] == "1G"
    assert got["-netdev"] == "user,id=user.0,hostfwd=tcp::3333-:22"
    assert got["-name"] == "packer-qemu" and got["-vnc"] == "127.0.0.1:7"
    assert out.count("-m") == 1


def test_a_flag_given_many_times_and_bare_flags_and_joined_parts() -> None:
    defaults = default_args(config(headless=True), machine())
    rows = [
        ["-device", "virtio-rng-pci"],
        ["-device", "e1000,", "netdev=user.0"],  # parts after the flag are joined
        ["-no-reboot"],
        ["-serial", "file:serial.log"],
    ]
    out = apply_overrides(defaults, rows, lambda t: t, "virtio-net")
    assert [v for k, v in pairs(out) if k == "-device"] == [
        "virtio-rng-pci",
        "e1000,netdev=user.0",
        "virtio-net,netdev=user.0",  # the net device the netdev needs is put back (#6804)
    ]
    assert "-no-reboot" in out and out[out.index("-no-reboot") + 1].startswith("-")
    assert out[-2:] == ["-serial", "file:serial.log"]  # user-only flags after the defaults


def test_a_device_override_that_names_the_net_device_is_left_alone() -> None:
    defaults = default_args(config(headless=True), machine())
    out = apply_overrides(defaults, [["-device", "virtio-net,netdev=user.0,mac=52:54:00:00:00:01"]],
                          lambda t: t, "virtio-net")  # fmt: skip
    assert [v for k, v in pairs(out) if k == "-device"] == [
        "virtio-net,netdev=user.0,mac=52:54:00:00:00:01"
    ]


def test_the_command_line_renders_every_qemuargs_variable(tmp_path: Any) -> None:
    """`{{ .HTTPIP }}`, `{{ .HTTPPort }}`, `{{ .HTTPDir }}`, `{{ .OutputDir }}`, `{{ .Name }}`,
    `{{ .SSHHostPort }}` through the template engine, as StepRun renders them."""
    from builder.components import PluginOptions
    from builder.ledger import Ledger
    from builder.multistep import CancelToken
    from builder.qemu.run import QemuRun
    from builder.qemu.steps.step_run import command_line
    from builder.template.funcs import RenderContext
    from builder.testing import RecordingSink
    from builder.ui import Ui
    from tests.unit.qemu.fakes import FakeQemuDriver

    (tmp_path / "www").mkdir()
    row = "{{ .HTTPIP }}|{{ .HTTPPort }}|{{ .HTTPDir }}|{{ .OutputDir }}|{{ .Name }}|{{ .SSHHostPort }}"
    cfg = config(headless=True, http_directory=str(tmp_path / "www"), qemuargs=[["-x", row]])
    render = RenderContext(user_vars={}, template_path=None, build_name="b", build_type="qemu")
    options = PluginOptions(build_name="b", build_type="qemu", render=render)
    ctx = QemuRun(ui=Ui(RecordingSink(), "b"), cancel=CancelToken(), hook=None,  # type: ignore[arg-type]
                  options=options, resources=Ledger.memory("r").build("b"), config=cfg,
                  driver=FakeQemuDriver(), output_dir="out", vm_name="vm",
                  http_ip="10.0.2.2", http_port=8123, host_port=3456, vnc_port=5901,
                  disk_paths=["out/vm"])  # fmt: skip
    args = command_line(ctx, 7)
    assert args[args.index("-x") + 1] == f"10.0.2.2|8123|{tmp_path / 'www'}|out|vm|3456"
    assert args[args.index("-netdev") + 1] == "user,id=user.0,hostfwd=tcp:127.0.0.1:3456-:22"
