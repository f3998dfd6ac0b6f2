"""amazon-import against moto over HTTP: S3 is moto's, ImportImage and its describe/cancel
are the suite's moto extension (tests/integration/amazon/moto_import.py), the rest moto's.

The input artifact comes from the `file` builder (one disk file), or a qcow2 disk that is
converted with qemu-img. After each test the `aws` fixture checks that nothing is left in
EC2 or S3 (objects and unfinished multipart uploads) that was not there before.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from builder.engine import BuildResult, RunOptions, load_template, prepare, run
from builder.events import Event, Message, Progress
from builder.multistep import CancelToken
from builder.testing import RecordingSink
from tests.conftest import write_template
from tests.integration.amazon import moto_import
from tests.integration.amazon.conftest import MotoServer, destroy_amis

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img missing")

REGION = "us-east-1"


def raw_disk(path: Path, size: int = 6 * 1024 * 1024) -> Path:
    """A raw disk with an MBR signature (what VM Import's raw check wants)."""
    with path.open("wb") as f:
        f.truncate(size)
        f.seek(510)
        f.write(b"\x55\xaa")
        f.seek(4096)
        f.write(secrets.token_bytes(64 * 1024))
    return path


def qcow2_disk(path: Path) -> Path:
    raw = raw_disk(path.with_suffix(".src.raw"))
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(path)], check=True)
    raw.unlink()
    return path


@pytest.fixture
def bucket(aws: MotoServer, plugins: Any) -> Any:
    from postprocessors.amazon_import import AmazonImportPostProcessor

    plugins("post-processor", "amazon-import", AmazonImportPostProcessor)
    name = f"pybuild-import-{secrets.token_hex(4)}"
    s3 = aws.client("s3", region=REGION)
    s3.create_bucket(Bucket=name)
    moto_import.reset()
    yield name
    for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def importer(bucket: str, **options: Any) -> dict[str, Any]:
    pp: dict[str, Any] = {
        "type": "amazon-import",
        "region": REGION,
        "s3_bucket_name": bucket,
        "format": "raw",
        "aws_polling": {"delay_seconds": 0.05, "max_attempts": 50},
    }
    pp.update(options)
    return pp


class CancelOn(RecordingSink):
    """Cancels the run when a message or progress event matches `when`."""

    def __init__(self, when: Any):
        super().__init__()
        self.cancel, self.when, self.fired = CancelToken(), when, False

    def emit(self, event: Event) -> None:
        super().emit(event)
        if not self.fired and self.when(event):
            self.fired = True
            threading.Thread(target=self.cancel.cancel).start()


def go(
    tmp_path: Path, disk: Path, pp: dict[str, Any], sink: RecordingSink | None = None
) -> tuple[BuildResult, RecordingSink]:
    template = {
        "builders": [{"type": "file", "source": str(disk), "target": str(tmp_path / "out" / disk.name)}],
        "post-processors": [pp],
    }  # fmt: skip
    (tmp_path / "out").mkdir(exist_ok=True)
    path = write_template(tmp_path, template)
    sink = sink if sink is not None else RecordingSink()
    cancel = getattr(sink, "cancel", None) or CancelToken()
    prepared = prepare(load_template(str(path)), RunOptions(cancel=cancel))
    assert not prepared.errors, prepared.all_errors
    return run(prepared, sink)["file"], sink


def messages(sink: RecordingSink) -> list[str]:
    return [e.text for e in sink.events if isinstance(e, Message)]


