"""Where the credentials come from, and what happens when EC2 throttles: against moto's server.

With `enforce_iam()` moto checks every request's signature and key against its IAM, so a
build only passes when the credentials it was meant to use reached the endpoint (a role's
session credentials with their token, a profile's keys, ...).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.integration.amazon.conftest import (
    ApiRecorder,
    MotoServer,
    ThrottlingProxy,
    ebs,
    go,
)

ACCOUNT = "123456789012"


def user_allowed(aws: MotoServer, actions: list[str]) -> tuple[str, str, str]:
    """An IAM user whose only policy allows `actions`; returns its key, secret and ARN."""
    iam, name = aws.client("iam"), f"ci-{secrets.token_hex(4)}"
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"], f"arn:aws:iam::{ACCOUNT}:user/{name}"


def builder_role(aws: MotoServer, principal: str) -> str:
    """A role allowed ec2:* that `principal` may assume; returns its ARN."""
    iam, name = aws.client("iam"), f"builder-{secrets.token_hex(4)}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="build", PolicyDocument=json.dumps(allow))
    return str(role["Arn"])


def use_keys(monkeypatch: pytest.MonkeyPatch, key: str = "", secret: str = "") -> None:
    """The AWS_* keys the build sees (none at all when empty)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    if key:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)


def test_assume_role_uses_the_roles_credentials(
    aws: MotoServer, api: ApiRecorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, secret, user = user_allowed(aws, ["sts:AssumeRole"])  # no EC2 for the user itself
    role_arn = builder_role(aws, user)
    use_keys(monkeypatch, key, secret)
    with aws.enforce_iam():
        denied, _ = go(tmp_path, ebs(skip_create_ami=True))
        result, _ = go(
            tmp_path,
            ebs(assume_role={"role_arn": role_arn, "session_name": "pybuild-it"}),
        )
    assert "UnauthorizedOperation" in str(denied.error) or "AccessDenied" in str(denied.error)
    assert result.error is None, result.error
    (assume,) = api.params("AssumeRole")
    assert assume == {"RoleArn": role_arn, "RoleSessionName": "pybuild-it"}
    result.artifacts[0].destroy()


@pytest.mark.parametrize("where", ["options", "environment"])
def test_session_token_reaches_the_endpoint(
    where: str, aws: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, secret, user = user_allowed(aws, ["sts:AssumeRole"])
    role_arn = builder_role(aws, user)
    sts = aws.client("sts", key=key, secret=secret)
    with aws.enforce_iam():
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="ci")["Credentials"]
    temporary = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    variables = dict(zip(("key", "secret", "token"), temporary, strict=True))
    if where == "options":
        use_keys(monkeypatch)
        keys = {
            "access_key": "{{ user `key` }}",
            "secret_key": "{{ user `secret` }}",
            "token": "{{ user `token` }}",
        }
    else:
        use_keys(monkeypatch, temporary[0], temporary[1])
        monkeypatch.setenv("AWS_SESSION_TOKEN", temporary[2])
        keys = {}
    sensitive = {"variables": variables, "sensitive-variables": ["secret", "token"]}
    with aws.enforce_iam():
        result, sink = go(tmp_path, ebs(skip_create_ami=True, **keys), **sensitive)
        if where == "options":
            no_token = {k: v for k, v in keys.items() if k != "token"}
            refused, _ = go(tmp_path, ebs(skip_create_ami=True, **no_token), **sensitive)
    assert result.error is None, result.error
    if where == "options":
        assert str(refused.error) == (
            "error validating regions: DescribeRegions: AuthFailure: "
            "AWS was not able to validate the provided access credentials"
        )
    assert not any(temporary[1] in t or temporary[2] in t for t in sink.texts())


@pytest.mark.parametrize("how", ["profile", "AWS_PROFILE", "shared_credentials_file"])
def test_profile_from_a_shared_credentials_file(
    how: str, aws: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, secret, _ = user_allowed(aws, ["ec2:*"])
    text = f"[ci]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
    home = Path.home()
    assert home == tmp_path / "home"  # the test's own HOME (tests/conftest.py)
    options: dict[str, Any] = {"skip_create_ami": True}
    if how == "shared_credentials_file":
        other = tmp_path / "other-credentials"
        other.write_text(text)
        options.update(profile="ci", shared_credentials_file=str(other))
    else:
        (home / ".aws").mkdir()
        (home / ".aws" / "credentials").write_text(text)
        if how == "AWS_PROFILE":
            monkeypatch.setenv("AWS_PROFILE", "ci")
        else:
            options["profile"] = "ci"
    use_keys(monkeypatch)
    with aws.enforce_iam():
        result, _ = go(tmp_path, ebs(**options))
        missing, _ = go(tmp_path, ebs(**{**options, "profile": "nobody"}))
    monkeypatch.delenv("AWS_PROFILE", raising=False)  # before the leak check's own clients
    assert result.error is None, result.error
    assert "The config profile (nobody) could not be found" in str(missing.error)


def test_no_credentials_at_all(
    aws: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_keys(monkeypatch)
    result, _ = go(tmp_path, ebs())
    assert "No valid credential sources found for AWS Builder." in str(result.error)


# adaptive mode also slows the client down after a throttle, so it is throttled late and once
THROTTLES = {
    "standard": {"DescribeImages": 2, "RunInstances": 1, "CreateImage": 1},
    "adaptive": {"CreateTags": 1},
}


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_throttled_calls_are_retried(
    mode: str,
    aws: MotoServer,
    api: ApiRecorder,
    throttling: ThrottlingProxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", throttling.url)
    if mode == "adaptive":
        monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    # Packer's polling variables: they must not cut botocore's retries down to two tries
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AWS_POLL_DELAY_SECONDS", "0.2")
    throttling.throttle.update(THROTTLES[mode])
    result, _ = go(tmp_path, ebs(tags={"k": "v"}))
    assert result.error is None, result.error
    assert throttling.throttled == THROTTLES[mode]
    calls = api.counts()
    for action, refused in throttling.throttled.items():
        assert api.sends[action] == calls[action] + refused, action
    assert {c["mode"] for c in api.retry_configs} == {mode}
    assert {c["total_max_attempts"] for c in api.retry_configs} == {4}
    result.artifacts[0].destroy()


def test_max_retries_bounds_the_retries(
    aws: MotoServer,
    api: ApiRecorder,
    throttling: ThrottlingProxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", throttling.url)
    throttling.throttle["DescribeRegions"] = 3
    result, _ = go(tmp_path, ebs(max_retries=2))
    assert str(result.error) == (
        "error validating regions: DescribeRegions: RequestLimitExceeded: Request limit exceeded."
    )
    assert api.sends["DescribeRegions"] == 3 and throttling.passed["DescribeRegions"] == 0
    assert "RunInstances" not in api.operations()
