"""vsphere-clone for real: pyVmomi over TLS to the simulator, SSH provisioning to a loopback sshd.

The simulator's clones have no OS: a customization spec with `ipv4_address 127.0.0.1`
makes it report that address as the guest IP once the clone is powered on, and `ssh_port`
sends the communicator to an sshd test host on loopback, so the provisioners run there.
After each test the `vsphere` fixture checks that no VM, template, datastore file or
session the test made is left; the inventory is read back with pyVmomi.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest

from builder.engine import BuildResult, RunOptions, load_template, prepare, run
from builder.events import Event
from builder.multistep import CancelToken
from builder.testing import RecordingSink
from tests.conftest import write_template
from tests.integration.vsphere.conftest import CLUSTER, DATASTORE, HOSTS, SOURCE_VM
from tests.integration.vsphere.test_iso_build import image_backings, remove_cached_iso

FLOPPY_IMAGE = "packer-tmp-created-floppy.flp"


def clone_block(vsphere: Any, name: str, **options: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "vsphere-clone",
        **vsphere.connect_settings(),
        "cluster": CLUSTER,
        "host": HOSTS[0],
        "template": SOURCE_VM,
        "vm_name": name,
    }
    block.update(options)
    return block


def over_ssh(vsphere: Any, host: Any, name: str, ip: str = "127.0.0.1", **options: Any) -> dict:
    """A clone whose guest IP is `ip`, connecting to the sshd test host's port."""
    return clone_block(
        vsphere,
        name,
        customize={
            "linux_options": {"host_name": name, "domain": "test.local"},
            "network_interface": [{"ipv4_address": ip, "ipv4_netmask": 8}],
        },
        ssh_port=host.port,
        ssh_username=host.user,
        ssh_password=host.password,
        ip_settle_timeout="1s",
        **options,
    )


class TriggerSink(RecordingSink):
    """Records events; when a say starts with `trigger`, runs `action` (in the build's thread
    with delay 0, else after `delay` seconds from a timer thread)."""

    def __init__(self, trigger: str, action: Any, delay: float = 0.0):
        super().__init__()
        self.trigger, self.action, self.delay, self.fired = trigger, action, delay, False

    def emit(self, event: Event) -> None:
        super().emit(event)
        if not self.fired and str(getattr(event, "text", "")).startswith(self.trigger):
            self.fired = True
            if self.delay:
                threading.Timer(self.delay, self.action).start()
            else:
                self.action()


def go(
    tmp_path: Path,
    builder: dict[str, Any],
    provisioners: list[dict[str, Any]] | None = None,
    sink: RecordingSink | None = None,
    cancel: CancelToken | None = None,
    force: bool = False,
) -> tuple[BuildResult, RecordingSink]:
    template: dict[str, Any] = {"builders": [builder]}
    if provisioners:
        template["provisioners"] = provisioners
    path = write_template(tmp_path, template)
    sink = sink if sink is not None else RecordingSink()
    options = RunOptions(cancel=cancel or CancelToken(), force=force,
                         state_dir=str(tmp_path / "state"))  # fmt: skip
    prepared = prepare(load_template(str(path)), options)
    assert not prepared.errors, prepared.errors
    return run(prepared, sink)["vsphere-clone"], sink


def says(sink: RecordingSink) -> list[str]:
    return [t for t in sink.texts() if t]


def in_order(texts: list[str], *expected: str) -> bool:
    at = [texts.index(e) for e in expected]
    return at == sorted(at)


