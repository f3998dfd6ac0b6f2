"""StepCreateFloppy and StepCreateCD in a BuildRun: the temp image in $TMPDIR, its ledger
record before it exists, cleanup, plan, cancel, and `pybuild cleanup` after a killed run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from builder.common.media import StepCreateCD, StepCreateFloppy
from builder.errors import BuildCancelled, BuildError
from builder.events import Message, Say
from builder.ledger import Ledger
from builder.leftovers import cleanup
from builder.multistep import Step
from builder.testing import RecordingSink
from tests.unit.media.conftest import MediaTestConfig, MediaTestRun, make_run, tree


def records(ctx: MediaTestRun) -> list[tuple[str, str, str]]:
    return [(r.ref, r.id or r.name, r.state) for r in ctx.resources._resources]


@pytest.fixture
def src(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmpdir_images: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    return tree(tmp_path / "src", {"Autounattend.xml": "<u/>", "cidata/user-data": "#c\n"})


def test_floppy_step_makes_records_and_removes_its_image(src: Path, tmpdir_images: Path) -> None:
    sink = RecordingSink()
    ctx = make_run(sink, floppy_files=["src/Autounattend.xml"], floppy_label="OEMDRV")
    steps: list[Step[MediaTestRun]] = [StepCreateFloppy(), StepCreateCD()]  # mypy: they fit
    step = steps[0]
    step.run(ctx)
    path = ctx.floppy_path
    assert os.path.dirname(path) == str(tmpdir_images)
    assert os.path.basename(path).startswith("packer") and os.path.getsize(path) == 1474560
    assert records(ctx) == [("local.file", path, "created")]
    assert sink.texts(Say) == ["Creating floppy disk..."]
    assert "Copying file: src/Autounattend.xml" in sink.texts(Message)
    step.cleanup(ctx)
    assert not os.path.exists(path) and ctx.floppy_path == ""
    assert records(ctx) == [("local.file", path, "released")]
    step.cleanup(ctx)  # twice is fine


def test_cd_step_makes_records_and_removes_its_image(src: Path, tmpdir_images: Path) -> None:
    sink = RecordingSink()
    ctx = make_run(sink, cd_files=["src/cidata/"], cd_label="cidata")
    step = StepCreateCD()
    step.run(ctx)
    path = ctx.cd_path
    assert os.path.dirname(path) == str(tmpdir_images) and path.endswith(".iso")
    assert records(ctx) == [("local.file", path, "created")]
    assert sink.texts(Say) == ["Creating CD disk..."]
    assert sink.texts(Message) == ["Done copying paths from CD_dirs"]
    with open(path, "rb") as f:
        f.seek(16 * 2048)
        assert f.read(6) == b"\x01CD001"  # the primary volume descriptor
    step.cleanup(ctx)
    assert not os.path.exists(path) and ctx.cd_path == ""
    assert records(ctx) == [("local.file", path, "released")]


def test_nothing_asked_nothing_made(tmpdir_images: Path) -> None:
    sink = RecordingSink()
    ctx = make_run(sink)
    for step in (StepCreateFloppy(), StepCreateCD()):
        step.run(ctx)
        step.cleanup(ctx)
    assert sink.events == [] and records(ctx) == [] and os.listdir(tmpdir_images) == []
    assert (ctx.floppy_path, ctx.cd_path) == ("", "")


def test_plan_says_what_will_be_created(tmpdir_images: Path) -> None:
    floppy = MediaTestConfig.model_validate({"floppy_dirs": ["x"]})
    cd = MediaTestConfig.model_validate({"cd_files": ["x"]})
    [made] = StepCreateFloppy().plan(floppy, "b")
    assert made.ref == "local.file" and made.name == str(tmpdir_images / "packer<random>")
    [made] = StepCreateCD().plan(cd, "b")
    assert made.ref == "local.file" and made.name.endswith("packer<random>.iso")
    assert StepCreateFloppy().plan(cd, "b") == [] and StepCreateCD().plan(floppy, "b") == []


def test_a_failure_leaves_no_image_and_no_record(
    src: Path, tmp_path: Path, tmpdir_images: Path
) -> None:
    too_big = tree(tmp_path, {"big.bin": b"x" * 1_500_000})
    ctx = make_run(RecordingSink(), floppy_files=[str(too_big / "big.bin")])
    step = StepCreateFloppy()
    with pytest.raises(BuildError, match="do not fit on a 1.44 MB floppy"):
        step.run(ctx)
    step.cleanup(ctx)
    assert os.listdir(tmpdir_images) == [] and ctx.resources.outstanding() == []


def test_cancelled_before_the_image(src: Path, tmpdir_images: Path) -> None:
    cases: list[tuple[Step[MediaTestRun], str, list[str]]] = [
        (StepCreateFloppy(), "floppy_files", ["src/Autounattend.xml"]),
        (StepCreateCD(), "cd_files", ["src/cidata"]),
    ]
    for step, option, paths in cases:
        options: dict[str, Any] = {option: paths}
        ctx = make_run(RecordingSink(), **options)
        ctx.cancel.cancel()
        with pytest.raises(BuildCancelled):
            step.run(ctx)
        step.cleanup(ctx)
        assert os.listdir(tmpdir_images) == [] and ctx.resources.outstanding() == []


def test_a_killed_build_leaves_images_that_cleanup_removes(
    src: Path, tmp_path: Path, tmpdir_images: Path
) -> None:
    """The run's ledger file outlives the process; cleanup of a dead run removes the images."""
    state = tmp_path / "state"
    ledger = Ledger("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9")
    ledger.start(directory=state)
    ctx = make_run(
        RecordingSink(),
        resources=ledger.build("b"),
        floppy_files=["src/Autounattend.xml"],
        cd_files=["src/cidata"],
    )
    StepCreateFloppy().run(ctx)
    StepCreateCD().run(ctx)
    images = [ctx.floppy_path, ctx.cd_path]
    ledger.close()  # as the kernel does for a killed process: the lock goes, the file stays
    assert all(os.path.exists(p) for p in images)
    report = cleanup(state_dir=str(state))
    assert sorted((line.ref, line.what, line.outcome) for line in report.lines) == sorted(
        ("local.file", p, "removed") for p in images
    )
    assert not any(os.path.exists(p) for p in images)
