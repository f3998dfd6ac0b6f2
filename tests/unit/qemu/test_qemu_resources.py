"""Cleanup of a killed qemu build: the process by pid and start time, or by its token."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from builder.ledger import LeftResource
from builder.qemu.resources import (
    ENV_TOKEN,
    HANDLER,
    kill_process,
    processes_with_token,
    start_time,
    token_of,
)

# A stand-in for an orphaned qemu: a real process carrying the token in its environment.
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def sleeper() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    token = f"run-{os.getpid()}-{id(object())}:abc123"
    proc = subprocess.Popen(SLEEPER, env={**os.environ, ENV_TOKEN: token})
    try:
        # Under load /proc/<pid>/environ can read empty for a moment after the spawn (seen in
        # CI once): wait until the token shows there, so the tests see a settled process.
        deadline = time.monotonic() + 10
        while token_of(proc.pid) != token:
            assert time.monotonic() < deadline, f"token never visible in /proc/{proc.pid}/environ"
            time.sleep(0.01)
        yield proc, token
    finally:
        proc.kill()
        proc.wait()


def left(**kw: object) -> LeftResource:
    base: dict[str, object] = {"run_id": "r", "rid": "b#1", "build": "b", "platform": "qemu",
                               "kind": "process"}  # fmt: skip
    return LeftResource(**{**base, **kw})  # type: ignore[arg-type]


def test_start_time_names_a_live_process_only() -> None:
    assert start_time(os.getpid())
    assert start_time(2**22 + 12345) is None


def test_a_recorded_process_is_killed_when_its_start_time_matches(sleeper) -> None:
    proc, token = sleeper
    started = start_time(proc.pid)
    res = left(name=token, id=str(proc.pid), attrs={"start_time": started}, state="created")
    with HANDLER.open({}, None) as remover:
        assert remover.remove(res) is True
    assert proc.wait(timeout=10) == -9


def test_a_reused_pid_is_left_alone(sleeper) -> None:
    """Another process with the recorded pid (its start time differs) is not ours."""
    proc, _ = sleeper
    res = left(name="", id=str(proc.pid), attrs={"start_time": "1"}, state="created")
    with HANDLER.open({}, None) as remover:
        assert remover.remove(res) is False
    assert proc.poll() is None
    assert kill_process(proc.pid, "1") is False


def test_a_process_whose_pid_was_never_recorded_is_found_by_its_token(sleeper) -> None:
    proc, token = sleeper
    assert (proc.pid, token) in list(processes_with_token(token))
    with HANDLER.open({}, None) as remover:
        assert remover.remove(left(name=token, state="creating")) is True
        assert proc.wait(timeout=10) == -9
        assert remover.remove(left(name=token, state="creating")) is False  # gone: reported so


def test_sweep_finds_token_carrying_processes_with_their_run(sleeper) -> None:
    proc, token = sleeper
    with HANDLER.open({}, None) as remover:
        found = [r for r in remover.sweep() if r.id == str(proc.pid)]
    assert len(found) == 1
    assert found[0].run_id == token.rpartition(":")[0] and found[0].name == token


def test_an_unknown_kind_is_an_error() -> None:
    from builder.errors import PybuildError

    with HANDLER.open({}, None) as remover, pytest.raises(PybuildError):
        remover.remove(left(kind="disk"))
