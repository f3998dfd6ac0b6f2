"""What docker builds write in the resource ledger, how cleanup removes it, driver lifetimes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder.docker.artifact import BUILDER_ID_IMPORT, ExportArtifact, ImageArtifact
from builder.docker.driver import DockerSettings
from builder.docker.resources import DockerRemover, container_name, run_of
from builder.docker.run import DockerRun
from builder.engine import RunOptions, load_template, prepare, run
from builder.errors import BuildError, DriverError
from builder.ledger import Ledger, LeftResource, read_run, run_files
from builder.leftovers import cleanup
from builder.multistep import OnError, Step
from builder.testing import RecordingSink
from tests.conftest import write_template
from tests.fakes.docker import FakeDockerDriver
from tests.unit.docker.test_steps import RUN_ID, make_ctx, records

IMAGE = "pybuild-test/debian:bookworm"


@pytest.fixture(autouse=True)
def tmp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "packer-tmp"
    monkeypatch.setenv("PACKER_TMP_DIR", str(root))
    return root


def build(
    tmp_path: Path,
    builder: dict[str, Any],
    *,
    answers: list[str] | None = None,
    provisioners: list[dict[str, Any]] | None = None,
    post_processors: list[Any] | None = None,
) -> tuple[Any, RecordingSink, Path]:
    state = tmp_path / "state"
    template = {
        "builders": [{"type": "docker", "image": IMAGE, **builder}],
        "provisioners": provisioners or [],
        "post-processors": post_processors or [],
    }
    path = write_template(tmp_path, template)
    sink = RecordingSink(answers=list(answers or []))
    on_error = OnError.ASK if answers is not None else OnError.CLEANUP
    options = RunOptions(state_dir=str(state), on_error=on_error)
    return run(prepare(load_template(str(path)), options), sink), sink, state


# ------------------------------------------------------------------ steps' records
def test_container_name_carries_the_run_id() -> None:
    name = container_name("web_1", RUN_ID)
    assert name.startswith(f"pybuild_web_1_{RUN_ID}_")
    assert run_of(name) == ("web_1", RUN_ID)
    assert run_of("/" + name) == ("web_1", RUN_ID)
    assert run_of("pybuild_web_1a2b3c4d") is None  # an old-style name names no run
    assert run_of(container_name("docker", "")) is None


def test_steps_record_before_creating_and_release_in_cleanup(fake: FakeDockerDriver) -> None:
    from builder.docker.steps import StepCommit, StepRunContainer, StepTempDir

    ctx, _ = make_ctx(fake)
    steps: list[Step[DockerRun]] = [StepTempDir(), StepRunContainer(), StepCommit()]
    for step in steps:
        step.run(ctx)
    (dir_rec, container_rec, image_rec) = ctx.resources._resources
    assert (dir_rec.ref, dir_rec.id, dir_rec.state) == ("local.dir", ctx.temp_dir, "created")
    name = fake.containers[ctx.container_id].name
    assert (container_rec.ref, container_rec.name, container_rec.id) == (
        "docker.container",
        name,
        ctx.container_id,
    )
    assert run_of(name) == ("docker", RUN_ID)
    assert (image_rec.ref, image_rec.id) == ("docker.image", ctx.image_id)
    for step in reversed(steps):
        step.cleanup(ctx)
    assert records(ctx) == [
        ("local.dir", ctx.temp_dir, "released"),
        ("docker.container", ctx.container_id, "released"),
        ("docker.image", ctx.image_id, "kept"),  # the build succeeded: it is the artifact
    ]
    assert ctx.image_id in fake.images and fake.containers == {}


def test_a_failed_build_removes_and_releases_its_commit(fake: FakeDockerDriver) -> None:
    from builder.docker.steps import StepCommit, StepRunContainer

    ctx, _ = make_ctx(fake)
    run_step, commit = StepRunContainer(), StepCommit()
    run_step.run(ctx)
    commit.run(ctx)
    ctx.state.fail(BuildError("later"), False)
    commit.cleanup(ctx)
    run_step.cleanup(ctx)
    assert [state for _, _, state in records(ctx)] == ["released", "released"]
    assert fake.committed() == [] and fake.containers == {}


def test_a_failed_commit_call_is_released_and_its_image_found(fake: FakeDockerDriver) -> None:
    from builder.docker.steps import StepCommit, StepRunContainer

    ctx, _ = make_ctx(fake)
    StepRunContainer().run(ctx)
    real_commit = fake.commit

    def commit_then_fail(*args: Any, **kw: Any) -> str:
        real_commit(*args, **kw)  # the engine made the image, then the call broke
        raise DriverError("commit the container: read timed out")

    fake.commit = commit_then_fail  # type: ignore[method-assign]
    step = StepCommit()
    with pytest.raises(BuildError, match="read timed out"):
        step.run(ctx)
    assert len(fake.committed()) == 1
    ctx.state.fail(BuildError("commit"), False)
    step.cleanup(ctx)
    assert fake.committed() == []
    assert records(ctx)[-1][2] == "released"


def test_a_create_call_that_fails_is_released_at_once(fake: FakeDockerDriver) -> None:
    from builder.docker.steps import StepRunContainer

    ctx, _ = make_ctx(fake, image="nope:1", pull=False)
    with pytest.raises(BuildError):
        StepRunContainer().run(ctx)
    ((ref, _, state),) = records(ctx)
    assert (ref, state) == ("docker.container", "released")


def test_export_file_is_kept_on_success(fake: FakeDockerDriver, tmp_path: Path) -> None:
    from builder.docker.steps import StepExport, StepRunContainer

    out = tmp_path / "out.tar"
    ctx, _ = make_ctx(fake, commit=False, export_path=str(out))
    StepRunContainer().run(ctx)
    step = StepExport()
    step.run(ctx)
    step.cleanup(ctx)
    assert records(ctx)[-1] == ("local.file", str(out), "kept") and out.exists()


# ------------------------------------------------------------------ whole builds
def test_a_build_leaves_no_ledger_and_closes_every_driver(
    fake: FakeDockerDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    results, _, state = build(
        tmp_path,
        {"pull": False, "commit": True},
        provisioners=[{"type": "shell", "inline": ["true"]}],
        post_processors=[{"type": "docker-tag", "repository": "r/x", "tags": ["1"]}],
    )
    assert results["docker"].error is None
    assert run_files(state) == []  # nothing outstanding: the run's file is gone
    assert len(fake.opened) == 2 and fake.closes == 2  # the build's and docker-tag's
    assert {s.host for s in fake.opened} == {"tcp://127.0.0.1:2375"}
    (image, tagged) = results["docker"].artifacts
    assert isinstance(image, ImageArtifact) and image.settings.host == "tcp://127.0.0.1:2375"
    image.destroy()  # reopens a driver from the settings it kept, and closes it
    assert len(fake.opened) == 3 and fake.closes == 3


@pytest.mark.parametrize("answers", [None, ["c"]])
def test_a_failed_build_closes_its_driver(
    fake: FakeDockerDriver, tmp_path: Path, answers: list[str] | None
) -> None:
    fake.exec_handler = lambda c, argv, user, env: ("", "", 3)
    results, _, state = build(
        tmp_path,
        {"pull": False, "commit": True},
        answers=answers,
        provisioners=[{"type": "shell", "inline": ["exit 3"]}],
    )
    assert results["docker"].error is not None
    assert fake.closes == len(fake.opened) == 1
    assert fake.containers == {} and fake.committed() == [] and run_files(state) == []


def test_a_cancelled_build_closes_its_driver(fake: FakeDockerDriver, tmp_path: Path) -> None:
    from builder.errors import BuildCancelled

    fake.exec_handler = lambda c, argv, user, env: (_ for _ in ()).throw(BuildCancelled())
    results, _, state = build(
        tmp_path,
        {"pull": False, "commit": True},
        provisioners=[{"type": "shell", "inline": ["true"]}],
    )
    assert results["docker"].cancelled or results["docker"].error is not None
    assert fake.closes == len(fake.opened) == 1 and fake.containers == {}


def test_retry_cleans_the_container_up_before_running_again(
    fake: FakeDockerDriver, tmp_path: Path
) -> None:
    """-on-error=ask, r: the failed StepRun's container is removed before the new one."""
    results, sink, state = build(
        tmp_path,
        {"pull": False, "discard": True, "run_command": ["-d", "{{.Image}}"]},
        answers=["r", "c"],
    )
    assert "exited at once" in str(results["docker"].error)
    assert len(sink.prompts) == 2
    assert len(fake.removed_containers) == 2 and fake.containers == {}
    assert run_files(state) == []


