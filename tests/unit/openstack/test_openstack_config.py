"""openstack config: Packer 1.6.6's defaults, its checks at their template paths, OS_* env."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder.engine import RunOptions, load_template, prepare
from builder.openstack.config import OpenStackConfig
from builder.openstack.driver import OpenStackSettings
from tests.unit.openstack.conftest import base_config


def config(**over: Any) -> OpenStackConfig:
    data = base_config(**over)
    data.pop("type")
    return OpenStackConfig.model_validate(data)


def errors(tmp_path: Path, **over: Any) -> list[str]:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [base_config(**over)]}, indent=2))
    prepared = prepare(load_template(str(path)), RunOptions(record_resources=False))
    return [str(e) for e in prepared.errors.values()] if prepared.errors else []


def test_defaults_are_packers() -> None:
    cfg = config()
    assert cfg.server_name() == "pybuild-unit"  # instance_name defaults to image_name
    assert cfg.image_metadata() == {"image_type": "image"}
    assert cfg.external_format() == "qcow2"
    assert cfg.floating_network() == ""
    assert config(floating_ip_pool="pool").floating_network() == "pool"
    assert config(availability_zone="az1").volume_zone() == "az1"
    assert config(instance_name="srv").server_name() == "srv"
    assert config(metadata={"image_type": "snapshot"}).image_metadata() == {
        "image_type": "snapshot"
    }
    assert config(image_visibility="PUBLIC").visibility() == "public"
    assert config(communicator="ssh", ssh_username="u").wants_temporary_key_pair()
    assert not config(
        communicator="ssh", ssh_username="u", ssh_password="p"
    ).wants_temporary_key_pair()


def test_secrets_are_marked() -> None:
    paths = set(OpenStackConfig.secret_paths())
    for name in ("password", "token", "key", "application_credential_secret"):
        assert (name,) in paths


def test_values_coerce_like_packer() -> None:
    cfg = config(image_min_disk="3", use_blockstorage_volume="true", image_tags="a,b")
    assert (cfg.image_min_disk, cfg.use_blockstorage_volume, cfg.image_tags) == (
        3,
        True,
        ["a", "b"],
    )


@pytest.mark.parametrize(
    ("over", "path", "text"),
    [
        ({"image_name": ""}, "image_name", "An image_name must be specified"),
        ({"flavor": ""}, "flavor", "A flavor must be specified"),
        ({"image_visibility": "secret"}, "image_visibility", "Unknown visibility value secret"),
        ({"image_min_disk": -1}, "image_min_disk", "min disk size must be greater"),
        ({"ssh_ip_version": "5"}, "ssh_ip_version", "SSH IP version must be either 4 or 6"),
        ({"endpoint_type": "private"}, "endpoint_type", "Invalid endpoint type provided"),
        ({"source_image": ""}, "source_image", "Either a source_image, a source_image_name"),
        ({"source_image_name": "x"}, "source_image_name", "Only one of the options"),
        (
            {"image_disk_format": "raw"},
            "image_disk_format",
            "use_blockstorage_volume must be true if image_disk_format is specified.",
        ),
        ({"instance_metadata": {"k": "v" * 256}}, "instance_metadata", "value too long"),
        ({"identity_endpoint": ""}, "identity_endpoint", "Missing input for argument [auth_url]"),
        ({"cacert": "/nonexistent/ca.pem"}, "cacert", "no such file or directory"),
        ({"flavr": "x"}, "flavr", "unknown option 'flavr'; did you mean 'flavor'?"),
        (
            {"communicator": "ssh", "ssh_username": "u", "ssh_keypair_name": "k"},
            "ssh_keypair_name",
            "ssh_private_key_file must be provided or ssh_agent_auth enabled",
        ),
    ],
)
def test_errors_name_the_option(tmp_path: Path, over: dict[str, Any], path: str, text: str) -> None:
    found = errors(tmp_path, **over)
    assert found, "expected an error"
    joined = "\n".join(found)
    assert text in joined
    assert f"builders[0].{path}: {text}" in joined or f"builders[0].{path}" in joined
    assert "t.json:" in joined  # located in the file


def test_environment_fills_empty_options(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "OS_AUTH_URL": "http://127.0.0.1:5000/v3",
        "OS_USERNAME": "demo",
        "OS_PASSWORD": "pw",
        "OS_PROJECT_NAME": "demo",
        "OS_TENANT_NAME": "ignored-older-name",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_REGION_NAME": "RegionOne",
        "SDK_REGION": "SdkRegion",
    }
    settings = OpenStackSettings(username="admin").with_environment(env)
    assert settings.username == "admin"  # the template wins
    assert (settings.identity_endpoint, settings.password) == ("http://127.0.0.1:5000/v3", "pw")
    assert settings.tenant_name == "demo"  # OS_PROJECT_NAME over OS_TENANT_NAME
    assert settings.user_domain_name == "Default"
    assert settings.region == "SdkRegion"  # Packer reads SDK_REGION first


def test_with_a_cloud_only_region_and_tls_files_come_from_the_environment() -> None:
    env = {"OS_CLOUD": "local", "OS_PASSWORD": "pw", "OS_REGION_NAME": "R2"}
    settings = OpenStackSettings().with_environment(env)
    assert (settings.cloud, settings.password, settings.region) == ("local", "", "R2")


def test_config_with_only_os_environment_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_AUTH_URL", "http://127.0.0.1:5000/v3")
    assert errors(tmp_path, identity_endpoint=None, username=None, password=None) == []
    monkeypatch.delenv("OS_AUTH_URL")
    monkeypatch.setenv("OS_CLOUD", "local")
    assert errors(tmp_path, identity_endpoint=None) == []


def test_settings_record_no_secret() -> None:
    from builder.common.drivers import public_settings

    recorded = public_settings(config(token="tok", key="").settings())
    assert "password" not in recorded and "token" not in recorded
    assert recorded["identity_endpoint"] == "http://127.0.0.1:5000/v3"
    again = OpenStackSettings.from_record(recorded, {"OS_PASSWORD": "from-env"})
    assert again.password == "from-env" and again.username == "admin"


def test_deprecated_options_warn(tmp_path: Path) -> None:
    from builder.components import PluginOptions
    from builder.openstack import Builder
    from builder.template.funcs import RenderContext

    b = Builder(config(use_floating_ip=True), PluginOptions("b", "openstack", RenderContext()))
    assert any("use_floating_ip is deprecated" in w for w in b.prepare())
