"""SIGKILL `pybuild build` inside amazon-import, then `pybuild cleanup`: S3 and EC2 are as before.

The build runs as `python -m builder build` (the file builder's disk, then amazon-import)
against moto's server with the suite's VM Import extension, with
`PYBUILD_FAULT=kill@POINT`: mid-upload (parts of a multipart upload in S3), after the
upload (the object in S3, its id not yet recorded), after ImportImage (a task running, its
id not yet recorded: found by its run id tag), after the import finished (an AMI whose id
was never recorded: found through the task). The `aws` fixture checks that no object,
unfinished multipart upload, active task, AMI or snapshot is left.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_template
from tests.integration.amazon import moto_import
from tests.integration.amazon.conftest import MotoServer
from tests.integration.amazon.test_amazon_import import REGION, bucket, importer, raw_disk

__all__ = ["bucket"]  # the fixture, used here by name

FAST = {"AWS_POLL_DELAY_SECONDS": "0.05", "AWS_MAX_ATTEMPTS": "200"}


@pytest.mark.parametrize(
    "fault",
    [
        "amazon-import:upload",
        "created:amazon.s3_object",
        "created:amazon.import_task",
        "created:amazon.image",
    ],
)
def test_a_killed_import_leaves_nothing_after_cleanup(
    aws: MotoServer, bucket: str, tmp_path: Path, fault: str
) -> None:
    disk = raw_disk(tmp_path / "disk.raw", size=24 * 1024 * 1024)  # three 8 MiB parts
    (tmp_path / "out").mkdir()
    template = write_template(
        tmp_path,
        {
            "builders": [{"type": "file", "source": str(disk), "target": str(tmp_path / "out" / "disk.raw")}],
            "post-processors": [importer(bucket, ami_name="killed-{{timestamp}}")],
        },
    )  # fmt: skip
    env = {"PYBUILD_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1", **FAST}
    proc = run_cli(
        "build", str(template), cwd=tmp_path, env={**env, "PYBUILD_FAULT": f"kill@{fault}"}
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    s3 = aws.client("s3", region=REGION)
    left = s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) + len(
        s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    )
    if fault != "created:amazon.image":
        assert left >= 1, "the kill came before anything was in S3"
    cleaned = run_cli("cleanup", f"-state-dir={tmp_path / 'state'}", cwd=tmp_path, env=env)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert [t.status for t in moto_import.tasks() if t.status == "active"] == []
