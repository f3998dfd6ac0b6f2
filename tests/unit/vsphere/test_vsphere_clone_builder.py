"""vsphere-clone end to end through the engine, against FakeVSphereDriver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from builder.engine import RunOptions, load_template, prepare, run
from builder.events import Say
from builder.ledger import Resource
from builder.testing import RecordingSink
from tests.unit.vsphere.fake_driver import FakeVSphereDriver, vm_named

BASE: dict[str, Any] = {
    "type": "vsphere-clone",
    "vcenter_server": "vc.test:443",
    "username": "user",
    "password": "pw",
    "insecure_connection": True,
    "datacenter": "DC0",
    "cluster": "DC0_C0",
    "template": "DC0_C0_RP0_VM0",
    "vm_name": "clone1",
    "communicator": "none",
}


def go(
    tmp_path: Path, options: RunOptions | None = None, **over: Any
) -> tuple[Any, RecordingSink, list[tuple[str, Resource]]]:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [{**BASE, **over}]}))
    options = options or RunOptions(record_resources=False)
    records: list[tuple[str, Resource]] = []
    options.ledger.observers.append(lambda rec, build, res: records.append((rec, res)))
    prepared = prepare(load_template(str(path)), options)
    assert not prepared.errors, prepared.errors
    sink = RecordingSink()
    return run(prepared, sink)["vsphere-clone"], sink, records


def says(sink: RecordingSink) -> list[str]:
    return sink.texts(Say)


def test_communicator_none_clone_to_template(fake: FakeVSphereDriver, tmp_path: Path) -> None:
    result, sink, records = go(tmp_path, convert_to_template=True, CPUs=2, RAM=64, notes="n")
    assert result.error is None, result.error
    assert says(sink) == [
        "Cloning VM...",
        "Customizing hardware...",
        "Mounting ISO images...",
        "Adding configuration parameters...",
        "Eject CD-ROM drives...",
        "Convert VM into template...",
    ]
    vm = vm_named(fake, "clone1")
    assert vm is not None and vm.template and (vm.cpus, vm.ram_mb, vm.annotation) == (2, 64, "n")
    assert vm.run_id == ""  # set at the clone, cleared when the build finished
    (spec,) = [a for op, a in fake.calls if op == "clone_vm"]
    assert spec.run_id and spec.annotation == "n"
    assert "power_on" not in fake.ops() and fake.ops()[-1] == "logout"
    (artifact,) = result.artifacts
    assert (artifact.id, artifact.string()) == ("clone1", "/DC0/vm/clone1")
    states = [(rec, res.ref) for rec, res in records]
    assert states == [
        ("create", "vsphere.session"),
        ("created", "vsphere.session"),
        ("create", "vsphere.vm"),
        ("created", "vsphere.vm"),
        ("kept", "vsphere.vm"),
        ("released", "vsphere.session"),
    ]
    artifact.destroy()
    assert vm_named(fake, "clone1") is None


def test_with_a_communicator_the_vm_runs_and_shuts_down(
    fake: FakeVSphereDriver, tmp_path: Path, monkeypatch: Any
) -> None:
    from builder.common.steps import connect
    from builder.testing import FakeCommunicator

    def connected(self: Any, ctx: Any) -> None:
        assert self.host(ctx) == "127.0.0.1"  # the guest IP VMware Tools reported
        ctx.communicator = FakeCommunicator()

    monkeypatch.setattr(connect.StepConnect, "run", connected)
    result, sink, _ = go(
        tmp_path,
        communicator="ssh",
        ssh_username="u",
        ssh_password="unused-pw",
        ip_settle_timeout="1ms",
        http_ip="192.0.2.1",
        create_snapshot=True,
        snapshot_name="golden",
        customize={"linux_options": {"host_name": "h", "domain": "d"},
                   "network_interface": [{"ipv4_address": "127.0.0.1", "ipv4_netmask": 8}],
                   "ipv4_gateway": "127.0.0.254"},
    )  # fmt: skip
    assert result.error is None, result.error
    texts = says(sink)
    assert texts[texts.index("Customizing VM...") :] == [
        "Customizing VM...",
        "Power on VM...",
        "Waiting for IP...",
        "IP address: 127.0.0.1",
        "Shutting down VM...",
        "Deleting Floppy drives...",  # 1.6.6 removes floppy drives even when it added none
        "Eject CD-ROM drives...",
        "Creating snapshot...",
    ]
    vm = vm_named(fake, "clone1")
    assert vm is not None and vm.snapshots == ["golden"] and vm.power == "poweredOff"
    assert vm.customized is not None and vm.customized.nics[0].ipv4_gateway == "127.0.0.254"


def test_a_failed_step_destroys_the_vm_and_logs_out(
    fake: FakeVSphereDriver, tmp_path: Path
) -> None:
    from builder.errors import DriverError

    fake.fail["mark_as_template"] = DriverError("MarkAsTemplate: NotSupported")
    result, sink, records = go(tmp_path, convert_to_template=True)
    assert "MarkAsTemplate: NotSupported" in str(result.error)
    assert "Destroying VM..." in says(sink)
    assert vm_named(fake, "clone1") is None and fake.sessions == set()
    assert ("released", "vsphere.vm") in [(r, res.ref) for r, res in records]


def test_unknown_template_lists_what_exists(fake: FakeVSphereDriver, tmp_path: Path) -> None:
    result, _, records = go(tmp_path, template="DC0_C0_RP0_VM9")
    text = str(result.error)
    assert text == (
        "Error finding vm to clone: template 'DC0_C0_RP0_VM9' not found; the templates that "
        "exist: DC0_C0_RP0_VM0 (did you mean 'DC0_C0_RP0_VM0'?)"
    )
    assert ("released", "vsphere.vm") in [(r, res.ref) for r, res in records]


def test_wrong_password(fake: FakeVSphereDriver, tmp_path: Path) -> None:
    result, _, records = go(tmp_path, password="bad-password")
    assert "incorrect user name or password" in str(result.error)
    assert [(r, res.ref) for r, res in records] == [
        ("create", "vsphere.session"),
        ("released", "vsphere.session"),
    ]


def test_existing_vm_needs_force(fake: FakeVSphereDriver, tmp_path: Path) -> None:
    fake.add_vm("clone1")
    result, _, _ = go(tmp_path)
    assert str(result.error) == "clone1 already exists, you can use -force flag to destroy it"
    forced, sink, _ = go(tmp_path, RunOptions(record_resources=False, force=True))
    assert forced.error is None
    assert "the vm/template clone1 already exists, but deleting it due to -force flag" in says(sink)


def test_export_files_are_the_artifact(fake: FakeVSphereDriver, tmp_path: Path) -> None:
    out = tmp_path / "ovf"
    result, sink, _ = go(tmp_path, export={"output_directory": str(out), "options": ["mac", "x"]})
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    assert sorted(Path(p).name for p in artifact.files) == [
        "clone1-disk-0.vmdk",
        "clone1.mf",
        "clone1.ovf",
    ]
    manifest = (out / "clone1.mf").read_text().splitlines()
    assert manifest[0].startswith("SHA256(clone1-disk-0.vmdk)= ")
    assert manifest[1].startswith("SHA256(clone1.ovf)= ")
    assert "unknown export options x" in sink.texts()


def test_plan_names_what_the_build_makes(fake: FakeVSphereDriver, tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps({"builders": [{**BASE, "folder": "f", "convert_to_template": True}]})
    )
    prepared = prepare(load_template(str(path)), RunOptions(record_resources=False))
    (build,) = prepared.builds
    plan = dict(build.builder.plan_steps() or [])
    assert [c.ref for c in plan["StepConnectVSphere"]] == ["vsphere.session"]
    (vm,) = plan["StepCloneVM"]
    assert (vm.ref, vm.name) == ("vsphere.vm", "f/clone1") and "template" in vm.what
    assert fake.calls == []  # planning is offline
