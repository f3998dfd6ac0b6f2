"""A build killed with SIGKILL leaves its ledger behind; `pybuild cleanup` finishes the job.

Real processes and real signals (the fault points of builder/faults.py); the resources
are local files, so no service is needed.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path


def killed_build(cli, point: str, state: Path) -> None:
    r = cli(
        "build", "t.json", env={"PYBUILD_FAULT": f"kill@{point}", "PYBUILD_STATE_DIR": str(state)}
    )
    assert r.returncode == -signal.SIGKILL, r.stdout + r.stderr


def test_killed_between_create_and_record(template, cli, tmp_path: Path) -> None:
    template({"builders": [{"type": "file", "target": "out/disk.img", "content": "data"}]})
    state = tmp_path / "state"
    killed_build(cli, "created:local.file", state)
    assert (tmp_path / "out" / "disk.img").exists()  # the partial target is left ...
    [ledger] = state.glob("*.jsonl")
    assert [json.loads(line)["rec"] for line in ledger.read_text().splitlines()] == [
        "run",
        "create",
    ]
    # the next build says so, and how to remove it
    other = tmp_path / "other"
    other.mkdir()
    (other / "t.json").write_text(
        json.dumps({"builders": [{"type": "null", "communicator": "none"}]})
    )
    r = cli("build", "t.json", cwd=other, env={"PYBUILD_STATE_DIR": str(state)})
    assert r.returncode == 0
    assert "1 resource(s) left behind by 1 earlier run(s) that did not finish" in r.stdout
    assert "pybuild cleanup" in r.stdout

    dry = cli("cleanup", "-dry-run", env={"PYBUILD_STATE_DIR": str(state)})
    assert dry.returncode == 0 and "would remove local.file" in dry.stdout
    assert (tmp_path / "out" / "disk.img").exists()

    r = cli("cleanup", env={"PYBUILD_STATE_DIR": str(state)})
    assert r.returncode == 0, r.stdout
    assert f"==> run {ledger.stem}, build file: removed local.file out/disk.img" in r.stdout
    assert "Cleanup finished: 1 removed." in r.stdout
    assert not (tmp_path / "out" / "disk.img").exists()  # ... and removed by cleanup
    assert list(state.glob("*.jsonl")) == []
    again = cli("cleanup", env={"PYBUILD_STATE_DIR": str(state)})
    assert again.returncode == 0 and "Nothing to clean up" in again.stdout


def test_killed_at_a_step_of_a_plugin_build(template, cli, tmp_path: Path) -> None:
    template({"builders": [{"type": "file-image", "output": "img.txt"}]})
    state = tmp_path / "state"
    killed_build(cli, "step:PublishImage", state)
    assert (tmp_path / "img.txt.partial").exists()
    r = cli("cleanup", "-machine-readable", "-state-dir", str(state))
    assert r.returncode == 0
    [line] = [x for x in r.stdout.splitlines() if ",cleanup," in x]
    fields = line.split(",")
    assert fields[2:5] == ["cleanup", "removed", "local.file"]
    assert fields[5].endswith("img.txt.partial")
    assert not (tmp_path / "img.txt.partial").exists()


def test_a_finished_build_leaves_no_ledger(template, cli, tmp_path: Path) -> None:
    template({"builders": [{"type": "file", "target": "a", "content": "x"}]})
    state = tmp_path / "state"
    r = cli("build", "t.json", env={"PYBUILD_STATE_DIR": str(state)})
    assert r.returncode == 0
    assert list(state.glob("*.jsonl")) == []  # the artifact is kept, not a leftover
    assert (tmp_path / "a").exists()


def test_a_failed_build_cleans_up_and_leaves_no_ledger(template, cli, tmp_path: Path) -> None:
    template({"builders": [{"type": "file-image", "output": "img.txt", "fail_after_write": True}]})
    state = tmp_path / "state"
    r = cli("build", "t.json", env={"PYBUILD_STATE_DIR": str(state)})
    assert r.returncode == 1
    assert not (tmp_path / "img.txt.partial").exists()
    assert list(state.glob("*.jsonl")) == []
