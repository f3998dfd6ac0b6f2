"""`cleanup()` over ledger files: only dead runs, newest first, resumable, honest about failures.

The platform here is a fake handler (named as such) registered for the test: it stands for
a platform's `resources.py` and records what cleanup asked of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from builder.ledger import Ledger, LeftResource, read_run
from builder.leftovers import cleanup, override_handler


class FakeRemover:
    """A platform that holds `present` resources; removing one takes it away."""

    def __init__(self, world: FakePlatform):
        self.world = world

    def remove(self, res: LeftResource) -> bool:
        self.world.calls.append(("remove", res.kind, res.id or res.name))
        if res.id in self.world.broken:
            raise RuntimeError(f"{res.id} is stuck")
        if res.id in self.world.present or res.name in self.world.present:
            self.world.present.discard(res.id)
            self.world.present.discard(res.name)
            return True
        return False

    def sweep(self) -> Iterable[LeftResource]:
        return [
            LeftResource(run_id, "", "", "fake", "thing", id=rid, state="created")
            for rid, run_id in self.world.tagged.items()
            if rid in self.world.present
        ]


class FakePlatform:
    def __init__(self) -> None:
        self.present: set[str] = set()
        self.broken: set[str] = set()
        self.tagged: dict[str, str] = {}
        self.calls: list[tuple[str, ...]] = []
        self.opened: list[dict[str, Any]] = []

    @contextmanager
    def open(self, recorded: Any, full: Any) -> Iterator[FakeRemover]:
        self.opened.append({"recorded": dict(recorded), "full": full})
        yield FakeRemover(self)


@pytest.fixture
def fake() -> Iterator[FakePlatform]:
    world = FakePlatform()
    with override_handler("fake", world):
        yield world


def dead_run(directory: Path, run_id: str, items: list[tuple[str, str]]) -> Path:
    """A run that made `items` (kind, id) and died without cleaning up."""
    ledger = Ledger.memory(run_id)
    ledger.start(directory=directory)
    build = ledger.build("b")
    build.platform("fake", {"endpoint": "http://127.0.0.1:1"})
    for kind, rid in items:
        build.creating("fake", kind, name=f"name-{rid}").created(rid)
    ledger.close()
    return directory / f"{run_id}.jsonl"


def test_removes_newest_first_and_deletes_the_ledger(tmp_path: Path, fake: FakePlatform) -> None:
    fake.present |= {"a", "b"}
    path = dead_run(tmp_path, "r1", [("group", "a"), ("instance", "b")])
    report = cleanup(state_dir=str(tmp_path))
    assert [(line.ref, line.what, line.outcome) for line in report.lines] == [
        ("fake.instance", "b", "removed"),
        ("fake.group", "a", "removed"),
    ]
    assert report.ok and fake.present == set() and not path.exists()
    assert fake.opened == [{"recorded": {"endpoint": "http://127.0.0.1:1"}, "full": None}]
    assert cleanup(state_dir=str(tmp_path)).lines == []  # twice: nothing to do


def test_already_gone_is_not_a_failure(tmp_path: Path, fake: FakePlatform) -> None:
    dead_run(tmp_path, "r1", [("instance", "b")])
    [line] = cleanup(state_dir=str(tmp_path)).lines
    assert line.outcome == "gone"


def test_dry_run_lists_and_removes_nothing(tmp_path: Path, fake: FakePlatform) -> None:
    fake.present |= {"a"}
    path = dead_run(tmp_path, "r1", [("instance", "a")])
    report = cleanup(state_dir=str(tmp_path), dry_run=True)
    assert [line.outcome for line in report.lines] == ["would remove"]
    assert fake.present == {"a"} and fake.calls == [] and path.exists()


def test_a_failure_is_reported_and_the_rest_still_go(tmp_path: Path, fake: FakePlatform) -> None:
    fake.present |= {"a", "b"}
    fake.broken.add("b")
    path = dead_run(tmp_path, "r1", [("group", "a"), ("instance", "b")])
    report = cleanup(state_dir=str(tmp_path))
    assert [(line.what, line.outcome, line.reason) for line in report.lines] == [
        ("b", "failed", "b is stuck"),
        ("a", "removed", ""),
    ]
    assert not report.ok
    # the ledger keeps what is left, so a second cleanup tries again
    assert [r.id for r in read_run(path).outstanding()] == ["b"]
    fake.broken.clear()
    assert [line.outcome for line in cleanup(state_dir=str(tmp_path)).lines] == ["removed"]


def test_a_live_run_is_never_touched(tmp_path: Path, fake: FakePlatform) -> None:
    fake.present |= {"a"}
    live = Ledger.memory("live")
    live.start(directory=tmp_path)
    live.build("b").creating("fake", "instance", name="a").created("a")
    try:
        assert cleanup(state_dir=str(tmp_path)).lines == []
        [line] = cleanup(["live"], state_dir=str(tmp_path)).lines
        assert line.outcome == "in use"
        assert fake.present == {"a"}
    finally:
        live.close()


def test_only_the_named_runs(tmp_path: Path, fake: FakePlatform) -> None:
    fake.present |= {"a", "b"}
    dead_run(tmp_path, "r1", [("instance", "a")])
    dead_run(tmp_path, "r2", [("instance", "b")])
    report = cleanup(["r2", "nope"], state_dir=str(tmp_path))
    assert sorted((line.run_id, line.outcome) for line in report.lines) == [
        ("nope", "failed"),
        ("r2", "removed"),
    ]
    assert fake.present == {"a"}


def test_sweep_finds_tagged_resources_of_dead_runs_only(tmp_path: Path, fake: FakePlatform) -> None:
    fake.present |= {"orphan", "mine"}
    fake.tagged = {"orphan": "dead-run", "mine": "live"}
    live = Ledger.memory("live")
    live.start(directory=tmp_path)
    live.build("b").creating("local", "dir", name=str(tmp_path / "never"))
    try:
        report = cleanup(state_dir=str(tmp_path), sweep=True, sweep_platforms=["fake"])
    finally:
        live.close()
    assert [(line.run_id, line.what, line.outcome) for line in report.lines] == [
        ("dead-run", "orphan", "removed")
    ]
    assert fake.present == {"mine"}


def test_full_settings_from_the_template_win(tmp_path: Path, fake: FakePlatform) -> None:
    fake.present |= {"a"}
    dead_run(tmp_path, "r1", [("instance", "a")])
    cleanup(state_dir=str(tmp_path), full_settings=lambda build, platform: ("creds", build))
    assert fake.opened[0]["full"] == ("creds", "b")


def test_local_files_and_dirs(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "f").write_text("x")
    partial = tmp_path / "disk.partial"
    partial.write_text("x")
    ledger = Ledger.memory("r1")
    ledger.start(directory=tmp_path / "state")
    build = ledger.build("b")
    build.creating("local", "dir", name=str(work))
    build.creating("local", "file", name=str(partial)).created()
    ledger.close()
    report = cleanup(state_dir=str(tmp_path / "state"))
    assert [line.outcome for line in report.lines] == ["removed", "removed"]
    assert not work.exists() and not partial.exists()


def test_an_unknown_platform_is_a_failure_that_says_so(tmp_path: Path) -> None:
    ledger = Ledger.memory("r1")
    ledger.start(directory=tmp_path)
    ledger.build("b").creating("nosuch", "vm", name="v").created("v-1")
    ledger.close()
    [line] = cleanup(state_dir=str(tmp_path)).lines
    assert line.outcome == "failed"
    assert "no plugin installed knows how to remove nosuch resources" in line.reason


def test_sweep_of_named_runs_touches_no_other_run(tmp_path: Path, fake: FakePlatform) -> None:
    fake.present |= {"orphan", "other"}
    fake.tagged = {"orphan": "lost-ledger", "other": "someone-else"}
    report = cleanup(["lost-ledger"], state_dir=str(tmp_path), sweep=True, sweep_platforms=["fake"])
    assert [(line.run_id, line.what, line.outcome) for line in report.lines] == [
        ("lost-ledger", "orphan", "removed")
    ]
    assert fake.present == {"other"}


def test_the_library_entry_point_is_builder_cleanup(tmp_path: Path, fake: FakePlatform) -> None:
    import builder

    fake.present |= {"a"}
    dead_run(tmp_path, "r1", [("instance", "a")])
    report = builder.cleanup(["r1"], state_dir=str(tmp_path))
    assert isinstance(report, builder.CleanupReport) and report.ok
    assert [(line.what, line.outcome) for line in report.lines] == [("a", "removed")]
    assert "cleanup" in dir(builder) and fake.present == set()
