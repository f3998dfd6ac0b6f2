"""vsphere-iso's StepImportToContentLibrary: after the template step, before export; the
step over FakeISODriver, its cleanup on failure."""

from __future__ import annotations

from builder.multistep import Step
from builder.vsphere.common.driver import CreateSpec, Placement
from builder.vsphere.common.steps import StepImportToContentLibrary
from builder.vsphere.iso.builder import Builder
from tests.unit.vsphere.iso.conftest import MakeRun, config
from tests.unit.vsphere.iso.fakes import FakeISODriver


def step_names(**over: object) -> list[str]:
    builder = Builder.__new__(Builder)
    builder.config = config(**over)
    builder.options = type("O", (), {"build_name": "b", "force": False})()  # type: ignore[assignment]
    steps: list[Step[object] | None] = list(builder.steps())  # type: ignore[arg-type]
    return [type(s).__name__ for s in steps if s is not None]


def test_the_step_sits_between_template_and_export() -> None:
    names = step_names(content_library_destination={"library": "lib"}, export={})
    at = names.index("StepImportToContentLibrary")
    assert names[at - 1 : at + 2] == [
        "StepConvertToTemplate", "StepImportToContentLibrary", "StepExport"
    ]  # fmt: skip
    assert "StepImportToContentLibrary" not in step_names()


def test_ovf_import_then_failure_deletes_it(make_run: MakeRun, driver: FakeISODriver) -> None:
    ctx, sink = make_run(content_library_destination={"library": "lib", "ovf": True})
    ctx.vm = driver.create_vm(CreateSpec("isovm", Placement(cluster="DC0_C0")))
    step = StepImportToContentLibrary()
    step.run(ctx)
    (item,) = driver.items.values()
    assert (item.name, item.type) == ("isovm", "ovf") and ctx.library_item == item
    assert "Importing VM OVF template isovm to Content Library..." in sink.texts()
    ctx.state.fail(RuntimeError("a later step failed"), cancelled=False)
    step.cleanup(ctx)
    step.cleanup(ctx)  # safe twice
    assert driver.items == {} and driver.library_calls.count("delete_library_item") == 1
    assert [r.state for r in ctx.resources._resources] == ["released"]