def test_a_raw_disk_becomes_a_named_tagged_shared_ami(
    aws: MotoServer, bucket: str, tmp_path: Path, api: Any
) -> None:
    disk = raw_disk(tmp_path / "disk.raw")
    name = f"imported-{secrets.token_hex(3)}"
    pp = importer(
        bucket,
        s3_key_name="imports/{{build_name}}-{{timestamp}}.raw",
        ami_name=name,
        ami_description="made by amazon-import",
        tags={"Name": name, "Source": "pybuild"},
        ami_users=["123456789012"],
        ami_groups=["all"],
        license_type="BYOL",
    )
    result, sink = go(tmp_path, disk, pp)
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    region, ami = artifact.id.split(":")
    try:
        assert region == REGION and artifact.builder_id == "packer.post-processor.amazon-import"
        ec2 = aws.client(region=REGION)
        (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
        assert image["Name"] == name
        # moto does not keep a description set by ModifyImageAttribute: the request shows it
        assert {"ImageId": ami, "Description": {"Value": "made by amazon-import"}} in api.params(
            "ModifyImageAttribute"
        )
        assert {t["Key"]: t["Value"] for t in image["Tags"]} == {"Name": name, "Source": "pybuild"}
        snapshot = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
        (snap,) = ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"]
        assert {t["Key"]: t["Value"] for t in snap.get("Tags", [])}["Source"] == "pybuild"
        perms = ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")
        assert {"UserId": "123456789012"} in perms["LaunchPermissions"]
        assert {"Group": "all"} in perms["LaunchPermissions"]
        # the unnamed AMI the import made is gone; so is the S3 object
        (task,) = moto_import.tasks()
        assert task.format == "raw" and task.key.startswith("imports/file-")
        assert (
            ec2.describe_images(
                Owners=["self"], Filters=[{"Name": "image-id", "Values": [task.image_id]}]
            )["Images"]
            == []
        )
        s3 = aws.client("s3", region=REGION)
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
        said = messages(sink)
        assert f"Started import of s3://{bucket}/{task.key}, task id {task.id}" in said
        assert "Setting license type to 'BYOL'" in said and "Destroying intermediary AMI..." in said
        assert said[-1] == f"Deleting import source s3://{bucket}/{task.key}"
        uploads = [
            e for e in sink.events if isinstance(e, Progress) and e.name.startswith("upload")
        ]
        assert uploads and uploads[-1].done == uploads[-1].total == disk.stat().st_size
    finally:
        destroy_amis(aws, {REGION: ami})


def test_a_qcow2_disk_is_converted_to_vmdk_and_skip_clean_keeps_the_object(
    aws: MotoServer, bucket: str, tmp_path: Path
) -> None:
    disk = qcow2_disk(tmp_path / "disk.qcow2")
    result, sink = go(tmp_path, disk, importer(bucket, format="vmdk", skip_clean=True))
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    ami = artifact.id.split(":")[1]
    try:
        assert any("to vmdk with qemu-img" in m for m in messages(sink))
        (task,) = moto_import.tasks()
        s3 = aws.client("s3", region=REGION)
        head = s3.get_object(Bucket=bucket, Key=task.key, Range="bytes=0-3")["Body"].read()
        assert head == b"KDMV" and task.key.endswith(".vmdk")  # packer-import-<ts>.vmdk
        assert task.key.startswith("packer-import-")
    finally:
        destroy_amis(aws, {REGION: ami})
        aws.client("s3", region=REGION).delete_object(Bucket=bucket, Key=task.key)


def test_an_import_that_fails_leaves_nothing_in_s3_or_ec2(
    aws: MotoServer, bucket: str, tmp_path: Path
) -> None:
    disk = raw_disk(tmp_path / "disk.raw")
    moto_import.fail_next("ClientError: Unknown OS / Missing OS files.")
    result, sink = go(tmp_path, disk, importer(bucket, ami_name="never"))
    assert result.error is not None
    text = str(result.error)
    assert "failed with status message: ClientError: Unknown OS / Missing OS files." in text
    assert result.artifacts == []


def test_a_disk_in_the_wrong_format_is_refused_by_the_import(
    aws: MotoServer, bucket: str, tmp_path: Path
) -> None:
    disk = raw_disk(tmp_path / "disk.vhd")  # says vhd, is raw: no conectix footer
    result, _ = go(tmp_path, disk, importer(bucket, format="vhd"))
    assert "Disk validation failed [Invalid VHD file]" in str(result.error)


def test_ctrl_c_during_the_import_cancels_the_task_and_deletes_the_object(
    aws: MotoServer, bucket: str, tmp_path: Path
) -> None:
    disk = raw_disk(tmp_path / "disk.raw")
    sink = CancelOn(lambda e: isinstance(e, Message) and e.text.startswith("Waiting for task"))
    pp = importer(bucket, aws_polling={"delay_seconds": 0.5, "max_attempts": 50})
    result, _ = go(tmp_path, disk, pp, sink)
    assert result.cancelled or "cancel" in str(result.error).lower()
    (task,) = moto_import.tasks()
    assert task.status == "deleted" and task.status_message == "User cancelled task"


def test_ctrl_c_during_a_multipart_upload_aborts_it(
    aws: MotoServer, bucket: str, tmp_path: Path
) -> None:
    disk = raw_disk(tmp_path / "disk.raw", size=40 * 1024 * 1024)  # 5 parts of 8 MiB
    sink = CancelOn(lambda e: isinstance(e, Progress) and 0 < e.done < e.total)
    result, _ = go(tmp_path, disk, importer(bucket), sink)
    assert result.error is not None or result.cancelled
    assert moto_import.tasks() == []  # never got to the import


def test_an_artifact_without_a_disk_is_a_clear_error(
    aws: MotoServer, bucket: str, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a disk\n")
    result, _ = go(tmp_path, notes, importer(bucket, format="vmdk"))
    assert "No vmdk image file found in artifact from builder" in str(result.error)
