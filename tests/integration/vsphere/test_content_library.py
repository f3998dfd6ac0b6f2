"""content_library_destination against the simulator's vAPI REST API (clone: VM template and
OVF; iso: OVF): the item exists with the right type and name, the inventory afterwards (with
destroy the VM is gone), an OVF item of that name is updated, and a failed build leaves
nothing (the leak check covers VMs, templates, library items and REST sessions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builder.events import Say
from tests.integration.vsphere.conftest import LeakCheck, Library
from tests.integration.vsphere.test_clone import clone_block, go, says
from tests.integration.vsphere.test_iso_build import (
    Guest,
    ISOBench,
    build,
    remove_cached_iso,
    vm_name,
)


def items(vsphere: LeakCheck, name: str) -> list[dict[str, Any]]:
    return [i for i in vsphere.library_items() if i["name"] == name]


def delete_item(vsphere: LeakCheck, item_id: str) -> None:
    vsphere.rest("DELETE", f"/com/vmware/content/library/item/id:{item_id}")


def sub(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir()
    return tmp_path / name


def names(vsphere: LeakCheck) -> dict[str, set[str]]:
    inventory = vsphere.inventory()
    return {k: {e.split(" ")[0] for e in inventory[k]} for k in ("vm", "template")}


def test_clone_imported_as_a_vm_template(
    vsphere: LeakCheck, content_library: Library, tmp_path: Path
) -> None:
    lib = {"library": content_library.name, "name": "pybuild-cl-vmtx-item"}
    block = clone_block(vsphere, "pybuild-cl-vmtx", communicator="none",
                        content_library_destination=lib)  # fmt: skip
    result, sink = go(tmp_path, block)
    assert result.error is None, result.error
    assert "Importing VM template pybuild-cl-vmtx-item to Content Library..." in says(sink)
    (item,) = items(vsphere, "pybuild-cl-vmtx-item")
    assert (item["type"], item["library_id"]) == ("vm-template", content_library.id)
    now = names(vsphere)
    assert "pybuild-cl-vmtx" in now["vm"]  # the build's VM is kept (no destroy)
    assert "pybuild-cl-vmtx-item" in now["template"]  # the item's template VM
    (artifact,) = result.artifacts
    assert artifact.id == "pybuild-cl-vmtx" and artifact.state("library_item_id") == item["id"]
    artifact.destroy()
    delete_item(vsphere, item["id"])  # takes its template VM with it
    assert "pybuild-cl-vmtx-item" not in names(vsphere)["template"]


def test_clone_as_ovf_with_destroy_then_the_same_name_is_updated(
    vsphere: LeakCheck, content_library: Library, tmp_path: Path
) -> None:
    name = "pybuild-cl-ovf"
    lib = {"library": content_library.name, "ovf": True, "destroy": True}
    block = clone_block(vsphere, name, communicator="none", content_library_destination=lib)
    result, sink = go(sub(tmp_path, "one"), block)
    assert result.error is None, result.error
    assert "Importing VM OVF template pybuild-cl-ovf to Content Library..." in says(sink)
    assert "Destroying VM..." in says(sink)
    (item,) = items(vsphere, name)
    assert item["type"] == "ovf"
    assert name not in names(vsphere)["vm"]  # destroy: the VM is gone
    (artifact,) = result.artifacts
    assert (artifact.id, artifact.string()) == (name, f"{content_library.name}/{name}")
    again, _ = go(sub(tmp_path, "two"), block)
    assert again.error is None, again.error
    assert [i["id"] for i in items(vsphere, name)] == [item["id"]]  # updated, not a second
    artifact.destroy()  # the artifact is the item: deleted
    assert items(vsphere, name) == []


def test_a_failed_build_deletes_the_new_item_and_the_vm(
    vsphere: LeakCheck, content_library: Library, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    lib = {"library": content_library.name, "name": "pybuild-cl-fail-item"}
    block = clone_block(vsphere, "pybuild-cl-fail", communicator="none",
                        content_library_destination=lib,
                        export={"output_directory": str(blocker)})  # fmt: skip
    result, sink = go(tmp_path, block)
    assert result.error is not None
    assert "Deleting library item pybuild-cl-fail-item..." in says(sink)
    assert items(vsphere, "pybuild-cl-fail-item") == []
    # the leak check: no VM, no template VM of the item, no item, no REST session


def test_a_subscribed_or_unknown_library_is_refused(
    vsphere: LeakCheck, content_library: Library, tmp_path: Path
) -> None:
    for library, text in (
        (
            content_library.subscribed,
            "of type SUBSCRIBED; the content library must be of type LOCAL",
        ),
        ("pybuild-nolib", "library name (pybuild-nolib) not found; the libraries that exist: "),
    ):
        block = clone_block(vsphere, "pybuild-cl-refused", communicator="none",
                            content_library_destination={"library": library, "ovf": True})  # fmt: skip
        result, _ = go(sub(tmp_path, library), block)
        assert text in str(result.error), result.error


@pytest.fixture
def bench(tmp_path: Path, vsphere: LeakCheck, monkeypatch: pytest.MonkeyPatch) -> ISOBench:
    """test_iso_build's working directory for an ISO build."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PACKER_CACHE_DIR", str(tmp_path / "packer_cache"))
    monkeypatch.setenv("PYBUILD_STATE_DIR", str(tmp_path / "state"))
    return ISOBench(tmp_path, vsphere)


def test_iso_build_imported_as_ovf_with_destroy(
    bench: ISOBench, vsphere: LeakCheck, content_library: Library
) -> None:
    name = vm_name("cl")
    lib = {"library": content_library.name, "ovf": True, "destroy": True}
    over = {"boot_order": "", "boot_command": [], "cd_files": [], "floppy_files": [],
            "content_library_destination": lib}  # fmt: skip
    guest = Guest(vsphere.server, name, keys=0)
    guest.start()
    result, sink = build(bench.template(bench.block(name, **over)))
    guest.join(30)
    assert result.error is None, result.error
    texts = sink.texts(Say, "vsphere-iso")
    at = texts.index(f"Importing VM OVF template {name} to Content Library...")
    assert texts[at - 1] == "Convert VM into template..." and "Destroying VM..." in texts[at:]
    (item,) = items(vsphere, name)
    assert item["type"] == "ovf" and item["library_id"] == content_library.id
    assert name not in names(vsphere)["template"]  # destroy: the template VM is gone
    with vsphere.connection() as si:
        remove_cached_iso(vsphere, si, bench.iso_remote)
    (artifact,) = result.artifacts
    artifact.destroy()
    assert items(vsphere, name) == []