def test_post_processors_record_and_keep_what_they_make(
    fake: FakeDockerDriver, tmp_path: Path
) -> None:
    saved = tmp_path / "saved.tar"
    results, _, state = build(
        tmp_path,
        {"pull": False, "export_path": str(tmp_path / "e.tar")},
        post_processors=[
            [
                {"type": "docker-import", "repository": "r/imp", "tag": "1"},
                {"type": "docker-tag", "repository": "r/tag", "tags": ["a"]},
                {"type": "docker-save", "path": str(saved)},
            ]
        ],
    )
    assert results["docker"].error is None, results["docker"].error
    assert run_files(state) == [] and saved.exists()
    assert fake.images["r/tag:a"] == fake.images["r/imp:1"]


# ------------------------------------------------------------------ cleanup of a dead run
def dead_run(tmp_path: Path, fake: FakeDockerDriver, upto: int) -> Path:
    """Run the first `upto` steps of a commit build into a durable ledger, then 'die'."""
    from builder.docker.steps import StepCommit, StepConnectDocker, StepRunContainer, StepTempDir

    state = tmp_path / "state"
    ledger = Ledger(RUN_ID)
    ledger.start(directory=state)
    ctx, _ = make_ctx(fake)
    ctx.resources = ledger.build("docker")
    ctx.resources.platform("docker", {"host": "unix:///fake.sock"})
    steps: list[Step[DockerRun]] = [
        StepTempDir(),
        StepRunContainer(),
        StepConnectDocker(),
        StepCommit(),
    ]
    for step in steps[:upto]:
        step.run(ctx)
    ledger.close()  # what the kernel does for a killed process: the lock goes, the file stays
    return state


