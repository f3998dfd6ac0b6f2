"""The `cobbler` post-processor's `import_path` against the real cobblerd (3.3.10): Cobbler's
own import (background_import, polled as a task) of a small installer tree made here.

The tree is what Cobbler's signatures (distro_signatures.json, breed ubuntu, focal) match: a
`dists/` directory (the signature), dists/focal/Release with `Codename: focal` (the version
file), and a netboot kernel `linux` and `initrd.gz` (kernel_file/initrd_file) under
install/netboot/ubuntu-installer/amd64/. cobblerd shares /tmp with the tests (its mount
namespace overlays only /etc, /var and /srv), so it reads the tree where the test made it.
Checked through the API: the distro and profile the import made are ours (comment), with the
tree's kernel; destroy() removes them (the `cobbler` fixture's leak check).
"""

from __future__ import annotations

import secrets
import signal
from pathlib import Path

from tests.conftest import run_cli, write_template
from tests.integration.cobbler.conftest import BootFiles, Cobbler, sha256, unique
from tests.integration.cobbler.test_cobbler import URL, artifact_of, go

NETBOOT = "install/netboot/ubuntu-installer/amd64"


def installer_tree(root: Path) -> BootFiles:
    (root / "dists" / "focal").mkdir(parents=True)
    (root / "dists" / "focal" / "Release").write_text(
        "Origin: Ubuntu\nLabel: Ubuntu\nSuite: focal\nVersion: 20.04\nCodename: focal\n"
        "Architectures: amd64\nComponents: main\n"
    )
    (root / ".disk").mkdir()
    (root / ".disk" / "info").write_text('Ubuntu-Server 20.04 LTS "Focal Fossa" - amd64\n')
    boot = root / NETBOOT
    boot.mkdir(parents=True)
    kernel, initrd = boot / "linux", boot / "initrd.gz"
    kernel.write_bytes(b"MZ" + secrets.token_bytes(64 * 1024))
    initrd.write_bytes(secrets.token_bytes(32 * 1024))
    return BootFiles(kernel, initrd, kernel)


def test_an_installer_tree_imported_by_cobbler_becomes_ours_and_is_removed(
    cobbler: Cobbler, tmp_path: Path
) -> None:
    tree = installer_tree(tmp_path / "tree")
    distro = unique("focal")
    pp = {
        "type": "cobbler",
        "url": URL,
        "import_path": str(tmp_path / "tree"),
        "distro": {"name": distro, "arch": "x86_64"},
    }
    result, _ = go(tmp_path, BootFiles(tree.kernel, tree.initrd, tree.kernel), pp)
    art = artifact_of(result)
    try:
        made = sorted(n for n in cobbler.names("distro") if n.startswith(distro))
        assert made == [f"{distro}-x86_64"], made
        d = cobbler.get("distro", made[0])
        assert d is not None
        assert d["breed"] == "ubuntu" and d["os_version"] == "focal" and d["arch"] == "x86_64"
        assert d["comment"].startswith("pybuild run ")
        # the import copied the tree into its distro_mirror (/var/www inside cobblerd's
        # namespace: the overlay's upper directory here)
        mirror = f"/var/www/cobbler/distro_mirror/{made[0]}/{NETBOOT}/linux"
        assert d["kernel"] == mirror
        assert sha256(cobbler.state / "ov" / "var" / "u" / mirror[len("/var/") :]) == sha256(
            tree.kernel
        )
        profiles = sorted(n for n in cobbler.names("profile") if n.startswith(distro))
        assert profiles, cobbler.names("profile")
        for name in profiles:
            p = cobbler.get("profile", name)
            assert p is not None and p["distro"] == made[0]
            assert p["comment"].startswith("pybuild run ")
    finally:
        art.destroy()
    assert not [n for n in cobbler.names("distro") if n.startswith(distro)]
    assert not [n for n in cobbler.names("profile") if n.startswith(distro)]
    assert not [n for n in cobbler.names("repo") if n.startswith(distro)]  # none made


def test_an_import_killed_after_it_was_recorded_is_removed_by_cleanup(
    cobbler: Cobbler, tmp_path: Path
) -> None:
    """SIGKILL after the post-processor's own profile was saved (the import's distro, profile
    and repo are in the ledger by then): `pybuild cleanup` removes them all."""
    tree = installer_tree(tmp_path / "tree")
    distro = unique("focalk")
    pp = {
        "type": "cobbler",
        "url": URL,
        "import_path": str(tmp_path / "tree"),
        "distro": {"name": distro, "arch": "x86_64"},
        "profile": {"name": f"{distro}-deploy"},
    }
    (tmp_path / "out").mkdir()
    template = write_template(
        tmp_path,
        {
            "builders": [{"type": "file", "content": "x", "target": str(tmp_path / "out" / "x")}],
            "post-processors": [[{"type": "artifice", "files": [str(tree.kernel)]}, pp]],
        },
    )
    env = {"PYBUILD_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1"}
    proc = run_cli(
        "build",
        str(template),
        cwd=tmp_path,
        env={**env, "PYBUILD_FAULT": "kill@created:cobbler.profile"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    assert cobbler.get("distro", f"{distro}-x86_64") is not None
    cleaned = run_cli("cleanup", f"-state-dir={tmp_path / 'state'}", cwd=tmp_path, env=env)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    for kind in ("profile", "distro", "repo"):
        assert not [n for n in cobbler.names(kind) if n.startswith(distro)], kind
    assert not list((tmp_path / "state").glob("*.jsonl")), "the ledger is still there"
