"""amazon-ebs option validation: Packer's messages, option-relative paths, all errors at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from builder.amazon.common.config import check_ami_name, valid_kms_key
from builder.amazon.common.polling import Polling
from builder.amazon.ebs.builder import Builder
from builder.components import PluginOptions
from builder.engine import RunOptions, load_template, prepare
from builder.errors import ConfigErrors
from builder.template.funcs import RenderContext
from tests.conftest import write_template
from tests.unit.amazon.conftest import base_config


def errors_of(**overrides: Any) -> list[tuple[str, str]]:
    """(path, message) of every prepare error for base_config(**overrides)."""
    raw = base_config(**overrides)
    raw = {k: v for k, v in raw.items() if v is not None and k != "type"}
    cfg = Builder.Config.model_validate(raw)
    builder = Builder(cfg, PluginOptions("amazon-ebs", "amazon-ebs", RenderContext()))
    try:
        builder.prepare()
    except ConfigErrors as exc:
        return [(e.location.path, e.message) for e in exc.errors]
    return []


def test_minimal_config_is_valid() -> None:
    assert errors_of() == []


def test_required_options_are_all_reported() -> None:
    errs = errors_of(ami_name=None, source_ami=None, instance_type=None)
    assert ("ami_name", "ami_name must be specified") in errs
    assert ("source_ami", "A source_ami or source_ami_filter must be specified") in errs
    assert (
        "instance_type",
        "either instance_type or spot_instance_types must be specified",
    ) in errs


def test_source_ami_filter_must_declare_an_owner() -> None:
    errs = errors_of(source_ami=None, source_ami_filter={"filters": {"name": "debian-*"}})
    assert errs == [
        (
            "source_ami_filter.owners",
            "For security reasons, your source AMI filter must declare an owner.",
        )
    ]
    assert (
        errors_of(
            source_ami=None, source_ami_filter={"filters": {"name": "d*"}, "owners": ["self"]}
        )
        == []
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ab", "between 3 and 128"),
        ("x" * 129, "between 3 and 128"),
        ("bad:name", "AMIName should only contain"),
        ("ok {{ .BuildRegion }} but#bad", "AMIName should only contain"),
    ],
)
def test_ami_name_rules(name: str, problem: str) -> None:
    assert any(p == "ami_name" and problem in m for p, m in errors_of(ami_name=name))


def test_templated_ami_name_is_checked_as_far_as_known() -> None:
    assert errors_of(ami_name="{{ .SourceAMIName }}") == []
    assert check_ami_name("a-{{ .BuildRegion }}", partial=True) == []
    assert check_ami_name("ok (1) [x] a/b-c 'd' @e_f.g") == []


def test_user_data_and_user_data_file(tmp_path: Path) -> None:
    errs = errors_of(user_data="x", user_data_file=str(tmp_path / "ud"))
    assert errs == [("user_data_file", "Only one of user_data or user_data_file can be specified.")]
    errs = errors_of(user_data_file=str(tmp_path / "missing"))
    assert errs == [("user_data_file", f"user_data_file not found: {tmp_path / 'missing'}")]


def test_access_key_needs_secret_key() -> None:
    assert errors_of(access_key="AKIA") == [
        ("access_key", "`access_key` and `secret_key` must both be either set or not set.")
    ]


def test_region_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [p for p, _ in errors_of(region="")] == ["region"]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert errors_of(region="") == []


def test_encryption_options() -> None:
    errs = errors_of(kms_key_id="alias/mine")
    assert (
        "encrypt_boot",
        "If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must also be true.",
    ) in errs
    errs = errors_of(encrypt_boot=True, kms_key_id="not a key")
    assert ("kms_key_id", '"not a key" is not a valid KMS Key Id.') in errs
    errs = errors_of(encrypt_boot=True, region_kms_key_ids={"eu-west-1": "alias/k"})
    assert (
        "region_kms_key_ids.eu-west-1",
        "Region eu-west-1 is in region_kms_key_ids but not in ami_regions",
    ) in errs
    errs = errors_of(encrypt_boot=True, ami_users=["123456789012"])
    assert ("ami_users", "Cannot share AMI encrypted with default KMS key") in errs
    assert valid_kms_key("arn:aws:kms:us-east-1:123456789012:key/12ab34cd-56ef")
    assert valid_kms_key("mrk-1234abcd")


@pytest.mark.parametrize(
    ("overrides", "path", "text"),
    [
        ({"shutdown_behavior": "halt"}, "shutdown_behavior", "only accepts 'stop' or 'terminate'"),
        ({"ssh_interface": "ipv6"}, "ssh_interface", "Unknown interface type: ipv6"),
        ({"ssh_interface": "session_manager"}, "ssh_interface", "not supported by pybuild"),
        (
            {"enable_t2_unlimited": True, "instance_type": "m5.large"},
            "enable_t2_unlimited",
            "non-T2",
        ),
        ({"tenancy": "shared"}, "tenancy", "Unknown tenancy type shared"),
        (
            {"security_group_id": "sg-1", "security_group_ids": ["sg-2"]},
            "security_group_id",
            "Only one of",
        ),
        (
            {"temporary_security_group_source_cidrs": ["10.0.0.0/33"]},
            "temporary_security_group_source_cidrs[0]",
            "invalid CIDR",
        ),
        ({"spot_price": "auto"}, "spot_price", "not supported by pybuild"),
        ({"vault_aws_engine": {"name": "r"}}, "vault_aws_engine", "not supported by pybuild"),
        (
            {"launch_block_device_mappings": [{"volume_size": 8}]},
            "launch_block_device_mappings[0].device_name",
            "`device_name` must be specified",
        ),
        (
            {
                "ami_block_device_mappings": [
                    {"device_name": "/dev/sdb", "kms_key_id": "k", "encrypted": False}
                ]
            },
            "ami_block_device_mappings[0].kms_key_id",
            "encrypted: true",
        ),
        ({"tag": [{"key": "", "value": "v"}]}, "tag[0].key", "Key cannot be empty"),
        (
            {"aws_polling": {"delay_seconds": -1}},
            "aws_polling.delay_seconds",
            "must not be negative",
        ),
    ],
)
def test_packer_checks(overrides: dict[str, Any], path: str, text: str) -> None:
    errs = errors_of(**overrides)
    assert any(p == path and text in m for p, m in errs), errs


def test_ssh_options_checked_with_a_temporary_key_allowed() -> None:
    assert [p for p, _ in errors_of(communicator="ssh")] == ["ssh_username"]
    assert errors_of(communicator="ssh", ssh_username="admin") == []
    errs = errors_of(communicator="ssh", ssh_username="admin", temporary_key_pair_type="ecdsa")
    assert (
        "temporary_key_pair_type",
        "temporary_key_pair_type requires either rsa or ed25519 as its value",
    ) in errs
    errs = errors_of(communicator="ssh", ssh_username="a", ssh_keypair_name="mine")
    assert any(p == "ssh_keypair_name" for p, _ in errs)


def test_tag_blocks_merge_into_maps() -> None:
    raw = {
        k: v
        for k, v in base_config(tag=[{"key": "a", "value": "1"}], tags={"b": "2"}).items()
        if k != "type"
    }
    cfg = Builder.Config.model_validate(raw)
    Builder(cfg, PluginOptions("x", "amazon-ebs", RenderContext())).prepare()
    assert cfg.tags == {"b": "2", "a": "1"}


def test_temporary_key_pair_only_without_other_credentials() -> None:
    def key_name(**kw: Any) -> str:
        raw = {
            k: v
            for k, v in base_config(communicator="ssh", ssh_username="u", **kw).items()
            if k != "type"
        }
        return Builder(
            Builder.Config.model_validate(raw), PluginOptions("x", "t", RenderContext())
        ).temporary_key_name()

    assert key_name().startswith("packer_")
    assert key_name(ssh_password="pw") == ""
    assert key_name(ssh_password="pw", temporary_key_pair_name="mine") == "mine"


def test_engine_locates_errors_and_masks_credentials(tmp_path: Path, plugins: Any) -> None:
    plugins("builder", "amazon-ebs", Builder)
    cfg = base_config(access_key="AKIAEXAMPLE", secret_key="s3cr3t-value", instnace_type="x")
    path = write_template(tmp_path, {"builders": [cfg]})
    loaded = load_template(str(path))
    prepared = prepare(loaded, RunOptions())
    (errs,) = prepared.errors.values()
    assert "builders[0].instnace_type: unknown option 'instnace_type'" in str(errs)
    assert "did you mean 'instance_type'" in str(errs)
    good = write_template(
        tmp_path,
        {"builders": [base_config(access_key="AKIAEXAMPLE", secret_key="s3cr3t-value")]},
        "g.json",
    )
    loaded = load_template(str(good))
    prepare(loaded, RunOptions())
    assert {"AKIAEXAMPLE", "s3cr3t-value"} <= set(loaded.redactor.secrets)


def test_polling_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from builder.amazon.common.access import PollingConfig

    assert Polling.from_config(None).settings("instance_running") == (15, 40)
    assert Polling.from_config(PollingConfig(delay_seconds=2)).settings("image_available") == (
        2,
        40,
    )
    monkeypatch.setenv("AWS_POLL_DELAY_SECONDS", "3")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")
    assert Polling.from_config(PollingConfig()).settings("image_available") == (3, 7)
    assert Polling.from_config(PollingConfig(max_attempts=9)).settings("image_available") == (15, 9)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    monkeypatch.delenv("AWS_POLL_DELAY_SECONDS")
    monkeypatch.setenv("AWS_TIMEOUT_SECONDS", "60")
    assert Polling.from_config(None).settings("image_available") == (2, 30)


def test_default_polling_backs_off_within_the_sdk_budget() -> None:
    pauses = Polling().sleeps("instance_running")
    assert pauses[:6] == [1, 2, 4, 8, 15, 15]
    assert sum(pauses) == 15 * 40
    assert Polling(delay=3, max_attempts=4).sleeps("instance_running") == [3, 3, 3]
    assert Polling(max_attempts=3).sleeps("instance_running") == [1, 2]


def test_validate_imports_no_boto3(tmp_path: Path) -> None:
    path = write_template(tmp_path, {"builders": [base_config()]})
    code = (
        "import sys\n"
        "from builder.plugins import registry\n"
        "from builder.amazon.ebs import Builder\n"
        "registry.register('builder', 'amazon-ebs', Builder)\n"
        "from builder.cli import main\n"
        f"rc = main(['validate', {str(path)!r}])\n"
        "print(rc, [m for m in ('boto3', 'botocore') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr


@pytest.mark.parametrize("name", ["template.json", "copy-regions.json"])
def test_examples_prepare(name: str, monkeypatch: pytest.MonkeyPatch, plugins: Any) -> None:
    plugins("builder", "amazon-ebs", Builder)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    root = Path(__file__).resolve().parents[3]
    loaded = load_template(str(root / "examples" / "aws" / name))
    prepared = prepare(loaded, RunOptions())
    assert prepared.errors == {}
    (build,) = prepared.builds
    assert build.builder.config.source_ami_filter.owners == ["136693071363"]
    assert "example-secret" in loaded.redactor.secrets


def test_retries_are_always_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_MAX_ATTEMPTS is Packer's polling setting: botocore must never read it as retries."""
    from builder.amazon.common.access import AccessConfig
    from builder.amazon.common.driver import DEFAULT_RETRIES

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert AccessConfig(region="r").session_settings().retries() == DEFAULT_RETRIES == 3
    assert AccessConfig(region="r", max_retries=7).session_settings().retries() == 7
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    assert AccessConfig(region="r").session_settings().retry_mode == "adaptive"
    assert errors_of() == []
    monkeypatch.setenv("AWS_RETRY_MODE", "fast")
    assert errors_of() == [
        ("max_retries", "AWS_RETRY_MODE must be one of standard, adaptive, legacy, not 'fast'")
    ]
