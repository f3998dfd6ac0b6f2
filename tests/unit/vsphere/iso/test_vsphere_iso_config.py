"""vsphere-iso's options: 1.6.6's defaults and checks, each error at its option."""

from __future__ import annotations

from typing import Any

from builder.vsphere.iso.config import VSphereISOConfig
from tests.unit.vsphere.iso.conftest import BASE, config


def errors(**over: Any) -> dict[str, str]:
    cfg = VSphereISOConfig.model_validate({**BASE, **over})
    return {e.location.path: e.message for e in cfg.check()}


def test_a_minimal_block_is_valid_with_packers_defaults() -> None:
    cfg = config()
    assert cfg.check() == []
    assert cfg.guest_os() == "otherGuest" and cfg.vm_version == 0
    assert cfg.controller_types() == ("",) and cfg.cdrom_type == ""
    assert cfg.boot_wait == 10.0 and cfg.http_port_min == 8000
    assert config(guest_os_type="").guest_os() == "otherGuest"


def test_storage_is_required_and_checked_per_disk() -> None:
    assert errors(storage=[]) == {"storage": "no storage devices have been defined"}
    found = errors(
        disk_controller_type=["pvscsi", "ide"],
        storage=[{"disk_size": 0}, {"disk_size": 10, "disk_controller_index": 2}],
    )
    assert found == {
        "disk_controller_type[1]": "unknown disk controller type 'ide'",
        "storage[0].disk_size": "storage[0].'disk_size' is required",
        "storage[1].disk_controller_index": (
            "storage[1].'disk_controller_index' references an unknown disk controller"
        ),
    }
    assert errors(storage=[{"disk_size": 1, "disk_controller_index": 0}]) == {}


def test_network_adapters_usb_and_cdrom_checks() -> None:
    assert errors(network_adapters=[]) == {
        "network_adapters": "no network adapters have been defined"
    }
    found = errors(
        network_adapters=[{"network_card": "vmxnet4", "mac_address": "00:11"}],
        usb_controller=["usb", "true", "usb3"],
        cdrom_type="scsi",
        iso_paths=["[LocalDS_0] ok.iso", "[a]b]"],
    )
    assert found == {
        "network_adapters[0].network_card": "unknown ethernet card type 'vmxnet4'",
        "network_adapters[0].mac_address": "'00:11' is not a MAC address",
        "usb_controller[2]": "usb_controller[2] references an unknown usb controller",
        "usb_controller": "there can only be one usb controller and one xhci controller",
        "cdrom_type": "'cdrom_type' must be 'ide' or 'sata'",
        "iso_paths[1]": "[a]b] is not a valid iso path",
    }
    assert config(usb_controller="0,xhci,1").usb_controllers() == ("xhci", "usb")


def test_the_iso_is_optional_but_checked_once_given() -> None:
    assert errors(iso_paths=["[LocalDS_0] iso/debian.iso"]) == {}
    assert errors(iso_url="http://127.0.0.1/x.iso") == {
        "iso_checksum": errors(iso_url="http://127.0.0.1/x.iso")["iso_checksum"]
    }
    assert "iso_url" in errors(iso_checksum="sha256:" + "a" * 64)
    assert errors(iso_url="x.iso", iso_checksum="none", iso_skip_cache=True) == {
        "iso_skip_cache": "unknown option 'iso_skip_cache'"
    }
    cfg = config(iso_url="x.iso", iso_checksum="none")
    assert any("checksum is highly recommended" in w for w in cfg.all_warnings())


def test_ssh_needs_its_own_credentials_and_http_ip_is_an_address() -> None:
    found = errors(communicator="ssh", ssh_username="root")
    assert list(found) == [""] and "ssh_password" in str(
        VSphereISOConfig.model_validate({**BASE, "communicator": "ssh", "ssh_username": "root"})
        .check()[0]
        .hint
    )
    assert errors(communicator="ssh", ssh_username="root", ssh_password="x") == {}
    assert errors(http_ip="host.example") == {"http_ip": "invalid IP address"}


def test_a_loopback_http_server_warns_unless_the_guest_is_told_loopback(tmp_path: Any) -> None:
    served = {"http_directory": str(tmp_path)}
    assert any("http_bind_address" in w for w in config(**served).all_warnings())
    assert not any(
        "http_bind_address" in w for w in config(**served, http_ip="127.0.0.1").all_warnings()
    )
    assert not any(
        "http_bind_address" in w
        for w in config(**served, http_bind_address="0.0.0.0").all_warnings()
    )
