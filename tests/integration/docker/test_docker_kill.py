"""SIGKILL a docker build at each step, then `pybuild cleanup`: the engine is left as it was.

Each build runs as `python -m builder build` with `PYBUILD_FAULT=kill@...` (the process
kills itself with SIGKILL there) and its own PYBUILD_STATE_DIR; cleanup runs as
`python -m builder cleanup -state-dir=...`. What is left is asked of the Engine API: no
container of the run, no image committed from one of its containers, no temp dir.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from builder.ledger import run_files
from tests.conftest import run_cli
from tests.integration.docker.conftest import KillBuild, KilledRun, Leaks, cli_env

if TYPE_CHECKING:
    import docker

STEPS = ["StepTempDir", "StepRun", "StepConnect", "StepProvision", "StepCommit"]


def cleanup(kill_build: KillBuild, *args: str) -> str:
    proc = run_cli(
        "cleanup",
        f"-state-dir={kill_build.state_dir}",
        *args,
        env=cli_env(kill_build.leaks),
        cwd=kill_build.tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def assert_nothing_left(kill_build: KillBuild, killed: KilledRun) -> None:
    assert kill_build.run_containers(killed) == []
    assert kill_build.leaks.containers() == []
    assert kill_build.leaks.new_images() == set()  # no image committed from its containers
    root = kill_build.leaks.tmp_root
    assert not root.exists() or list(root.iterdir()) == []
    assert run_files(kill_build.state_dir) == []


def clean_up_twice(kill_build: KillBuild, killed: KilledRun) -> str:
    first = cleanup(kill_build)
    assert_nothing_left(kill_build, killed)
    second = cleanup(kill_build)
    assert "Nothing to clean up" in second, second
    return first


@pytest.mark.parametrize("step", STEPS)
def test_killed_before_a_step_then_cleanup(kill_build: KillBuild, step: str) -> None:
    killed = kill_build.run(f"kill@step:{step}")
    if step != "StepTempDir":
        assert list(kill_build.leaks.tmp_root.iterdir())  # the temp dir was left
    if step in ("StepConnect", "StepProvision", "StepCommit"):
        assert kill_build.run_containers(killed)  # so was the container
    out = clean_up_twice(kill_build, killed)
    if step in ("StepConnect", "StepProvision", "StepCommit"):
        assert "removed docker.container" in out, out


def test_killed_while_the_provisioner_runs(kill_build: KillBuild) -> None:
    killed = kill_build.run_killed_while_provisioning(f"provisioning-{secrets.token_hex(4)}")
    (name,) = kill_build.run_containers(killed)
    assert name.startswith("pybuild_docker_") and killed.run_id in name
    out = clean_up_twice(kill_build, killed)
    assert "removed docker.container" in out and "removed local.dir" in out, out


def test_killed_after_the_commit_before_its_id_was_recorded(
    kill_build: KillBuild, docker_client: docker.DockerClient
) -> None:
    """The image is found by the container it was committed from (image inspect)."""
    killed = kill_build.run("kill@created:docker.image")
    (cid,) = killed.container_ids
    made = [
        i.id
        for i in docker_client.images.list()
        if docker_client.api.inspect_image(i.id).get("Container") == cid
    ]
    assert len(made) == 1  # the commit happened; the ledger does not know its id
    out = clean_up_twice(kill_build, killed)
    assert "removed docker.image" in out and "create call not confirmed" in out, out


def test_killed_after_the_temp_dir_before_its_record(kill_build: KillBuild) -> None:
    killed = kill_build.run("kill@created:local.dir")
    assert list(kill_build.leaks.tmp_root.iterdir())
    clean_up_twice(kill_build, killed)


def test_killed_after_the_create_call_cleanup_removes_it_by_name(kill_build: KillBuild) -> None:
    """The container's name was recorded before the create call: its id is not needed."""
    killed = kill_build.run("kill@created:docker.container")
    assert killed.container_ids == set() and len(killed.container_names) == 1
    assert kill_build.run_containers(killed) == sorted(killed.container_names)
    out = clean_up_twice(kill_build, killed)
    assert "removed docker.container" in out, out


class _ThisRunOnly:
    """The real docker handler, with the sweep narrowed to one run's containers.

    `pybuild cleanup -sweep` removes the build containers of every run that is not alive
    in the state dir it is given; other suites may be building on this engine right now,
    with their ledgers elsewhere, so the removing sweep here is kept to the killed run.
    """

    def __init__(self, run_id: str):
        from builder.docker.resources import HANDLER

        self.run_id, self.real = run_id, HANDLER

    @contextmanager
    def open(self, recorded: Mapping[str, Any], full: Any | None) -> Iterator[Any]:
        with self.real.open(recorded, full) as remover:
            run_id = self.run_id

            class Narrowed:
                def remove(self, res: Any) -> bool:
                    return remover.remove(res)

                def sweep(self) -> list[Any]:
                    return [r for r in remover.sweep() if r.run_id == run_id]

            yield Narrowed()


def test_a_lost_ledger_is_made_up_for_by_sweep(kill_build: KillBuild, leaks: Leaks) -> None:
    """Killed between the create call and its record, and the ledger lost: -sweep finds it."""
    from builder.leftovers import cleanup as library_cleanup
    from builder.leftovers import override_handler

    killed = kill_build.run("kill@created:docker.container")
    (name,) = killed.container_names
    for path in run_files(kill_build.state_dir):
        path.unlink()  # the ledger is gone; the container's name still says its run
    template = f"-template={kill_build.tmp_path / 't.json'}"  # sweep docker only
    listed = cleanup(kill_build, "-sweep", "-dry-run", template)
    assert f"run {killed.run_id}, build docker: would remove docker.container" in listed, listed
    assert kill_build.run_containers(killed) == [name]  # a dry run removes nothing
    with override_handler("docker", _ThisRunOnly(killed.run_id)):
        report = library_cleanup(
            sweep=True, state_dir=str(kill_build.state_dir), sweep_platforms=["docker"]
        )
    assert report.ok, report.lines
    assert [(line.run_id, line.ref, line.outcome) for line in report.lines] == [
        (killed.run_id, "docker.container", "removed")
    ]
    assert kill_build.run_containers(killed) == [] and leaks.containers() == []
    assert leaks.new_images() == set()
    # A local temp dir has no name or tag to sweep by: only its (lost) record knew it.
    (left,) = leaks.tmp_root.iterdir()
    shutil.rmtree(left)
