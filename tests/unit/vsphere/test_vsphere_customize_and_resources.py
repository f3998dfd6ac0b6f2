"""Guest customization specs, the cleanup handler and the SDK's offline helpers."""

from __future__ import annotations

from typing import Any

import pytest

from builder.ledger import LeftResource
from builder.vsphere.clone.config import CloneConfig
from builder.vsphere.clone.steps import clone_spec, customize_spec
from builder.vsphere.common.driver import NotFound, UsbKeyEvent, closest
from builder.vsphere.common.resources import VSphereHandler, VSphereRemover
from tests.unit.vsphere.fake_driver import FakeVSphereDriver


def cfg(**over: Any) -> CloneConfig:
    base = {"vcenter_server": "v", "username": "u", "password": "p", "cluster": "C",
            "template": "t", "vm_name": "vm", "communicator": "none"}  # fmt: skip
    return CloneConfig.model_validate({**base, **over})


def test_gateways_go_to_the_first_interface_that_holds_them() -> None:
    c = cfg(customize={
        "linux_options": {"host_name": "h", "domain": "d"},
        "network_interface": [
            {"ipv4_address": "10.0.0.5", "ipv4_netmask": 24},
            {"ipv4_address": "192.168.1.5", "ipv4_netmask": 24, "ipv6_address": "fd00::5",
             "ipv6_netmask": 64, "dns_server_list": ["192.168.1.1"], "dns_domain": "lan"},
            {"ipv4_address": "192.168.1.6", "ipv4_netmask": 24},
            {},
        ],
        "ipv4_gateway": "192.168.1.1", "ipv6_gateway": "fd00::1",
        "dns_server_list": ["9.9.9.9"], "dns_suffix_list": "a.test,b.test",
    })  # fmt: skip
    assert c.customize is not None
    spec = customize_spec(c.customize)
    assert [n.ipv4_gateway for n in spec.nics] == ["", "192.168.1.1", "", ""]
    assert [n.ipv6_gateway for n in spec.nics] == ["", "fd00::1", "", ""]
    assert spec.nics[1].dns_server_list == ("192.168.1.1",) and spec.nics[1].dns_domain == "lan"
    assert spec.dns_suffix_list == ("a.test", "b.test") and spec.linux is not None
    assert spec.linux.time_zone == "UTC" and spec.linux.hw_clock_utc


def test_sysprep_file_is_read_at_run_time(tmp_path: Any) -> None:
    from builder.errors import BuildError

    path = tmp_path / "unattend.xml"
    path.write_text("<unattend/>")
    c = cfg(customize={"windows_sysprep_file": str(path), "network_interface": [{}]})
    assert c.customize is not None
    assert customize_spec(c.customize).sysprep_text == "<unattend/>"
    path.unlink()
    with pytest.raises(BuildError, match="error on reading"):
        customize_spec(c.customize)


def test_clone_spec_carries_every_clone_option() -> None:
    c = cfg(folder="f", host="H", resource_pool="rp", datastore="ds", linked_clone=True,
            network="VM Network", mac_address="00:50:56:01:02:03", notes="n",
            vapp={"properties": {"b": "2", "a": "1"}}, disk_controller_type=["pvscsi"],
            storage=[{"disk_size": 1024, "disk_thin_provisioned": True}])  # fmt: skip
    spec = clone_spec(c, "run-1")
    assert spec.placement.folder == "f" and spec.placement.resource_pool == "rp"
    assert spec.vapp_properties == (("a", "1"), ("b", "2"))
    assert spec.storage.controller_types == ("pvscsi",)
    assert spec.storage.disks[0].size_mb == 1024 and spec.storage.disks[0].thin_provisioned
    assert (spec.mac_address, spec.annotation, spec.run_id) == ("00:50:56:01:02:03", "n", "run-1")


def test_not_found_lists_names_and_the_closest() -> None:
    err = NotFound("network", "vm network", ["VM Network", "DC0_DVPG0"])
    assert str(err) == (
        "network 'vm network' not found; the networks that exist: DC0_DVPG0, VM Network "
        "(did you mean 'VM Network'?)"
    )
    assert closest("zzz", ["DC0"]) == ""
    assert str(NotFound("resource pool", "x")) == "resource pool 'x' not found"


def left(kind: str, **kw: Any) -> LeftResource:
    return LeftResource("run-1", "b#1", "b", "vsphere", kind, **kw)


def test_remover_destroys_only_its_own_vms() -> None:
    fake = FakeVSphereDriver()
    mine = fake.add_vm("mine", run_id="run-1")
    other = fake.add_vm("other", run_id="run-2")
    remover = VSphereRemover(fake)
    assert remover.remove(left("vm", name="other")) is False  # not confirmed, another run's
    assert other.ref.id in fake.vms
    assert remover.remove(left("vm", name="mine")) is True
    stale = left("vm", id=other.ref.id, state="created", attrs={"uuid": "someone-else"})
    assert remover.remove(stale) is False and other.ref.id in fake.vms
    assert mine.ref.id not in fake.vms
    (found,) = remover.sweep()
    assert (found.run_id, found.id, found.ref) == ("run-2", other.ref.id, "vsphere.vm")


def test_remover_files_and_sessions() -> None:
    fake = FakeVSphereDriver()
    fake.files[("LocalDS_0", "packer_cache/cd.iso")] = b"x"
    remover = VSphereRemover(fake)
    assert remover.remove(left("file", name="[LocalDS_0] packer_cache/cd.iso")) is True
    assert remover.remove(left("file", name="[LocalDS_0] packer_cache/cd.iso")) is False
    orphan = fake.login()
    fake.session = ""
    assert remover.remove(left("session", id=orphan, state="created")) is True
    assert remover.remove(left("session", name="u@v")) is False  # the login never answered


def test_handler_needs_a_password() -> None:
    from builder.errors import PybuildError

    with pytest.raises(PybuildError, match="VSPHERE_PASSWORD"):
        with VSphereHandler().open({"vcenter_server": "v", "username": "u"}, None):
            pass


def test_sdk_usb_encoding_and_masks() -> None:
    from builder.vsphere.common import sdk

    spec = sdk.usb_scan_codes([UsbKeyEvent(0x04, left_shift=True), UsbKeyEvent(0x28)])
    codes = [(e.usbHidCode, e.modifiers.leftShift, e.modifiers.rightAlt) for e in spec.keyEvents]
    assert codes == [((0x04 << 16) | 7, True, None), ((0x28 << 16) | 7, False, None)]
    assert [sdk.dotted_mask(b) for b in (0, 8, 24, 32)] == [
        "0.0.0.0", "255.0.0.0", "255.255.255.0", "255.255.255.255",
    ]  # fmt: skip
