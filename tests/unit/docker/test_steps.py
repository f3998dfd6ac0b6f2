"""Each docker step against the fake engine: run, cleanup, and cleanup after a failure."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from builder.communicator.docker import DockerCommunicator
from builder.docker.config import DockerConfig
from builder.docker.run import DockerRun
from builder.docker.steps import (
    StepCommit,
    StepConnectDocker,
    StepDockerProvision,
    StepExport,
    StepPull,
    StepRunContainer,
    StepTempDir,
)
from builder.errors import BuildError, DriverError
from builder.events import ErrorMessage, Message, Say
from builder.ledger import Ledger
from builder.multistep import CancelToken
from builder.testing import RecordingSink
from builder.ui import Ui
from tests.fakes.docker import FakeDockerDriver
from tests.unit.docker.conftest import plugin_options

RUN_ID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


class Hook:
    def __init__(self, fail: BaseException | None = None, action: Any = None):
        self.fail, self.action = fail, action
        self.data: dict[str, str] | None = None

    def error_cleanup(self, ui: Any, comm: Any, data: dict[str, str], original: Any) -> None:
        pass

    def provision(self, ui: Any, comm: Any, data: dict[str, str]) -> None:
        self.data = data
        if self.action is not None:
            self.action(comm)
        if self.fail is not None:
            raise self.fail


def make_ctx(
    fake: FakeDockerDriver, hook: Hook | None = None, **cfg: Any
) -> tuple[DockerRun, RecordingSink]:
    config = DockerConfig.model_validate(
        {"image": "pybuild-test/debian:bookworm", "commit": True, **cfg}
    )
    sink = RecordingSink()
    ctx = DockerRun(
        ui=Ui(sink, "docker"),
        cancel=CancelToken(),
        hook=hook or Hook(),
        options=plugin_options(),
        resources=Ledger.memory(RUN_ID).build("docker"),
        config=config,
        driver=fake,
    )
    return ctx, sink


def records(ctx: DockerRun) -> list[tuple[str, str, str]]:
    """(platform.kind, id or name, state) of every resource the steps recorded."""
    return [(r.ref, r.id or r.name, r.state) for r in ctx.resources._resources]


@pytest.fixture(autouse=True)
def tmp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "packer-tmp"
    monkeypatch.setenv("PACKER_TMP_DIR", str(root))
    return root


def test_temp_dir_under_packer_tmp_dir_and_removed(fake: FakeDockerDriver, tmp_root: Path) -> None:
    ctx, sink = make_ctx(fake)
    step = StepTempDir()
    step.run(ctx)
    assert Path(ctx.temp_dir).parent == tmp_root and Path(ctx.temp_dir).is_dir()
    assert sink.texts(Say) == ["Creating a temporary directory for sharing data..."]
    step.cleanup(ctx)
    assert not Path(ctx.temp_dir).exists()
    step.cleanup(ctx)  # twice is fine


def test_temp_dir_defaults_to_packer_d(
    fake: FakeDockerDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PACKER_TMP_DIR")
    ctx, _ = make_ctx(fake)
    step = StepTempDir()
    step.run(ctx)
    assert Path(ctx.temp_dir).parent == Path(os.environ["HOME"]) / ".packer.d"
    step.cleanup(ctx)


def test_pull_with_login_logs_out_even_when_the_pull_fails(fake: FakeDockerDriver) -> None:
    ctx, sink = make_ctx(
        fake, login=True, login_server="127.0.0.1:5000", login_username="u", login_password="p"
    )
    fake.fail["pull"] = DriverError("pull x: manifest unknown")
    with pytest.raises(BuildError, match="Error pulling Docker image: pull x: manifest unknown"):
        StepPull().run(ctx)
    assert fake.calls == ["login", "pull", "logout"]
    assert sink.texts(Message) == ["Logging in...", "Logging out..."]
    assert fake.logged_in == {}


def test_pull_reports_status_lines(fake: FakeDockerDriver) -> None:
    ctx, sink = make_ctx(fake, image="other:1")
    StepPull().run(ctx)
    assert sink.texts(Say) == ["Pulling Docker image: other:1"]
    assert sink.texts(Message) == ["Pulling from other:1"]


def test_run_container_and_cleanup_removes_it(fake: FakeDockerDriver) -> None:
    ctx, sink = make_ctx(fake, volumes={"/h": "/c"}, privileged=True, cap_add=["NET_ADMIN"])
    ctx.temp_dir = "/tmp/t1"
    step = StepRunContainer()
    step.run(ctx)
    (cid,) = fake.running()
    assert ctx.container_id == cid and ctx.build_data()["ID"] == cid
    spec = fake.containers[cid].spec
    assert spec.binds == {"/tmp/t1": "/packer-files", "/h": "/c"}
    assert spec.run.name.startswith("pybuild_docker_")
    assert sink.texts(Message) == [
        "Run command: docker run --cap-add NET_ADMIN --privileged -v /tmp/t1:/packer-files "
        "-v /h:/c -d -i -t --entrypoint=/bin/sh -- pybuild-test/debian:bookworm",
        f"Container ID: {cid}",
    ]
    step.cleanup(ctx)
    assert fake.running() == [] and fake.removed_containers == [cid]
    assert sink.texts(Say)[-1] == f"Killing the container: {cid}"
    step.cleanup(ctx)
    assert fake.removed_containers == [cid]


def test_missing_image_without_pull_says_so_and_leaves_nothing(fake: FakeDockerDriver) -> None:
    ctx, _ = make_ctx(fake, image="nope:1", pull=False)
    step = StepRunContainer()
    with pytest.raises(BuildError) as err:
        step.run(ctx)
    assert "No such image: nope:1" in str(err.value)
    assert '"pull" is false' in str(err.value)
    step.cleanup(ctx)
    assert "remove_container" not in fake.calls


def test_container_that_exits_at_once_is_an_error_and_removed(fake: FakeDockerDriver) -> None:
    ctx, _ = make_ctx(fake, run_command=["-d", "{{.Image}}"])
    step = StepRunContainer()
    with pytest.raises(BuildError, match="exited at once with status 0"):
        step.run(ctx)
    step.cleanup(ctx)
    assert fake.containers == {}


def test_connect_and_provision_pass_build_data(fake: FakeDockerDriver) -> None:
    hook = Hook(action=lambda comm: comm.run("true"))
    ctx, _ = make_ctx(fake, hook, exec_user="nobody")
    StepRunContainer().run(ctx)
    StepConnectDocker().run(ctx)
    StepDockerProvision().run(ctx)
    assert hook.data == {"ID": ctx.container_id, "ConnType": "docker", "Host": ""}
    assert fake.execs[-1][1:3] == (["/bin/sh", "-c", "(true)"], "nobody")


def test_provision_failure_names_the_stopped_container(fake: FakeDockerDriver) -> None:
    ctx, _ = make_ctx(fake)
    StepRunContainer().run(ctx)

    def kill(comm: Any) -> None:
        fake.stop_container(ctx.container_id)

    ctx.hook = Hook(fail=BuildError("Script disconnected unexpectedly."), action=kill)
    with pytest.raises(BuildError, match=r"stopped \(exit status 137, killed\) while provisioning"):
        StepDockerProvision().run(ctx)


def test_commit_keeps_image_on_success_and_removes_it_on_failure(fake: FakeDockerDriver) -> None:
    ctx, sink = make_ctx(fake, changes=["ENV A=1"], author="me", message="msg")
    StepRunContainer().run(ctx)
    step = StepCommit()
    step.run(ctx)
    image = ctx.image_id
    assert fake.image_configs[image] == {"changes": ["ENV A=1"], "author": "me", "message": "msg"}
    assert sink.texts(Message)[-1] == f"Image ID: {image}"
    assert ctx.build_data()["ImageSha256"] == image
    step.cleanup(ctx)
    assert image in fake.images
    step.run(ctx)
    ctx.state.fail(BuildError("a later step failed"), False)
    step.cleanup(ctx)
    assert ctx.image_id not in fake.images


def test_commit_kills_the_container_first_unless_it_would_vanish(fake: FakeDockerDriver) -> None:
    ctx, _ = make_ctx(fake)
    StepRunContainer().run(ctx)
    StepCommit().run(ctx)
    assert fake.calls[-2:] == ["kill_container", "commit"]
    assert fake.commits == [(ctx.container_id, False, False)]  # stopped: no pause needed
    ctx, _ = make_ctx(fake, run_command=["-d", "-i", "-t", "--rm", "--", "{{.Image}}"])
    StepRunContainer().run(ctx)
    StepCommit().run(ctx)
    assert fake.calls[-1] == "commit" and fake.calls[-2] != "kill_container"
    assert fake.commits[-1] == (ctx.container_id, True, True)  # --rm: paused, as Packer


def test_connect_uses_the_user_start_saw(fake: FakeDockerDriver) -> None:
    ctx, _ = make_ctx(fake)
    StepRunContainer().run(ctx)
    fake.containers[ctx.container_id].user = "changed-later"
    fake.calls.clear()
    StepConnectDocker().run(ctx)
    assert fake.calls == []  # no second inspect
    assert isinstance(ctx.communicator, DockerCommunicator)
    assert ctx.communicator.container_user == ""


def test_commit_failure(fake: FakeDockerDriver) -> None:
    ctx, _ = make_ctx(fake)
    StepRunContainer().run(ctx)
    fake.fail["commit"] = DriverError("commit the container: boom")
    step = StepCommit()
    with pytest.raises(BuildError, match="Error committing container: commit the container: boom"):
        step.run(ctx)
    step.cleanup(ctx)
    assert "remove_image" not in fake.calls


def test_export_creates_parents_and_failure_deletes_the_file(
    fake: FakeDockerDriver, tmp_path: Path
) -> None:
    out = tmp_path / "a" / "b" / "image.tar"
    ctx, sink = make_ctx(fake, commit=False, export_path=str(out))
    StepRunContainer().run(ctx)
    step = StepExport()
    step.run(ctx)
    assert out.read_bytes() == b"exported-tarball"
    assert "Exporting the container" in sink.texts(Say)
    step.cleanup(ctx)
    assert out.exists()
    fake.fail["export"] = DriverError("export the container: gone")
    ctx.state.fail(BuildError("export failed"), False)
    with pytest.raises(BuildError, match="Error exporting"):
        step.run(ctx)
    step.cleanup(ctx)
    assert not out.exists()


def test_no_error_message_twice(fake: FakeDockerDriver) -> None:
    ctx, sink = make_ctx(fake, image="nope:1")
    with pytest.raises(BuildError):
        StepRunContainer().run(ctx)
    assert sink.texts(ErrorMessage) == []
