"""The resource ledger: records on disk, liveness by lock, reading back a killed run's file."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from builder.common.drivers import public_settings, secret
from builder.ledger import (
    RUN_TAG,
    Ledger,
    RunLock,
    dead_runs,
    is_live,
    read_run,
    state_dir,
)


def started(tmp_path: Path, run_id: str = "run-1") -> Ledger:
    ledger = Ledger.memory(run_id)
    ledger.start(directory=tmp_path, template="t.json")
    return ledger


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_resource_is_recorded_before_and_after_its_create_call(tmp_path: Path) -> None:
    ledger = started(tmp_path)
    build = ledger.build("docker")
    res = build.creating("docker", "container", name="pybuild_docker_run-1")
    assert [r["rec"] for r in records(tmp_path / "run-1.jsonl")] == ["run", "create"]
    res.created("c0ffee", region="x")
    res.released()
    res.released()  # twice is a no-op
    recs = records(tmp_path / "run-1.jsonl")
    assert [r["rec"] for r in recs] == ["run", "create", "created", "released"]
    assert recs[1]["name"] == "pybuild_docker_run-1"
    assert recs[2]["id"] == "c0ffee" and recs[2]["attrs"] == {"region": "x"}
    assert recs[0]["template"].endswith("t.json")
    ledger.close()


def test_a_run_that_ends_with_nothing_left_deletes_its_file(tmp_path: Path) -> None:
    ledger = started(tmp_path)
    build = ledger.build("b")
    build.creating("local", "dir", name="/tmp/x").released()
    image = build.creating("docker", "image", name="")
    image.created("sha256:1")
    image.kept()  # an artifact is not a leftover
    ledger.close()
    assert not (tmp_path / "run-1.jsonl").exists()


def test_a_run_that_ends_with_leftovers_keeps_its_file(tmp_path: Path) -> None:
    ledger = started(tmp_path)
    ledger.build("b").creating("local", "dir", name="/tmp/x").created()
    ledger.close()
    run = read_run(tmp_path / "run-1.jsonl")
    [left] = run.outstanding()
    assert (left.ref, left.id, left.state) == ("local.dir", "/tmp/x", "created")


def test_a_live_run_is_locked_and_a_dead_one_is_not(tmp_path: Path) -> None:
    ledger = started(tmp_path)
    ledger.build("b").creating("local", "dir", name="/tmp/x")
    path = tmp_path / "run-1.jsonl"
    assert is_live(path)
    assert RunLock.try_lock(path) is None
    assert list(dead_runs(tmp_path)) == []
    ledger.close()  # the lock goes with the process's descriptor (or the process)
    assert not is_live(path)
    [dead] = dead_runs(tmp_path)
    assert dead.run_id == "run-1" and dead.outstanding()[0].state == "creating"


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    ledger = started(tmp_path)
    ledger.build("b").creating("local", "file", name="/tmp/f").created()
    ledger.close()
    path = tmp_path / "run-1.jsonl"
    with open(path, "a") as fh:
        fh.write('{"rec": "released", "rid": "b#1"')  # killed mid-write
    assert [r.state for r in read_run(path).resources] == ["created"]


def test_threads_append_whole_records(tmp_path: Path) -> None:
    ledger = started(tmp_path)

    def work(n: int) -> None:
        build = ledger.build(f"b{n}")
        for i in range(200):
            build.creating("local", "file", name=f"/tmp/{n}-{i}").created()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "run-1.jsonl").read_text().splitlines()
    assert len(lines) == 1 + 4 * 200 * 2
    assert all(json.loads(line) for line in lines)
    assert len({r.rid for r in read_run(tmp_path / "run-1.jsonl").resources}) == 800
    ledger.close()


def test_memory_ledger_writes_nothing(tmp_path: Path) -> None:
    ledger = Ledger.memory("m")
    ledger.build("b").creating("local", "file", name="x").created()
    ledger.close()
    assert not ledger.durable and list(tmp_path.rglob("*.jsonl")) == []


def test_tags_carry_the_run_id() -> None:
    assert Ledger.memory("r-9").build("b").tags() == {RUN_TAG: "r-9"}


def test_state_dir_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PYBUILD_STATE_DIR", str(tmp_path / "s"))
    assert state_dir() == tmp_path / "s"
    monkeypatch.delenv("PYBUILD_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "x"))
    assert state_dir() == tmp_path / "x" / "pybuild" / "runs"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert str(state_dir()).endswith(".local/state/pybuild/runs")


@dataclass(frozen=True)
class Settings:
    region: str
    endpoint: str = ""
    secret_key: str = secret()


def test_secret_settings_never_reach_the_ledger(tmp_path: Path) -> None:
    settings = Settings("eu-west-1", "http://127.0.0.1:5000", secret_key="s3cr3t-value")
    assert public_settings(settings) == {"region": "eu-west-1", "endpoint": "http://127.0.0.1:5000"}
    ledger = started(tmp_path)
    ledger.build("b").platform("amazon", public_settings(settings))
    ledger.build("b").creating("local", "dir", name="/tmp/x")
    ledger.close()
    text = (tmp_path / "run-1.jsonl").read_text()
    assert "s3cr3t-value" not in text and "eu-west-1" in text
    assert read_run(tmp_path / "run-1.jsonl").settings[("b", "amazon")]["region"] == "eu-west-1"
