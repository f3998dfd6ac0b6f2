"""The shared vSphere steps one by one, on a VSphereRun over FakeVSphereDriver."""

from __future__ import annotations

from typing import Any

import pytest

from builder.components import PluginOptions
from builder.errors import BuildCancelled, BuildError
from builder.ledger import Ledger
from builder.multistep import CancelToken
from builder.template.funcs import RenderContext
from builder.testing import FakeCommunicator, RecordingSink
from builder.ui import Ui
from builder.vsphere.clone.config import CloneConfig
from builder.vsphere.common.driver import VSphereSettings
from builder.vsphere.common.run import VSphereRun
from builder.vsphere.common.steps import (
    StepConnectVSphere,
    StepShutdown,
    StepWaitForIp,
    UsbKeySender,
    cleanup_vm,
    record_vm,
    vm_made,
)
from builder.vsphere.common.steps.step_http_ip import host_ip
from builder.vsphere.common.steps.step_wait_for_ip import pick_ip, settle_interval
from tests.unit.vsphere.fake_driver import FakeVSphereDriver

BASE: dict[str, Any] = {
    "vcenter_server": "vc.test", "username": "u", "password": "pw", "cluster": "C",
    "template": "DC0_C0_RP0_VM0", "vm_name": "vm", "ssh_username": "u",
    "ssh_password": "unused-pw",
}  # fmt: skip


class Clock:
    """A fake monotonic clock the fake cancel token's waits advance."""

    def __init__(self) -> None:
        self.now = 0.0


class TickingCancel(CancelToken):
    def __init__(self, clock: Clock):
        super().__init__()
        self.clock = clock

    def wait(self, seconds: float) -> bool:
        self.clock.now += seconds
        return self.cancelled


def make_run(fake: FakeVSphereDriver | None = None, clock: Clock | None = None, **over: Any) -> Any:
    cfg = CloneConfig.model_validate({**BASE, **over})
    render = RenderContext(user_vars={}, template_path=None, build_name="b",
                           build_type="vsphere-clone")  # fmt: skip
    ctx = VSphereRun(
        ui=Ui(RecordingSink(), "b"),
        cancel=TickingCancel(clock or Clock()),
        hook=None,  # type: ignore[arg-type]
        options=PluginOptions(build_name="b", build_type="vsphere-clone", render=render),
        resources=Ledger.memory("r").build("b"),
        config=cfg,
        driver=fake or FakeVSphereDriver(),
        vm_path="vm",
    )
    return ctx


def with_vm(ctx: Any, power: str = "poweredOn") -> Any:
    fake: FakeVSphereDriver = ctx.driver
    vm = fake.add_vm("vm", power=power)
    vm_made(ctx, record_vm(ctx, "vm"), vm.ref)
    return vm


def says(ctx: Any) -> list[str]:
    return [t for t in ctx.ui.sink.texts() if t]


def test_pick_ip_follows_ip_wait_address() -> None:
    import ipaddress

    ips = ["fe80::1", "169.254.0.5", "10.1.2.3"]
    assert pick_ip(ips, None) == "169.254.0.5"
    assert pick_ip(ips, ipaddress.ip_network("10.0.0.0/8")) == "10.1.2.3"
    assert pick_ip(ips, ipaddress.ip_network("fe80::/10")) == "fe80::1"
    assert pick_ip(["bogus"], None) == ""
    assert [settle_interval(s) for s in (5, 10, 60, 120)] == [1.0, 5.0, 15.0, 30.0]


def test_wait_for_ip_waits_for_the_address_to_settle() -> None:
    clock = Clock()
    ctx = make_run(clock=clock, ip_settle_timeout="3s")
    with_vm(ctx)
    ctx.driver.ip_script = [[], [], ["127.0.0.5"], ["127.0.0.6"]]
    StepWaitForIp(clock=lambda: clock.now).run(ctx)
    assert ctx.ip == "127.0.0.6"  # the address changed once: it had to settle again
    assert says(ctx) == ["Waiting for IP...", "IP address: 127.0.0.6"]
    assert ctx.driver.ip_calls >= 6


def test_wait_for_ip_times_out_without_an_address() -> None:
    clock = Clock()
    ctx = make_run(clock=clock, ip_wait_timeout="10s")
    with_vm(ctx)
    ctx.driver.ip_script = [[]]
    with pytest.raises(BuildError, match=r"^Timeout waiting for IP\. .*10s"):
        StepWaitForIp(clock=lambda: clock.now).run(ctx)
    assert clock.now >= 10


def test_wait_for_ip_at_the_timeout_uses_an_address_seen() -> None:
    clock = Clock()
    ctx = make_run(clock=clock, ip_wait_timeout="4s", ip_settle_timeout="1m")
    with_vm(ctx)
    ctx.driver.ip_script = [["127.0.0.7"]]
    StepWaitForIp(clock=lambda: clock.now).run(ctx)
    assert ctx.ip == "127.0.0.7"


def test_wait_for_ip_is_cancellable() -> None:
    ctx = make_run()
    with_vm(ctx)
    ctx.driver.ip_script = [[]]
    ctx.cancel.cancel()
    with pytest.raises(BuildCancelled):
        StepWaitForIp().run(ctx)


