"""The `cobbler` post-processor against a real cobblerd (3.3.10) on 127.0.0.1.

The input is the `file` builder's disk chained through `artifice` to a synthetic image (a
kernel, an initrd and a raw disk of random bytes), or a qcow2 disk that is converted.
Checked through Cobbler's API and in the TFTP tree its sync wrote: the kernel there has the
input's hash, the per-MAC files boot the profile with the image's URL. Bad input and faults
leave nothing registered (the `cobbler` fixture's leak check), and no file in files_dir.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from builder.engine import BuildResult, RunOptions, load_template, prepare, run
from builder.events import Message
from builder.testing import RecordingSink
from tests.conftest import write_template
from tests.integration.cobbler.conftest import (
    URL,
    BootFiles,
    Cobbler,
    random_mac,
    sha256,
    unique,
)

BASE_URL = "http://10.0.2.2:8080/pybuild"  # where files_dir would be served; never fetched


def cobbler_pp(tmp_path: Path, distro: str, **options: Any) -> dict[str, Any]:
    pp: dict[str, Any] = {
        "type": "cobbler",
        "url": URL,
        "distro": {"name": distro, "arch": "x86_64", "breed": "generic"},
        "files_dir": str(tmp_path / "files"),
        "image_base_url": BASE_URL,
    }
    pp.update(options)
    return pp


def go(
    tmp_path: Path, files: BootFiles, pp: dict[str, Any], *, force: bool = False
) -> tuple[BuildResult, RecordingSink]:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    template = {
        "builders": [{"type": "file", "content": "built", "target": str(out / "built.txt")}],
        "post-processors": [[{"type": "artifice", "files": files.paths}, pp]],
    }
    path = write_template(tmp_path, template)
    prepared = prepare(load_template(str(path)), RunOptions(force=force))
    assert not prepared.errors, prepared.all_errors
    sink = RecordingSink()
    return run(prepared, sink)["file"], sink


def artifact_of(result: BuildResult) -> Any:
    assert result.error is None, result.error
    return result.artifacts[-1]


def messages(sink: RecordingSink) -> list[str]:
    return [e.text for e in sink.events if isinstance(e, Message)]


def test_a_profile_and_a_system_are_registered_and_synced(
    cobbler: Cobbler, boot_files: BootFiles, tmp_path: Path
) -> None:
    distro, mac = unique("metal"), random_mac()
    pp = cobbler_pp(
        tmp_path,
        distro,
        profile={"kernel_options": "console=ttyS0 quiet"},
        systems=[{"name": f"{distro}-node1", "mac": mac.upper(), "hostname": "node1"}],
    )
    started = time.monotonic()
    result, sink = go(tmp_path, boot_files, pp)
    took = time.monotonic() - started
    art = artifact_of(result)
    try:
        assert art.builder_id == "pybuild.post-processor.cobbler"
        assert art.id == distro
        # the release, from extended_version (version() answers 3.31 for 3.3.10)
        assert any(f"Registered profile {distro} in Cobbler 3.3.10 (" in m for m in messages(sink))
        assert art.state("systems") == [f"{distro}-node1"]
        # the objects, through the API
        d = cobbler.get("distro", distro)
        assert d is not None and d["comment"].startswith("pybuild run ")
        assert d["kernel"] == str(tmp_path / "files" / distro / "vmlinuz")
        assert d["arch"] == "x86_64" and d["breed"] == "generic"
        p = cobbler.get("profile", distro)
        assert p is not None and p["distro"] == distro
        image_url = f"{BASE_URL}/{distro}/{distro}.raw"
        # None comes back as "~" (Cobbler's XML-RPC hack for nil); the PXE line has `quiet`
        assert p["kernel_options"] == {"console": "ttyS0", "quiet": "~", "image_url": image_url}
        s = cobbler.get("system", f"{distro}-node1")
        assert s is not None and s["profile"] == distro and s["netboot_enabled"] is True
        assert s["interfaces"]["eth0"]["mac_address"] == mac
        # the TFTP tree Cobbler's sync wrote
        for rel in art.state("boot_files"):
            assert cobbler.tftp(rel).is_file(), rel
        assert sha256(cobbler.tftp(f"images/{distro}/vmlinuz")) == sha256(boot_files.kernel)
        assert sha256(cobbler.tftp(f"images/{distro}/initrd.img")) == sha256(boot_files.initrd)
        pxe = cobbler.tftp(f"pxelinux.cfg/01-{mac.replace(':', '-')}").read_text()
        assert f"kernel /images/{distro}/vmlinuz" in pxe
        assert f"initrd=/images/{distro}/initrd.img" in pxe and f"image_url={image_url}" in pxe
        assert " quiet " in pxe and "console=ttyS0" in pxe
        assert "localboot" not in pxe.lower()
        grub = cobbler.tftp(f"grub/system/{mac}").read_text()
        assert f"clinux /images/{distro}/vmlinuz" in grub
        default = cobbler.tftp("pxelinux.cfg/default").read_text()
        assert f"LABEL {distro}" in default
        # the disk image, as the deploy ramdisk would fetch it
        image = tmp_path / "files" / distro / f"{distro}.raw"
        assert sha256(image) == sha256(boot_files.disk)
        assert art.state("image_url") == image_url
        calls = art.state("xmlrpc_calls")
        assert 0 < calls <= 20, calls
        print(f"\nfigures: artifact to synced profile {took:.2f} s (whole build), "
              f"{art.state('seconds')} s in the post-processor, {calls} XML-RPC calls")  # fmt: skip
        assert any("XML-RPC calls" in m for m in messages(sink))
    finally:
        art.destroy()
    assert (
        cobbler.get("distro", distro) is None and cobbler.get("system", f"{distro}-node1") is None
    )
    assert not (tmp_path / "files" / distro).exists()


def test_a_rerun_replaces_its_own_objects(
    cobbler: Cobbler, boot_files: BootFiles, tmp_path: Path
) -> None:
    distro, mac = unique("again"), random_mac()
    systems = [{"name": f"{distro}-n", "mac": mac}]
    first = artifact_of(go(tmp_path, boot_files, cobbler_pp(tmp_path, distro, systems=systems))[0])
    uid = cobbler.get("distro", distro)["uid"]  # type: ignore[index]
    boot_files.kernel.write_bytes(b"MZ new kernel " * 1000)
    result, sink = go(tmp_path, boot_files, cobbler_pp(tmp_path, distro, systems=systems))
    second = artifact_of(result)
    try:
        assert cobbler.get("distro", distro)["uid"] != uid  # type: ignore[index]
        assert f"Replacing Cobbler distro {distro}" in messages(sink)
        assert sha256(cobbler.tftp(f"images/{distro}/vmlinuz")) == sha256(boot_files.kernel)
        assert cobbler.names("system") >= {f"{distro}-n"}
    finally:
        second.destroy()
    del first  # replaced: nothing of it is left to destroy


def test_a_qcow2_disk_is_converted_to_raw(
    cobbler: Cobbler, boot_files: BootFiles, tmp_path: Path
) -> None:
    if shutil.which("qemu-img") is None:
        pytest.skip("qemu-img missing (Debian's qemu-utils)")
    qcow2 = boot_files.disk.with_suffix(".qcow2")
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(boot_files.disk), str(qcow2)],
                   check=True)  # fmt: skip
    files = BootFiles(boot_files.kernel, boot_files.initrd, qcow2)
    distro = unique("qcow")
    art = artifact_of(go(tmp_path, files, cobbler_pp(tmp_path, distro))[0])
    try:
        assert sha256(tmp_path / "files" / distro / f"{distro}.raw") == sha256(boot_files.disk)
    finally:
        art.destroy()


# ---------------------------------------------------------------------- bad input and faults
def failure(tmp_path: Path, files: BootFiles, pp: dict[str, Any]) -> str:
    result, _sink = go(tmp_path, files, pp)
    assert result.error is not None, "the build succeeded"
    leftovers = list((tmp_path / "files").rglob("*")) if (tmp_path / "files").exists() else []
    assert [p for p in leftovers if p.is_file()] == [], "files left in files_dir"
    return str(result.error)


def test_a_wrong_password_is_refused(
    cobbler: Cobbler, boot_files: BootFiles, tmp_path: Path
) -> None:
    error = failure(tmp_path, boot_files, cobbler_pp(tmp_path, unique("pw"), password="wrong"))
    assert f"Cobbler at {URL} refused the login of 'cobbler'" in error
    assert "wrong" not in error


def test_cobbler_not_running(cobbler: Cobbler, boot_files: BootFiles, tmp_path: Path) -> None:
    from tests.integration.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/"
    error = failure(tmp_path, boot_files, cobbler_pp(tmp_path, unique("down"), url=url))
    assert f"cannot reach Cobbler at {url}: Connection refused" in error
    assert "is cobblerd running" in error


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("arch", "x86-64", "distro.arch: Cobbler knows no arch 'x86-64' (did you mean 'x86_64'?)"),
        (
            "breed",
            "debain",
            "distro.breed: Cobbler knows no breed 'debain' (did you mean 'debian'?)",
        ),
    ],
)
def test_an_unknown_arch_or_breed_is_named(
    cobbler: Cobbler, boot_files: BootFiles, tmp_path: Path, key: str, value: str, expected: str
) -> None:
    pp = cobbler_pp(tmp_path, unique("bad"))
    pp["distro"][key] = value
    assert expected in failure(tmp_path, boot_files, pp)


def test_a_missing_kernel_is_named(cobbler: Cobbler, boot_files: BootFiles, tmp_path: Path) -> None:
    pp = cobbler_pp(tmp_path, unique("nok"))
    pp["distro"]["kernel"] = str(tmp_path / "nowhere" / "vmlinuz")
    error = failure(tmp_path, boot_files, pp)
    assert f"distro.kernel: {tmp_path / 'nowhere' / 'vmlinuz'}: no such file" in error


def test_a_mac_of_another_system_registers_nothing(
    cobbler: Cobbler, boot_files: BootFiles, tmp_path: Path
) -> None:
    owner, mac = unique("owner"), random_mac()
    cobbler.add(
        "distro", owner, {"kernel": str(boot_files.kernel), "initrd": str(boot_files.initrd)}
    )
    cobbler.add("profile", owner, {"distro": owner})
    cobbler.add("system", owner, {"profile": owner, "interface": "eth0", "mac_address": mac})
    try:
        distro = unique("mac")
        pp = cobbler_pp(tmp_path, distro, systems=[{"name": f"{distro}-a", "mac": random_mac()},
                                                   {"name": f"{distro}-b", "mac": mac}])  # fmt: skip
        error = failure(tmp_path, boot_files, pp)
        assert f"systems[1].mac: MAC {mac} already belongs to Cobbler system '{owner}'" in error
    finally:
        cobbler.remove("distro", owner)


def test_an_object_pybuild_did_not_make_is_not_replaced_without_force(
    cobbler: Cobbler, boot_files: BootFiles, tmp_path: Path
) -> None:
    theirs = unique("theirs")
    cobbler.add(
        "distro", theirs, {"kernel": str(boot_files.kernel), "initrd": str(boot_files.initrd)}
    )
    try:
        error = failure(tmp_path, boot_files, cobbler_pp(tmp_path, theirs))
        assert f"Cobbler already has a distro '{theirs}' that pybuild did not register" in error
        assert cobbler.get("distro", theirs)["comment"] == ""  # type: ignore[index]
        art = artifact_of(go(tmp_path, boot_files, cobbler_pp(tmp_path, theirs), force=True)[0])
        assert cobbler.get("distro", theirs)["comment"].startswith("pybuild run ")  # type: ignore[index]
        art.destroy()
    finally:
        if cobbler.get("distro", theirs) is not None:
            cobbler.remove("distro", theirs)


def test_a_failure_half_way_removes_what_was_registered(
    cobbler: Cobbler, boot_files: BootFiles, tmp_path: Path
) -> None:
    """The second system's interface is refused by Cobbler after the distro, the profile and
    the first system were saved: all three are removed again."""
    distro = unique("half")
    pp = cobbler_pp(
        tmp_path,
        distro,
        systems=[
            {"name": f"{distro}-a", "mac": random_mac()},
            {"name": f"{distro}-b", "mac": random_mac(), "ip_address": "not-an-ip"},
        ],
    )
    result, sink = go(tmp_path, boot_files, pp)
    assert result.error is not None
    assert f"refused to add system {distro}-b" in str(result.error)
    assert f"Removing Cobbler system {distro}-a" in messages(sink)
    assert cobbler.get("distro", distro) is None


def test_the_qemu_test_isos_kernel_and_initramfs_as_the_deploy_ramdisk(
    cobbler: Cobbler, boot_files: BootFiles, tmp_path: Path
) -> None:
    """The ISO tests/testbed/qemu.sh builds: its kernel and initramfs fetch `url=` from the
    kernel command line, so they can serve as the deploy ramdisk of a bare-metal profile.
    Its initramfs is initrd.gz: named explicitly, copied as initrd.img (Cobbler's name)."""
    from tests.integration.cobbler.conftest import TESTBED_CACHE

    isos = sorted(TESTBED_CACHE.glob("qemu/iso-*/pybuild-test.iso"))
    if not isos:
        pytest.skip("no qemu test ISO: run `bash tests/testbed/qemu.sh`")
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(str(isos[-1]))
    try:
        kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd.gz"
        iso.get_file_from_iso(str(kernel), iso_path="/boot/vmlinuz.;1")
        iso.get_file_from_iso(str(initrd), iso_path="/boot/initrd.gz;1")
    finally:
        iso.close()
    distro, mac = unique("deploy"), random_mac()
    pp = cobbler_pp(tmp_path, distro, systems=[{"name": f"{distro}-n", "mac": mac}],
                    profile={"kernel_options": "console=ttyS0,115200"})  # fmt: skip
    pp["distro"].update(kernel=str(kernel), initrd=str(initrd))
    art = artifact_of(go(tmp_path, BootFiles(kernel, initrd, boot_files.disk), pp)[0])
    try:
        assert sha256(cobbler.tftp(f"images/{distro}/vmlinuz")) == sha256(kernel)
        assert sha256(cobbler.tftp(f"images/{distro}/initrd.img")) == sha256(initrd)
        pxe = cobbler.tftp(f"pxelinux.cfg/01-{mac.replace(':', '-')}").read_text()
        assert f"image_url={BASE_URL}/{distro}/{distro}.raw" in pxe
    finally:
        art.destroy()
