"""content_library_destination: 1.6.6's defaulting and checks, the step over the fake
drivers (LOCAL only, OVF update, failure deletes the item, destroy), plan and cleanup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builder.errors import DriverError
from builder.ledger import LeftResource
from builder.vsphere.clone.config import CloneConfig
from builder.vsphere.common.config import ContentLibraryDestinationConfig, LocationConfig
from builder.vsphere.common.driver import LibraryItem
from builder.vsphere.common.resources import VSphereRemover
from builder.vsphere.common.steps import StepImportToContentLibrary
from tests.unit.vsphere.fake_driver import FakeVSphereDriver, vm_named
from tests.unit.vsphere.test_vsphere_clone_builder import BASE, go, says


def config(**library: Any) -> CloneConfig:
    raw = {
        **BASE,
        "host": "DC0_C0_H0",
        "resource_pool": "rp",
        "content_library_destination": library,
    }
    raw.pop("type")
    return CloneConfig.model_validate(raw)


def errors(cfg: CloneConfig) -> dict[str, str]:
    return {str(e.location.path): e.message for e in cfg.check() if "content_library" in str(e)}


def test_vm_template_defaults_come_from_the_build() -> None:
    lib = config(library="lib").content_library_destination
    assert lib is not None
    assert lib.name.startswith("clone1") and lib.name[6:].isdigit()
    assert (lib.cluster, lib.host, lib.resource_pool) == ("DC0_C0", "DC0_C0_H0", "rp")
    assert lib.description == "Packer imported clone1 VM template"
    assert (lib.ovf, lib.destroy, lib.folder, lib.datastore) == (False, False, "", "")


def test_ovf_name_defaults_to_vm_name_and_nothing_else() -> None:
    lib = config(library="lib", ovf=True).content_library_destination
    assert lib is not None and lib.name == "clone1"
    assert (lib.cluster, lib.host, lib.resource_pool, lib.description) == ("", "", "", "")


def test_timestamp_default_is_unix_seconds() -> None:
    lib = ContentLibraryDestinationConfig(library="l")
    lib.resolve(LocationConfig(vm_name="vm", cluster="c"), now=1600000000.7)
    assert lib.name == "vm1600000000"


def test_errors_are_located_in_the_block() -> None:
    assert errors(config()) == {
        "content_library_destination.library": "a library name must be provided"
    }
    assert errors(config(library="lib", name="clone1")) == {
        "content_library_destination.name":
            "the content library destination name must be different from the VM name"
    }  # fmt: skip
    assert errors(config(library="lib", name="clone1", ovf=True)) == {}


def test_unknown_option_in_the_block_is_refused() -> None:
    with pytest.raises(Exception, match="librari"):
        config(library="lib", librari="x")


def test_step_plan_declares_the_item() -> None:
    (made,) = StepImportToContentLibrary().plan(config(library="lib", ovf=True), "b")
    assert (made.ref, made.name) == ("vsphere.library_item", "lib/clone1")


def test_vm_template_import_after_template_and_kept(
    fake: FakeVSphereDriver, tmp_path: Path
) -> None:
    lib = {"library": "lib", "name": "tmpl", "folder": "f", "datastore": "LocalDS_0"}
    result, sink, records = go(tmp_path, convert_to_template=True, content_library_destination=lib)
    assert result.error is None, result.error
    texts = says(sink)
    assert texts[-2:] == [
        "Convert VM into template...",
        "Importing VM template tmpl to Content Library...",
    ]
    (item,) = fake.items.values()
    assert (item.name, item.type, item.library_id) == ("tmpl", "vm-template", "lib-1")
    (spec,) = fake.template_specs
    assert spec.description == "Packer imported clone1 VM template"
    assert (spec.placement.folder, spec.placement.cluster, spec.placement.datastore) == (
        "f", "DC0_C0", "LocalDS_0")  # fmt: skip
    assert fake.rest_sessions == 0 and fake.library_calls[-1] == "end_library_session"
    states = [(rec, r.kind) for rec, r in records if r.kind == "library_item"]
    assert states == [
        ("create", "library_item"),
        ("created", "library_item"),
        ("kept", "library_item"),
    ]
    vm = vm_named(fake, "clone1")
    assert vm is not None and vm.template  # no destroy: the VM stays the artifact
    (artifact,) = result.artifacts
    assert artifact.id == "clone1" and artifact.state("library_item_id") == item.id


def test_ovf_updates_an_existing_item_and_never_deletes_it(
    fake: FakeVSphereDriver, tmp_path: Path
) -> None:
    fake.items["old"] = existing = LibraryItem("old", "clone1", "lib-1", "ovf")
    fake.fail["export_ovf"] = DriverError("lease broke")
    result, sink, records = go(tmp_path, content_library_destination={"library": "lib", "ovf": True},
                               export={"output_directory": str(tmp_path / "out")})  # fmt: skip
    assert result.error is not None
    assert "Importing VM OVF template clone1 to Content Library..." in says(sink)
    assert fake.items == {"old": existing} and fake.item_sources["old"].startswith("vm-")
    assert not [r for _, r in records if r.kind == "library_item"]


def test_failure_after_the_import_deletes_the_new_item(
    fake: FakeVSphereDriver, tmp_path: Path
) -> None:
    fake.fail["export_ovf"] = DriverError("lease broke")
    result, sink, records = go(tmp_path, content_library_destination={"library": "lib", "ovf": True},
                               export={"output_directory": str(tmp_path / "out")})  # fmt: skip
    assert result.error is not None
    assert fake.items == {} and "delete_library_item" in fake.library_calls
    assert [rec for rec, r in records if r.kind == "library_item"] == [
        "create",
        "created",
        "released",
    ]
    assert vm_named(fake, "clone1") is None and fake.rest_sessions == 0


def test_a_failed_create_is_reported_with_1_6_6_text(
    fake: FakeVSphereDriver, tmp_path: Path
) -> None:
    fake.library_fail["create_template_item"] = DriverError("POST /rest/...: 400 Bad Request")
    result, _, records = go(tmp_path, content_library_destination={"library": "lib", "name": "t"})
    assert "Failed to import template t: POST /rest/...: 400 Bad Request" in str(result.error)
    assert [rec for rec, r in records if r.kind == "library_item"] == ["create", "released"]
    assert vm_named(fake, "clone1") is None


@pytest.mark.parametrize(
    ("library", "text"),
    [
        ("subscribed", "can not deploy a VM to the content library subscribed of type SUBSCRIBED; "
                       "the content library must be of type LOCAL"),
        ("nope", "library name (nope) not found"),
    ],
)  # fmt: skip
def test_library_must_exist_and_be_local(
    fake: FakeVSphereDriver, tmp_path: Path, library: str, text: str
) -> None:
    result, _, records = go(tmp_path, content_library_destination={"library": library, "name": "t"})
    assert str(result.error).endswith(f"Failed to import template t: {text}"), result.error
    assert not [r for _, r in records if r.kind == "library_item"] and fake.items == {}


def test_destroy_removes_the_vm_and_the_artifact_is_the_item(
    fake: FakeVSphereDriver, tmp_path: Path
) -> None:
    lib = {"library": "lib", "name": "t", "destroy": True}
    result, sink, _ = go(tmp_path, content_library_destination=lib)
    assert result.error is None, result.error
    assert vm_named(fake, "clone1") is None and "Destroying VM..." in says(sink)
    (artifact,) = result.artifacts
    (item,) = fake.items.values()
    assert (artifact.id, artifact.string()) == ("t", "lib/t")
    assert artifact.state("library_item_id") == item.id and artifact.state("vm_id") is None
    artifact.destroy()
    assert fake.items == {}


def test_cleanup_handler_deletes_items(fake: FakeVSphereDriver) -> None:
    fake.items["i1"] = LibraryItem("i1", "t", "lib-1", "vm-template")
    fake.items["i2"] = LibraryItem("i2", "o", "lib-1", "ovf")
    remover = VSphereRemover(fake)
    made = LeftResource("r", "b#1", "b", "vsphere", "library_item", name="t", id="i1",
                        attrs={"library_id": "lib-1"}, state="created")  # fmt: skip
    unconfirmed = LeftResource("r", "b#2", "b", "vsphere", "library_item", name="o",
                               attrs={"library_id": "lib-1"})  # fmt: skip
    assert remover.remove(made) and remover.remove(unconfirmed)
    assert not remover.remove(made) and fake.items == {} and fake.rest_sessions == 0