def test_cleanup_removes_a_dead_runs_container_image_and_dir(
    fake: FakeDockerDriver, tmp_path: Path, tmp_root: Path
) -> None:
    state = dead_run(tmp_path, fake, 4)
    assert fake.containers and fake.committed() and any(tmp_root.iterdir())
    report = cleanup(state_dir=str(state))
    assert report.ok
    assert [(line.ref, line.outcome) for line in report.lines] == [
        ("docker.image", "removed"),  # newest first: the image before its container
        ("docker.container", "removed"),
        ("local.dir", "removed"),
    ]
    assert fake.containers == {} and fake.committed() == [] and list(tmp_root.iterdir()) == []
    assert fake.opened == [DockerSettings(host="unix:///fake.sock")]
    assert run_files(state) == []
    assert cleanup(state_dir=str(state)).lines == []  # twice: nothing to do


def test_cleanup_finds_a_commit_whose_id_was_never_recorded(
    fake: FakeDockerDriver, tmp_path: Path
) -> None:
    state = dead_run(tmp_path, fake, 3)
    (path,) = run_files(state)
    run_rec = read_run(path)
    container = next(r for r in run_rec.resources if r.kind == "container")
    # the commit was called and the process died before the id was written
    fake.commit(container.id, [], "", "")
    with open(path, "a") as f:
        f.write(
            json.dumps(
                {
                    "rec": "create",
                    "rid": "docker#99",
                    "build": "docker",
                    "platform": "docker",
                    "kind": "image",
                    "attrs": {"container": container.id, "since": "0"},
                }
            )
            + "\n"
        )
    report = cleanup(state_dir=str(state))
    assert report.ok, report.lines
    assert report.lines[0].ref == "docker.image" and report.lines[0].outcome == "removed"
    assert fake.committed() == [] and fake.containers == {}


def test_remover_kinds_against_the_fake(fake: FakeDockerDriver) -> None:
    remover = DockerRemover(fake)
    name = container_name("b", RUN_ID)
    from builder.docker.runargs import ContainerSpec, RunArgs

    cid = fake.start_container(ContainerSpec(RunArgs(image=IMAGE, interactive=True, name=name)))

    def left(kind: str, **kw: Any) -> LeftResource:
        return LeftResource(RUN_ID, "b#1", "b", "docker", kind, **kw)

    assert [r.id for r in remover.sweep()] == [cid]
    assert remover.remove(left("container", name=name)) is True  # by name: id never recorded
    assert remover.remove(left("container", name=name)) is False  # already gone
    # an import that never happened leaves the name on the image it named before
    old = fake.images[IMAGE]
    assert remover.remove(left("image", name=IMAGE, attrs={"previous": old})) is False
    assert fake.images[IMAGE] == old
    # a tag made on an image with another name is untagged; the last name is left
    fake.tag_image(IMAGE, "r/x", "1")
    assert remover.remove(left("tag", name="r/x:1", attrs={"image": old})) is True
    assert "r/x:1" not in fake.images and fake.images[IMAGE] == old
    assert remover.remove(left("tag", name=IMAGE, attrs={"image": old})) is False
    assert IMAGE in fake.images


def test_artifacts_keep_settings_not_drivers(fake: FakeDockerDriver) -> None:
    art = ImageArtifact(BUILDER_ID_IMPORT, "sha256:" + "0" * 64, DockerSettings(host="tcp://x:1"))
    assert not hasattr(art, "driver")
    art.destroy()
    assert fake.opened == [DockerSettings(host="tcp://x:1")] and fake.closes == 1
    assert ExportArtifact("").files == []
