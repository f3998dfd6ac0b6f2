"""examples/openstack/template.json prepares and plans without errors (no cloud needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.engine import RunOptions, load_template, prepare
from tests.unit.openstack.fakes import FakeOpenStack

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "openstack" / "template.json"


def test_example_prepares_with_a_cloud(
    cloud: FakeOpenStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLE.parent)
    prepared = prepare(
        load_template(str(EXAMPLE), {"cloud": "mycloud"}), RunOptions(record_resources=False)
    )
    assert not prepared.errors, prepared.errors
    (build,) = prepared.builds
    cfg = build.builder.config
    assert cfg.cloud == "mycloud" and cfg.networks == [] and cfg.floating_network() == ""
    assert cfg.wants_temporary_key_pair() and cfg.image_metadata()["os_distro"] == "debian"
    plan = dict(build.builder.plan_steps())
    assert [c.ref for c in plan["StepKeyPair"]] == ["openstack.keypair"]
    assert [c.ref for c in plan["StepRunSourceServer"]] == ["openstack.server"]
    assert [c.ref for c in plan["stepCreateImage"]] == ["openstack.image"]
    assert cloud.calls == []  # validate and plan never reach the cloud