def test_clone_provisioned_over_ssh_becomes_a_template(
    vsphere: Any, sshd_host: Any, tmp_path: Path
) -> None:
    host = sshd_host()
    name = "pybuild-clone-ssh"
    builder = over_ssh(
        vsphere,
        host,
        name,
        CPUs=2,
        cpu_cores=1,
        RAM=64,
        notes="built by pybuild",
        configuration_parameters={"pybuild.marker": "yes"},
        create_snapshot=True,
        convert_to_template=True,
    )
    shell = {
        "type": "shell",
        "inline": ["echo 'from {{ build `ID` }}' > /tmp/vsphere-marker", "echo as $(id -un)"],
    }
    result, sink = go(tmp_path, builder, [shell])
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    assert artifact.builder_id == "jetbrains.vsphere"
    assert artifact.id == name and artifact.string() == f"/DC0/vm/{name}"
    texts = says(sink)
    assert in_order(
        texts,
        "Cloning VM...",
        "Customizing hardware...",
        "Mounting ISO images...",
        "Adding configuration parameters...",
        "Customizing VM...",
        "Power on VM...",
        "Waiting for IP...",
        "IP address: 127.0.0.1",
        "Using ssh communicator to connect: 127.0.0.1",
        f"as {host.user}",
        "Shutting down VM...",
        "Eject CD-ROM drives...",
        "Creating snapshot...",
        "Convert VM into template...",
    ), texts
    code, marker = host.exec("cat /tmp/vsphere-marker")
    vm_id = artifact.state("vm_id")
    assert code == 0 and marker.strip() == f"from {vm_id}", marker
    with vsphere.connection() as si:
        vm = vsphere.vm(si, name)
        assert vm is not None and vm.config.template
        hw = vm.config.hardware
        assert (hw.numCPU, hw.numCoresPerSocket, hw.memoryMB) == (2, 1, 64)
        assert vm.config.annotation == "built by pybuild"
        extra = {o.key: o.value for o in vm.config.extraConfig}
        assert extra["pybuild.marker"] == "yes"
        assert [s.name for s in vm.snapshot.rootSnapshotList] == ["Created by Packer"]
        assert vm.runtime.powerState == "poweredOff"
        assert [v.value for v in vm.customValue][-1:] in ([], [""])  # run id cleared
    artifact.destroy()
    with vsphere.connection() as si:
        assert vsphere.vm(si, name) is None


def test_cd_files_and_floppy_files_are_attached_during_the_build_and_gone_after(
    vsphere: Any, sshd_host: Any, tmp_path: Path
) -> None:
    """1.6.6's clone media: the cd_files image uploaded to packer_cache/ and mounted before
    power-on, the floppy image uploaded next to the VM and attached; after the shutdown the
    floppy drive and image are removed and the CD-ROM ejected."""
    host = sshd_host()
    name = "pybuild-clone-media"
    (tmp_path / "cidata").mkdir()
    (tmp_path / "cidata" / "user-data").write_text("#cloud-config\n")
    (tmp_path / "ks.cfg").write_text("# kickstart\n")
    builder = over_ssh(
        vsphere,
        host,
        name,
        datastore=DATASTORE,
        cd_files=[str(tmp_path / "cidata" / "user-data")],
        cd_label="cidata",
        floppy_files=[str(tmp_path / "ks.cfg")],
        floppy_label="OEMDRV",
    )
    seen: dict[str, Any] = {}

    def look() -> None:  # while the provisioner runs: the VM is on, the images attached
        with vsphere.connection() as si:
            seen["devices"] = image_backings(vsphere.vm(si, name))
        seen["floppy"] = vsphere.download(f"{name}/{FLOPPY_IMAGE}")

    sink = TriggerSink("Provisioning with shell script", look)
    result, _ = go(tmp_path, builder, [{"type": "shell", "inline": ["true"]}], sink=sink)
    assert result.error is None, result.error
    texts = says(sink)
    (cd,) = [t.split(" to ", 1)[1] for t in texts if t.startswith("Uploading packer")]
    assert cd.startswith("packer_cache/packer") and cd.endswith(".iso"), cd
    assert in_order(texts, "Creating CD disk...", f"Uploading {cd.split('/')[1]} to {cd}",
                    "Cloning VM...", "Mounting ISO images...", "Customizing VM...",
                    "Creating floppy disk...", "Uploading created floppy image",
                    "Adding generated Floppy...", "Power on VM...", "Shutting down VM...",
                    "Deleting Floppy drives...", "Deleting Floppy image...",
                    "Eject CD-ROM drives..."), texts  # fmt: skip
    assert ("cdrom", f"[{DATASTORE}] {cd}") in seen["devices"], seen["devices"]
    floppy = ("floppy", f"[{DATASTORE}] {name}/{FLOPPY_IMAGE}")
    assert floppy in seen["devices"], seen["devices"]
    assert seen["floppy"] is not None and len(seen["floppy"]) == 1474560
    assert b"OEMDRV" in seen["floppy"][:64]
    iso = vsphere.download(cd)
    assert iso is not None and iso[0x8001:0x8006] == b"CD001" and b"CIDATA" in iso.upper()
    with vsphere.connection() as si:
        after = image_backings(vsphere.vm(si, name))
        assert not [d for d in after if d[0] == "floppy"], after
        assert all(file == "" for kind, file in after if kind == "cdrom"), after
        assert vsphere.download(f"{name}/{FLOPPY_IMAGE}") is None
        # 1.6.6 leaves the cd_files image in packer_cache/ (a new name each build)
        remove_cached_iso(vsphere, si, cd)
    result.artifacts[0].destroy()
    # nothing else is left: the `vsphere` fixture's leak check (VMs, files, sessions)