@pytest.mark.parametrize(
    ("over", "comm", "said", "op"),
    [
        ({}, True, "Shutting down VM...", "shutdown_guest"),
        ({"shutdown_command": "sudo poweroff"}, True, "Executing shutdown command...", None),
        ({"disable_shutdown": True}, True,
         "Automatic shutdown disabled. Please shutdown virtual machine.", None),
    ],
)  # fmt: skip
def test_shutdown_branches(over: dict[str, Any], comm: bool, said: str, op: str | None) -> None:
    clock = Clock()
    ctx = make_run(clock=clock, shutdown_timeout="20s", **over)
    vm = with_vm(ctx)
    remote = FakeCommunicator()
    ctx.communicator = remote
    step = StepShutdown(clock=lambda: clock.now)
    if op is None:  # the guest must go off by itself: it does not here
        with pytest.raises(BuildError, match="Timeout while waiting for machine to shut down."):
            step.run(ctx)
    else:
        step.run(ctx)
        assert vm.power == "poweredOff"
    assert said in says(ctx)
    if "shutdown_command" in over:
        assert [r.command for r in remote.ran] == ["sudo poweroff"]


def test_shutdown_of_a_vm_already_off() -> None:
    ctx = make_run()
    with_vm(ctx, power="poweredOff")
    StepShutdown().run(ctx)
    assert says(ctx) == ["VM is already powered off"]


def test_connect_records_the_session_and_logs_out() -> None:
    ctx = make_run()
    step = StepConnectVSphere()
    step.run(ctx)
    (session,) = ctx.resources.outstanding()
    assert session.ref == "vsphere.session" and session.id.startswith("sha256:")
    assert session.name == "u@vc.test"
    step.cleanup(ctx)
    assert ctx.resources.outstanding() == [] and ctx.driver.ops()[-1] == "logout"


def test_cleanup_vm_keeps_on_success_and_destroys_on_failure() -> None:
    ok = make_run()
    vm = with_vm(ok)
    vm.run_id = "r"
    cleanup_vm(ok)
    assert vm.run_id == "" and ok.resources.outstanding() == []
    assert vm.ref.id in ok.driver.vms
    failed = make_run()
    with_vm(failed)
    failed.state.fail(BuildError("boom"), False)
    cleanup_vm(failed)
    assert "Destroying VM..." in says(failed) and failed.driver.vms.keys() == {
        v.ref.id for v in failed.driver.vms.values() if v.ref.name != "vm"
    }


def test_usb_sender_holds_modifiers_between_keys() -> None:
    """The KeySender interface (Shift as its own key): 1.6.6 sends the modifier's own key."""
    fake = FakeVSphereDriver()
    vm = fake.add_vm("vm").ref
    sender = UsbKeySender(fake, vm)
    for key, down in [
        ("leftshift", True),
        ("a", True),
        ("a", False),
        ("leftshift", False),
        ("leftctrl", True),
        ("enter", True),
        ("enter", False),
        ("leftctrl", False),
    ]:
        (sender.key_down if down else sender.key_up)(key)  # fmt: skip
    assert [(e.usage, e.left_shift, e.left_control) for e in fake.keys] == [
        (0xE1, True, False),  # leftshift down: the key with its own bit held
        (0x04, True, False),  # a, shifted
        (0xE1, False, False),  # leftshift up
        (0xE0, False, True),
        (0x28, False, True),  # enter with ctrl held
        (0xE0, False, False),
    ]
    assert fake.ops().count("put_usb_scan_codes") == 6 == sender.calls
    with pytest.raises(BuildError, match="'nosuchkey' has no key on a US keyboard"):
        sender.key_down("nosuchkey")


def test_both_builders_type_with_the_same_usb_step() -> None:
    from builder.vsphere.common.steps.step_boot_command import (
        StepUsbBootCommand,
        boot_command_step,
    )

    assert isinstance(boot_command_step("vm"), StepUsbBootCommand)


def test_http_ip_discovery() -> None:
    import ipaddress

    addrs = ["127.0.0.1", "192.0.2.10", "198.51.100.7"]
    assert host_ip("203.0.113.1", None, addrs) == "203.0.113.1"
    assert host_ip("", None, addrs) == "192.0.2.10"
    assert host_ip("", ipaddress.ip_network("198.51.100.0/24"), addrs) == "198.51.100.7"
    with pytest.raises(BuildError, match="IP not found"):
        host_ip("", None, ["127.0.0.1"])


def test_settings_from_a_ledger_record_take_the_password_from_the_environment() -> None:
    recorded = {"vcenter_server": "vc:443", "username": "", "datacenter": "DC0", "junk": 1}
    env = {"GOVC_USERNAME": "g", "VSPHERE_PASSWORD": "from-env"}
    s = VSphereSettings.from_record(recorded, env)
    assert (s.vcenter_server, s.username, s.password, s.datacenter) == ("vc:443", "g", "from-env",
                                                                         "DC0")  # fmt: skip
    assert "from-env" not in repr(s)
