"""examples/everywhere/template.json: five platforms in one template prepare together, with
the provisioners and post-processors each build gets from only/except (no service reached)."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.engine import RunOptions, load_template, prepare

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "everywhere" / "template.json"


def test_the_five_builds_prepare_with_their_own_provisioners_and_post_processors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.chdir(tmp_path)
    variables = {
        "vcenter_server": "127.0.0.1:8989",
        "vcenter_username": "u",
        "vcenter_password": "vc-secret",
        "vsphere_guest_ip": "127.0.0.1",
        "iso_url": str(tmp_path / "test.iso"),
        "iso_checksum": "none",
        "ssh_password": "ssh-secret",
    }
    loaded = load_template(str(EXAMPLE), variables)
    prepared = prepare(loaded, RunOptions(record_resources=False))
    assert not prepared.errors, prepared.all_errors
    builds = {b.name: b for b in prepared.builds}
    assert sorted(builds) == ["amazon-ebs", "docker", "openstack", "qemu", "vsphere-clone"]

    def provisioners(name: str) -> list[str]:
        return [" ".join(p.spec.config.get("scripts", []) or ["inline"]).rsplit("/", 1)[-1]
                for p in builds[name].provisioners]  # fmt: skip

    assert provisioners("vsphere-clone") == [
        "install-cloud-init.sh", "install-vmware-tools.sh", "inline"
    ]  # fmt: skip
    assert provisioners("docker") == ["install-cloud-init.sh", "inline"]
    # the test ISO's live system: the guest agent script skips itself, the disk is written
    assert provisioners("qemu") == ["install-qemu-guest-agent.sh", "inline"]

    def chain_types(name: str) -> list[list[str]]:
        return [[p.spec.type for p in chain] for chain in builds[name].chains]

    assert chain_types("docker") == [["docker-tag", "manifest"]]
    assert chain_types("qemu") == [["compress", "checksum"], ["amazon-import", "manifest"]]
    assert chain_types("openstack") == [["manifest"]]
    assert loaded.redactor("vc-secret ssh-secret") == "<sensitive> <sensitive>"