def test_ssh_host_wins_over_the_guest_ip(vsphere: Any, sshd_host: Any, tmp_path: Path) -> None:
    host = sshd_host()
    builder = over_ssh(vsphere, host, "pybuild-clone-sshhost", ip="127.0.0.9",
                       ssh_host="127.0.0.1")  # fmt: skip
    result, sink = go(tmp_path, builder, [{"type": "shell", "inline": ["true"]}])
    assert result.error is None, result.error
    texts = says(sink)
    assert "IP address: 127.0.0.9" in texts
    assert "Using ssh communicator to connect: 127.0.0.1" in texts
    result.artifacts[0].destroy()


def test_communicator_none_clones_without_powering_on(vsphere: Any, tmp_path: Path) -> None:
    mark = vsphere.soap_mark()
    result, sink = go(tmp_path, clone_block(vsphere, "pybuild-clone-none", communicator="none"))
    assert result.error is None, result.error
    assert says(sink)[:4] == [
        "Cloning VM...",
        "Mounting ISO images...",
        "Adding configuration parameters...",
        "Eject CD-ROM drives...",
    ]
    methods = [c.method for c in vsphere.soap_calls(mark, agent_filter="pyvmomi")]
    assert "PowerOnVM_Task" not in methods and methods[1] == "Login", methods
    assert methods[-1] == "Logout", methods
    result.artifacts[0].destroy()


def test_force_replaces_an_existing_vm(vsphere: Any, tmp_path: Path) -> None:
    builder = clone_block(vsphere, "pybuild-clone-force", communicator="none")
    first, _ = go(tmp_path, builder)
    assert first.error is None
    again, _ = go(tmp_path, builder)
    assert "pybuild-clone-force already exists, you can use -force flag" in str(again.error)
    forced, sink = go(tmp_path, builder, force=True)
    assert forced.error is None, forced.error
    assert (
        "the vm/template pybuild-clone-force already exists, but deleting it due to -force flag"
        in says(sink)
    )
    forced.artifacts[0].destroy()


@pytest.mark.parametrize(
    ("option", "value", "wanted"),
    [
        ("datacenter", "DC9", "datacenter 'DC9' not found; the datacenters that exist: DC0 "
         "(did you mean 'DC0'?)"),
        ("cluster", "DC0_C9", "cluster 'DC0_C9' not found; the clusters that exist: DC0_C0 "
         "(did you mean 'DC0_C0'?)"),
        ("datastore", "LocalDS_9", f"datastore 'LocalDS_9' not found; the datastores that "
         f"exist: {DATASTORE} (did you mean '{DATASTORE}'?)"),
        ("network", "VM Netwrok", "network 'VM Netwrok' not found"),
        ("template", "DC0_C0_RP0_VM7", "Error finding vm to clone: template 'DC0_C0_RP0_VM7' "
         "not found; the templates that exist: DC0_C0_RP0_VM0, DC0_C0_RP0_VM1"),
    ],
)  # fmt: skip
def test_unknown_names_list_what_exists(
    vsphere: Any, tmp_path: Path, option: str, value: str, wanted: str
) -> None:
    builder = clone_block(vsphere, f"pybuild-clone-bad-{option}", communicator="none")
    builder[option] = value
    result, _ = go(tmp_path, builder)
    assert result.error is not None
    assert wanted in str(result.error), str(result.error)
    if option == "network":
        assert "(did you mean 'VM Network'?)" in str(result.error)


