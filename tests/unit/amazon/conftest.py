"""amazon-ebs unit fixtures: the builder registered, every amazon driver FakeCloud's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.amazon.common.driver import AMAZON
from builder.amazon.ebs.builder import Builder
from builder.engine import BuildResult, RunOptions, load_template, prepare, run
from builder.testing import RecordingSink
from tests.conftest import write_template
from tests.fakes import plugins as fake_plugins
from tests.fakes.amazon import FakeCloud

SOURCE = "ami-0source0"


def base_config(**overrides: Any) -> dict[str, Any]:
    """A valid amazon-ebs block (communicator none, polling fast)."""
    cfg: dict[str, Any] = {
        "type": "amazon-ebs",
        "region": "us-east-1",
        "source_ami": SOURCE,
        "instance_type": "t2.micro",
        "ami_name": "pybuild-test-{{timestamp}}",
        "communicator": "none",
        "aws_polling": {"delay_seconds": 0.001, "max_attempts": 20},
    }
    cfg.update(overrides)
    return cfg


@pytest.fixture
def cloud(plugins: Callable[[str, str, type[Any]], None]) -> Iterator[FakeCloud]:
    """A fake account with one source image; every amazon driver made is FakeCloud's."""
    fake = FakeCloud()
    fake.add_image(
        "us-east-1",
        SOURCE,
        name="debian-12-amd64",
        owner_id="123456789012",
        owner_alias="amazon",
        tags={"os": "debian"},
    )
    plugins("builder", "amazon-ebs", Builder)
    plugins("provisioner", "fake", fake_plugins.FakeProvisioner)
    plugins("post-processor", "fake-pp", fake_plugins.FakePostProcessor)
    fake_plugins.JOURNAL.clear()
    fake_plugins.FakeProvisioner.attempts.clear()
    with AMAZON.override(fake.factory):
        yield fake


def build(
    tmp_path: Path,
    builder: dict[str, Any],
    provisioners: list[dict[str, Any]] | None = None,
    sink: RecordingSink | None = None,
    **opts: Any,
) -> tuple[BuildResult, RecordingSink]:
    """Run one template through the engine; returns the build's result and the events."""
    data: dict[str, Any] = {"builders": [builder]}
    if provisioners:
        data["provisioners"] = provisioners
    path = write_template(tmp_path, data)
    sink = sink if sink is not None else RecordingSink()
    prepared = prepare(load_template(str(path)), RunOptions(**opts))
    assert not prepared.errors, prepared.errors
    results = run(prepared, sink)
    return results[builder.get("name", "amazon-ebs")], sink
