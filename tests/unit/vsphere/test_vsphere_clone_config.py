"""vsphere-clone's options: 1.6.6's defaults and checks, located at the option."""

from __future__ import annotations

from typing import Any

import pytest

from builder.vsphere.clone.config import CloneConfig

BASE: dict[str, Any] = {
    "vcenter_server": "vc.test",
    "username": "u",
    "password": "secret-pw",
    "cluster": "DC0_C0",
    "template": "tpl",
    "vm_name": "vm",
    "communicator": "none",
}


def errors(**over: Any) -> list[tuple[str, str]]:
    cfg = CloneConfig.model_validate({**BASE, **over})
    return [(e.location.path if e.location else "", e.message) for e in cfg.check()]


def test_a_minimal_block_is_valid_with_packer_defaults() -> None:
    cfg = CloneConfig.model_validate(BASE)
    assert cfg.check() == []
    assert (cfg.ip_wait_timeout, cfg.ip_settle_timeout, cfg.ip_wait_address) == (
        1800.0,
        5.0,
        "0.0.0.0/0",
    )
    assert cfg.shutdown_timeout == 300.0 and cfg.boot_wait == 10.0
    assert cfg.snapshot_label() == "Created by Packer"
    assert cfg.secrets() == ["secret-pw"]


def test_required_options() -> None:
    cfg = CloneConfig.model_validate({"communicator": "none"})
    found = {e.message for e in cfg.check()}
    for needed in ("vcenter_server", "username", "password", "vm_name", "template"):
        assert f"'{needed}' is required" in found
    assert "'host' or 'cluster' is required" in found


@pytest.mark.parametrize(
    ("over", "where", "message"),
    [
        ({"linked_clone": True, "disk_size": 10}, "disk_size",
         "'linked_clone' and 'disk_size' cannot be used together"),
        ({"mac_address": "00:50:56:00:00:01"}, "network",
         "'network' is required when 'mac_address' is specified"),
        ({"RAM_reservation": 10, "RAM_reserve_all": True}, "RAM_reserve_all",
         "'RAM_reservation' and 'RAM_reserve_all' cannot be used together"),
        ({"firmware": "uefi"}, "firmware", "'firmware' must be '', 'bios', 'efi' or 'efi-secure'"),
        ({"ip_wait_address": "10.0.0/33"}, "ip_wait_address", 'unable to parse "ip_wait_address"'),
        ({"boot_order": "disk,usb"}, "boot_order", "unknown boot device 'usb' in 'boot_order'"),
        ({"cdrom_type": "scsi"}, "cdrom_type", "'cdrom_type' must be 'ide' or 'sata'"),
        ({"storage": [{"disk_size": 0}]}, "storage[0].disk_size", "storage[0].'disk_size' is required"),
        ({"customize": {}}, "customize", "customize is empty"),
        ({"customize": {"linux_options": {"domain": "d"}, "network_interface": [{}]}},
         "customize.linux_options.host_name", "linux options `host_name` is empty"),
        ({"customize": {"windows_sysprep_file": "x.xml"}}, "customize.network_interface",
         "one or more `network_interface` must be provided"),
        ({"customize": {"windows_sysprep_file": "x", "linux_options": {"host_name": "h",
          "domain": "d"}, "network_interface": [{}]}}, "customize.windows_sysprep_file",
         "`linux_options` and `windows_sysprep_text` both set"),
    ],
)  # fmt: skip
def test_checks(over: dict[str, Any], where: str, message: str) -> None:
    found = errors(**over)
    assert any(path == where and text.startswith(message) for path, text in found), found


def test_capitalised_names_and_lax_values() -> None:
    cfg = CloneConfig.model_validate(
        {**BASE, "CPUs": "2", "RAM": "64", "NestedHV": "true", "CPU_hot_plug": True,
         "folder": "/a//b/", "vapp": {"properties": {"k": "v"}}}
    )  # fmt: skip
    assert (cfg.cpus, cfg.ram, cfg.nested_hv, cfg.cpu_hot_plug) == (2, 64, True, True)
    assert cfg.folder == "a/b" and cfg.vm_path() == "a/b/vm"
    assert cfg.hardware_set()


def test_customize_defaults() -> None:
    cfg = CloneConfig.model_validate(
        {**BASE, "customize": {"linux_options": {"host_name": "h", "domain": "d"},
                               "network_interface": [{"ipv4_address": "127.0.0.1"}]}}
    )  # fmt: skip
    assert cfg.customize is not None and cfg.customize.linux_options is not None
    assert cfg.customize.linux_options.hw_clock_utc is True
    assert cfg.customize.linux_options.time_zone == "UTC"


def test_export_checks(tmp_path: Any) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "vm.ovf").write_text("old")
    cfg = CloneConfig.model_validate(
        {**BASE, "export": {"output_directory": str(out), "manifest": "md5"}}
    )
    assert cfg.export is not None
    found = [e.message for e in cfg.export.check_export("vm", "b")]
    assert any(m.startswith("unknown hash: md5.") for m in found)
    assert f"file already exists: {out / 'vm.ovf'}" in found
    forced = CloneConfig.model_validate({**BASE, "export": {"output_directory": str(out),
                                                            "force": True}})  # fmt: skip
    assert forced.export is not None and forced.export.check_export("vm", "b") == []
