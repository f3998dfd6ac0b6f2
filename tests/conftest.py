"""Shared test set-up: isolation from the developer's environment, template helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ISOLATED_PREFIXES = ("AWS_", "OS_", "PYBUILD_", "PACKER_", "DOCKER_", "VSPHERE_", "GOVC_")
ISOLATED_NAMES = ("SSH_AUTH_SOCK", "NO_COLOR", "CHECKPOINT_DISABLE", "XDG_STATE_HOME")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's ~/.aws, ~/.ssh or PYBUILD_* settings."""
    for key in list(os.environ):
        if key.startswith(ISOLATED_PREFIXES) or key in ISOLATED_NAMES:
            monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))


def write_template(directory: Path, data: Any, name: str = "t.json") -> Path:
    """Write a template (a dict, or JSON text as it is) and return its path."""
    path = directory / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


@pytest.fixture
def template(tmp_path: Path):
    """`template(dict_or_text, name=...)` writes a template into tmp_path."""

    def make(data: Any, name: str = "t.json") -> Path:
        return write_template(tmp_path, data, name)

    return make


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m builder ARGS` as a user would, capturing output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "builder", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


@pytest.fixture
def cli(tmp_path: Path):
    """`cli("build", "t.json")` runs pybuild in tmp_path."""

    def call(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        kw.setdefault("cwd", tmp_path)
        return run_cli(*args, **kw)

    return call


@pytest.fixture
def plugins() -> Iterator[Callable[[str, str, type[Any]], None]]:
    """`plugins("builder", "docker", FakeBuilder)`: a registry override undone after the test."""
    from contextlib import ExitStack

    from builder.plugins import registry

    with ExitStack() as stack:

        def override(kind: str, name: str, cls: type[Any]) -> None:
            stack.enter_context(registry.override(kind, name, cls))

        yield override
