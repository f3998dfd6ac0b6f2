"""`-on-error=ask`, answer `r`: the runner cleans the failed step up before it runs again,
so a retried step leaks nothing at the endpoint (moto's server behind a throttling proxy
that fails the step's wait once, after its create call)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from builder.ledger import run_files
from builder.multistep import CancelToken, OnError
from tests.integration.amazon.conftest import (
    ApiRecorder,
    CancellingSink,
    MotoServer,
    ThrottlingProxy,
    ebs,
    go,
)

# (step, what it says once its create call returned, the wait's action, the create call)
CASES = [
    ("StepSecurityGroup", "Creating temporary security group", "DescribeSecurityGroups",
     "CreateSecurityGroup"),
    ("StepRunSourceInstance", "Waiting for instance (", "DescribeInstances", "RunInstances"),
    ("StepCreateAMI", "Waiting for AMI to become ready...", "DescribeImages", "CreateImage"),
    ("StepAMIRegionCopy", "Waiting for all copies to complete...", "DescribeImages",
     "CopyImage"),
]  # fmt: skip


@pytest.mark.parametrize(("step", "trigger", "action", "create"), CASES)
def test_ask_retry_cleans_the_failed_step_up_first(
    step: str,
    trigger: str,
    action: str,
    create: str,
    aws: MotoServer,
    api: ApiRecorder,
    throttling: ThrottlingProxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", throttling.url)
    armed: list[str] = []

    def fail_the_wait_once() -> None:
        if not armed:
            armed.append(action)
            throttling.throttle[action] = 2  # both tries of the next call (max_retries 1)

    sink = CancellingSink(CancelToken(), trigger, fail_the_wait_once, delay=None)
    sink.answers = ["r"]
    name = f"pybuild-retry-{secrets.token_hex(4)}"
    builder = ebs(
        ami_name=name,
        max_retries=1,
        ami_regions=["us-west-2"] if step == "StepAMIRegionCopy" else [],
        aws_polling={"delay_seconds": 0.05, "max_attempts": 100},
    )
    state = tmp_path / "state"
    result, _ = go(
        tmp_path,
        builder,
        sink=sink,
        run_options={"on_error": OnError.ASK, "state_dir": str(state)},
    )
    assert result.error is None, result.error
    (prompt,) = sink.prompts
    assert f"Step {step!r} failed" in prompt and "RequestLimitExceeded" in prompt
    assert api.counts()[create] == 2  # the first attempt's resource was removed, not kept
    assert run_files(state) == []  # the ledger: every record released or kept
    (artifact,) = result.artifacts
    for region, ami in artifact.amis.items():
        named = aws.client(region=region).describe_images(
            Owners=["self"], Filters=[{"Name": "name", "Values": [name]}]
        )["Images"]
        assert [i["ImageId"] for i in named] == [ami], region  # no second AMI
    artifact.destroy()  # then the `aws` fixture checks nothing else is left
