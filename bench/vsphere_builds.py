"""A vsphere-clone and a vsphere-iso build against the simulator, pybuild against packer 1.6.6.

    python bench/vsphere_builds.py [--runs 5]

One simulator (the suite's own launcher: `bash tests/testbed/vsphere.sh` builds it) serves
every run. Each tool runs the same template through its CLI, alternating which goes first:

- clone: vsphere-clone of the simulator's DC0_H0_VM0 with communicator none, converted to
  a template;
- iso: vsphere-iso from a 256 KiB local "ISO" (checksummed, uploaded to the datastore, a
  fresh name each run so it is uploaded every time), a cd_files image, a floppy, a boot
  command of 13 keys over PutUsbScanCodes, communicator none (a thread here plays the
  installer: it waits for the keys, then shuts the guest down), converted to a template.

Printed per run and as medians: wall seconds and SOAP calls (from the simulator's log, by
each tool's User-Agent), and pybuild/packer ratios. Templates and VMs are removed after
each run. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.vsphere.conftest import (  # noqa: E402
    CLUSTER,
    DATASTORE,
    HOSTS,
    SOURCE_VM,
    Vcsim,
    start_vcsim,
    stop_vcsim,
)

BOOT_COMMAND = ["<esc><wait10ms>", "linux text<enter>"]
BOOT_KEYS = 1 + len("linux text") + 1


def pybuild() -> list[str]:
    exe = shutil.which("pybuild", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "builder"]


def clone_block(vc: Vcsim, name: str) -> dict[str, Any]:
    return {
        "type": "vsphere-clone",
        **vc.connect_settings(),
        "cluster": CLUSTER,
        "host": HOSTS[0],
        "template": SOURCE_VM,
        "vm_name": name,
        "communicator": "none",
        "convert_to_template": True,
    }


def iso_block(vc: Vcsim, name: str, work: Path) -> dict[str, Any]:
    import hashlib

    iso = work / f"install-{name}.iso"
    iso.write_bytes(b"CD001" + secrets.token_bytes(256 * 1024))
    (work / "meta-data").write_text("instance-id: bench\n")
    (work / "ks.cfg").write_text("# floppy\n")
    return {
        "type": "vsphere-iso",
        **vc.connect_settings(),
        "cluster": CLUSTER,
        "host": HOSTS[0],
        "datastore": DATASTORE,
        "vm_name": name,
        "guest_os_type": "otherLinux64Guest",
        "CPUs": 1,
        "RAM": 256,
        "storage": [{"disk_size": 1024, "disk_thin_provisioned": True}],
        "network_adapters": [{"network": "VM Network", "network_card": "vmxnet3"}],
        "iso_url": str(iso),
        "iso_checksum": "sha256:" + hashlib.sha256(iso.read_bytes()).hexdigest(),
        "cd_files": [str(work / "meta-data")],
        "cd_label": "cidata",
        "floppy_files": [str(work / "ks.cfg")],
        "boot_wait": "100ms",
        "boot_keygroup_interval": "1ms",
        "boot_command": BOOT_COMMAND,
        "boot_order": "disk,cdrom",
        "communicator": "none",
        "shutdown_timeout": "1m",
        "convert_to_template": True,
    }


def play_installer(vc: Vcsim, name: str, errors: list[str]) -> None:
    """Wait for the VM to power on and the boot command to arrive, then shut the guest down."""
    deadline = time.monotonic() + 60
    try:
        with vc.connection() as si:
            while time.monotonic() < deadline:
                vm = vc.vm(si, name)
                if vm is not None and vm.runtime.powerState == "poweredOn":
                    break
                time.sleep(0.02)
            while time.monotonic() < deadline and len(vc.usb_scan_codes(name)) < BOOT_KEYS:
                time.sleep(0.02)
            vm.ShutdownGuest()
    except Exception as exc:  # noqa: BLE001 - reported by the run
        errors.append(f"{type(exc).__name__}: {exc}")


def remove(vc: Vcsim, name: str) -> None:
    from pyVim.task import WaitForTask

    with vc.connection() as si:
        vm = vc.vm(si, name)
        if vm is not None:
            WaitForTask(vm.Destroy_Task())


def one_build(vc: Vcsim, tool: str, kind: str, command: list[str], work: Path) -> tuple[float, int]:
    name = f"bench-{kind}-{tool}-{secrets.token_hex(3)}"
    block = clone_block(vc, name) if kind == "clone" else iso_block(vc, name, work)
    template = work / f"{name}.json"
    template.write_text(json.dumps({"builders": [block]}))
    errors: list[str] = []
    guest = None
    if kind == "iso":
        guest = threading.Thread(target=play_installer, args=(vc, name, errors), daemon=True)
        guest.start()
    agent = "Go-http-client" if tool == "packer" else "pyvmomi"
    mark = vc.soap_mark()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "CHECKPOINT_DISABLE": "1",
           "PACKER_CACHE_DIR": str(work / "packer_cache"), "PYBUILD_STATE_DIR": str(work / "st"),
           "NO_COLOR": "1"}  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run([*command, "build", str(template)], cwd=work, env=env,
                          capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - started
    if guest is not None:
        guest.join(5)
    calls = len(vc.soap_calls(since=mark, agent_filter=agent))
    remove(vc, name)
    if proc.returncode != 0 or errors:
        raise SystemExit(f"{tool} {kind} build failed: {errors}\n{proc.stdout[-3000:]}")
    return wall, calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    packer = shutil.which("packer")
    if packer is None:
        raise SystemExit("packer is not installed: apt-get install packer (1.6.6)")
    tools = {"pybuild": pybuild(), "packer": [packer]}
    work = Path(tempfile.mkdtemp(prefix="bench-vsphere-"))
    vc = start_vcsim(work / "vcsim")
    try:
        for kind in ("clone", "iso"):
            results: dict[str, list[tuple[float, int]]] = {t: [] for t in tools}
            for run in range(args.runs):
                order = list(tools) if run % 2 == 0 else list(reversed(tools))
                for tool in order:
                    wall, calls = one_build(vc, tool, kind, tools[tool], work)
                    results[tool].append((wall, calls))
                    print(f"{kind} run {run + 1} {tool:8s} {wall:5.2f} s  {calls:4d} SOAP calls")
            med = {t: statistics.median(w for w, _ in r) for t, r in results.items()}
            calls = {t: statistics.median(c for _, c in r) for t, r in results.items()}
            for tool in tools:
                print(f"{kind} median {tool:8s} {med[tool]:5.2f} s  {calls[tool]:6.1f} SOAP calls")
            print(f"{kind} pybuild/packer: wall {med['pybuild'] / med['packer']:.2f}, "
                  f"SOAP calls {calls['pybuild'] / calls['packer']:.2f}")  # fmt: skip
    finally:
        stop_vcsim(vc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
