"""openstack unit fixtures: the builder registered, every openstack driver FakeOpenStack's.

FakeOpenStack is a fake below the SDK boundary (of our OpenStackDriver Protocol); the
waits poll every millisecond.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.engine import BuildResult, RunOptions, load_template, prepare, run
from builder.events import Say
from builder.ledger import Resource
from builder.openstack import run as os_run
from builder.openstack.driver import OPENSTACK
from builder.openstack.steps import step_source_image_info
from builder.testing import RecordingSink
from tests.unit.openstack.fakes import PASSWORD, SOURCE_ID, FakeOpenStack

FAST = os_run.Polling(interval=0.001, timeout=2.0)


def base_config(**overrides: Any) -> dict[str, Any]:
    """A valid openstack block: explicit credentials, communicator none."""
    cfg: dict[str, Any] = {
        "type": "openstack",
        "identity_endpoint": "http://127.0.0.1:5000/v3",
        "username": "admin",
        "password": PASSWORD,
        "tenant_name": "admin",
        "domain_name": "Default",
        "region": "RegionOne",
        "source_image": SOURCE_ID,
        "flavor": "m1.tiny",
        "image_name": "pybuild-unit",
        "communicator": "none",
    }
    cfg.update(overrides)
    return {k: v for k, v in cfg.items() if v is not None}


@pytest.fixture
def cloud(
    plugins: Callable[[str, str, type[Any]], None],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[FakeOpenStack]:
    from builder.openstack import Builder

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os_run, "DEFAULT_POLLING", FAST)
    monkeypatch.setattr(step_source_image_info, "IMPORT_POLLING", FAST)
    plugins("builder", "openstack", Builder)
    fake = FakeOpenStack()
    with OPENSTACK.override(fake.factory):
        yield fake


Records = list[tuple[str, Resource]]


def build(
    tmp_path: Path, options: RunOptions | None = None, **over: Any
) -> tuple[BuildResult, RecordingSink, Records]:
    """Run one openstack build through the engine; (result, sink, ledger records)."""
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [base_config(**over)]}))
    options = options or RunOptions(record_resources=False)
    records: Records = []
    options.ledger.observers.append(lambda rec, build, res: records.append((rec, res)))
    prepared = prepare(load_template(str(path)), options)
    assert not prepared.errors, prepared.errors
    sink = RecordingSink()
    return run(prepared, sink)["openstack"], sink, records


def says(sink: RecordingSink) -> list[str]:
    return sink.texts(Say)
