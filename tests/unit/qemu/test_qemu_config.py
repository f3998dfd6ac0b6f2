"""qemu options: Packer 1.6.6's defaults, its checks with the option named, and deprecations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder.engine import RunOptions, load_template, prepare
from builder.qemu.config import QemuConfig
from tests.unit.qemu.fakes import FakeQemuDriver

BASE: dict[str, Any] = {
    "iso_url": "install.iso",
    "iso_checksum": "none",
    "ssh_username": "root",
    "ssh_password": "pw",
}


def config(**over: Any) -> QemuConfig:
    return QemuConfig.model_validate({**BASE, **over})


def messages(cfg: QemuConfig) -> dict[str, str]:
    return {e.location.path: e.message for e in cfg.check()}


def test_defaults_are_packers() -> None:
    cfg = config()
    assert cfg.disk_size == "40960M"
    assert cfg.accelerator in ("kvm", "tcg")  # kvm when /dev/kvm opens
    assert (cfg.format, cfg.machine_type, cfg.memory, cfg.cpus) == ("qcow2", "pc", 512, 1)
    assert (cfg.disk_interface, cfg.disk_cache, cfg.disk_discard, cfg.disk_detect_zeroes) == (
        "virtio",
        "writeback",
        "ignore",
        "off",
    )
    assert (cfg.net_device, cfg.qemu_binary) == ("virtio-net", "qemu-system-x86_64")
    assert (cfg.vnc_bind_address, cfg.vnc_port_min, cfg.vnc_port_max) == ("127.0.0.1", 5900, 6000)
    assert (cfg.host_port_min, cfg.host_port_max) == (2222, 4444)
    assert (cfg.http_port_min, cfg.http_port_max, cfg.http_bind_address) == (
        8000,
        9000,
        "127.0.0.1",
    )
    assert cfg.boot_wait == 10.0 and cfg.shutdown_timeout == 300.0
    assert not cfg.headless and not cfg.qmp_enable and not cfg.disk_compression
    assert cfg.check() == []


def test_zero_and_empty_values_mean_the_default_and_small_ones_are_raised() -> None:
    cfg = config(disk_size="", vnc_port_min=0, host_port_max=0, memory=5, cpus=0, format="")
    assert cfg.disk_size == "40960M" and cfg.vnc_port_min == 5900 and cfg.host_port_max == 4444
    assert (cfg.memory, cfg.cpus, cfg.format) == (512, 1, "qcow2")


def test_disk_size_without_unit_is_megabytes_and_a_bad_one_is_named() -> None:
    assert config(disk_size=2000).disk_size == "2000M"
    assert config(disk_size="2G").disk_size == "2G"
    assert messages(config(disk_size="2 gigs")) == {"disk_size": "Invalid disk size."}
    assert messages(config(disk_additional_size=["1G", "x"])) == {
        "disk_additional_size[1]": "Invalid disk size."
    }


def test_raw_format_never_compacts_nor_compresses() -> None:
    cfg = config(format="raw", disk_compression=True)
    assert cfg.skip_compaction and not cfg.disk_compression
    assert messages(config(format="vmdk")) == {
        "format": "invalid format, only 'qcow2' or 'raw' are allowed"
    }


def test_backing_file_needs_a_qcow2_disk_image() -> None:
    assert messages(config(use_backing_file=True)) == {
        "use_backing_file": "use_backing_file can only be enabled for QCOW2 images and when "
        "disk_image is true"
    }
    cfg = config(use_backing_file=True, disk_image=True)
    assert cfg.check() == [] and cfg.skip_compaction
    assert messages(config(skip_resize_disk=True)) == {
        "skip_resize_disk": "skip_resize_disk can only be used when disk_image is true"
    }


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "accelerator",
            "qvm",
            "invalid accelerator, only 'kvm', 'tcg', 'xen', 'hax', 'hvf', "
            "'whpx', or 'none' are allowed",
        ),  # fmt: skip
        ("disk_interface", "sata", "unrecognized disk interface type"),
        ("disk_cache", "fast", "unrecognized disk cache type"),
        ("disk_discard", "on", "unrecognized disk discard type"),
        ("disk_detect_zeroes", "yes", "unrecognized disk detect zeroes setting"),
    ],
)
def test_enumerated_options(key: str, value: str, message: str) -> None:
    errors = config(**{key: value}).check()
    assert [(e.location.path, e.message) for e in errors] == [(key, message)]
    assert errors[0].hint and errors[0].hint.startswith("one of ")


def test_port_ranges() -> None:
    assert messages(config(vnc_port_min=6001)) == {
        "vnc_port_min": "vnc_port_min must be less than vnc_port_max"
    }
    assert "vnc_port_min" in messages(config(vnc_port_min=5000))
    assert messages(config(host_port_min=5000, host_port_max=4000)) == {
        "host_port_min": "host_port_min must be less than host_port_max"
    }


def test_ssh_host_port_options_are_deprecated_aliases() -> None:
    cfg = config(ssh_host_port_min=3000, ssh_host_port_max=3100)
    assert (cfg.host_port_min, cfg.host_port_max) == (3000, 3100)
    warnings = cfg.all_warnings()
    assert warnings[0].startswith("ssh_host_port_min is deprecated and is being replaced by "
                                  "host_port_min.")  # fmt: skip
    assert len([w for w in warnings if "is deprecated" in w]) == 2


def test_vnc_password_and_bridge_turn_qmp_on() -> None:
    assert config(vnc_use_password=True).qmp_enable
    assert config(net_bridge="br0").qmp_enable


def test_skip_nat_mapping_connects_to_loopback() -> None:
    assert config(skip_nat_mapping=True).ssh_host == "127.0.0.1"
    assert config(skip_nat_mapping=True, ssh_host="10.1.2.3").ssh_host == "10.1.2.3"


def test_boot_command_and_disable_vnc() -> None:
    assert messages(config(boot_command=["<entre>"])) == {
        "boot_command[0]": "unknown key '<entre>' (it would be typed as text)"
    }
    assert messages(config(boot_command=["<enter>"], disable_vnc=True)) == {
        "disable_vnc": "A boot command cannot be used when vnc is disabled."
    }


def template(tmp_path: Path, **over: Any) -> Path:
    block = {"type": "qemu", **BASE, "iso_url": str(tmp_path / "install.iso"), **over}
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [block]}, indent=2))
    return path


def test_an_existing_output_directory_fails_validate_unless_forced(
    fake: FakeQemuDriver, tmp_path: Path
) -> None:
    (tmp_path / "output-qemu").mkdir()
    prepared = prepare(load_template(str(template(tmp_path))), RunOptions())
    (error,) = prepared.all_errors
    assert error.message == "Output directory 'output-qemu' already exists. It must not exist."
    assert error.location.path == "builders[0].output_directory"
    assert error.hint and "-force" in error.hint
    forced = prepare(load_template(str(template(tmp_path))), RunOptions(force=True))
    assert not forced.errors


def test_qemuargs_and_boot_command_are_rendered_at_run_time(
    fake: FakeQemuDriver, tmp_path: Path
) -> None:
    rows = [["-netdev", "user,id=user.0,hostfwd=tcp::{{ .SSHHostPort }}-:22"]]
    path = template(tmp_path, qemuargs=rows, boot_command=["{{ .HTTPIP }}<enter>"])
    prepared = prepare(load_template(str(path)), RunOptions())
    assert not prepared.errors
    cfg = prepared.builds[0].builder.config
    assert isinstance(cfg, QemuConfig)
    assert cfg.qemuargs == rows and cfg.boot_command == ["{{ .HTTPIP }}<enter>"]


def test_a_misspelt_option_is_named_with_a_suggestion(fake: FakeQemuDriver, tmp_path: Path) -> None:
    prepared = prepare(load_template(str(template(tmp_path, disk_sise="1G"))), RunOptions())
    (error,) = prepared.all_errors
    assert error.message == "unknown option 'disk_sise'"
    assert error.hint == "did you mean 'disk_size'?"


def test_iso_skip_cache_with_a_checksum_warns_that_it_is_not_verified() -> None:
    def skip_warnings(cfg: QemuConfig) -> list[str]:
        return [w for w in cfg.all_warnings() if w.startswith("iso_skip_cache")]

    assert skip_warnings(config(iso_skip_cache=True, iso_checksum="sha256:" + "0" * 64)) != []
    assert skip_warnings(config(iso_checksum="sha256:" + "0" * 64)) == []
    assert skip_warnings(config(iso_skip_cache=True, iso_checksum="none")) == []