def test_wrong_password_is_refused(vsphere: Any, tmp_path: Path) -> None:
    builder = clone_block(vsphere, "pybuild-clone-pw", communicator="none", password="nope")
    result, sink = go(tmp_path, builder)
    text = str(result.error)
    assert f"cannot log in to vcenter_server {vsphere.vcenter_server} as " in text, text
    assert "incorrect user name or password" in text
    assert "nope" not in text and all("nope" not in t for t in sink.texts())


def test_no_ip_within_ip_wait_timeout(vsphere: Any, tmp_path: Path) -> None:
    builder = clone_block(
        vsphere,
        "pybuild-clone-noip",
        ssh_username="u",
        ssh_password="unused-pw",
        ip_wait_timeout="2s",
    )
    result, sink = go(tmp_path, builder)
    assert "Timeout waiting for IP." in str(result.error), result.error
    texts = says(sink)
    assert in_order(texts, "Waiting for IP...", "Power off VM...", "Destroying VM...")


def test_ctrl_c_during_provisioning(vsphere: Any, sshd_host: Any, tmp_path: Path) -> None:
    host = sshd_host()
    cancel = CancelToken()
    sink = TriggerSink("Provisioning with shell script", cancel.cancel, delay=1.0)
    shell = {"type": "shell", "inline": ["sleep 60"]}
    result, _ = go(tmp_path, over_ssh(vsphere, host, "pybuild-clone-cancel"), [shell],
                   sink=sink, cancel=cancel)  # fmt: skip
    assert result.error is not None and result.cancelled, result.error
    texts = says(sink)
    assert in_order(texts, "Power off VM...", "Destroying VM..."), texts


def test_session_dropped_mid_build(vsphere: Any, sshd_host: Any, tmp_path: Path) -> None:
    """Every session ends (as a vCenter restart would) while the build waits for the IP:
    the build fails saying so; cleanup logs in again and destroys the VM."""
    host = sshd_host()
    sink = TriggerSink("Waiting for IP...", vsphere.drop_sessions)
    result, _ = go(tmp_path, over_ssh(vsphere, host, "pybuild-clone-drop"), sink=sink)
    text = str(result.error)
    assert "the vCenter session on" in text and "is no longer valid" in text, text
    texts = says(sink)
    assert "The vCenter session was lost; logged in again" in texts
    assert "Destroying VM..." in texts


def test_export_writes_ovf_and_manifest(vsphere: Any, tmp_path: Path) -> None:
    out = tmp_path / "export"
    builder = clone_block(
        vsphere,
        "pybuild-clone-export",
        communicator="none",
        export={"output_directory": str(out), "manifest": "sha256"},
    )
    result, sink = go(tmp_path, builder)
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    ovf = out / "pybuild-clone-export.ovf"
    mf = out / "pybuild-clone-export.mf"
    assert ovf.is_file() and "<Envelope" in ovf.read_text()
    assert in_order(says(sink), "Starting export...", "Writing ovf...", "Creating manifest...",
                    "Finished exporting...")  # fmt: skip
    lines = mf.read_text().splitlines()
    files = [p for p in artifact.files if not p.endswith(".mf")]
    assert len(lines) == len(files) and any(p.endswith(".vmdk") for p in files), lines
    for path in files:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        assert f"SHA256({Path(path).name})= {digest}" in lines
    artifact.destroy()
    assert not ovf.exists()
