"""Test harness extension of moto: VM Import's ImportImage, DescribeImportImageTasks and
CancelImportTask, which moto does not implement.

Everything else stays moto's own: the disk is read from moto's S3 backend (the object the
post-processor uploaded), and the AMI a completed task names is registered with moto's
EC2 backend (which gives it a snapshot, as a real import does), so CopyImage, tags, launch
permissions and DeregisterImage are moto's behaviour.

A task checks the object's format as VM Import does, by its bytes: `raw` must not be
another format (an MBR/GPT disk, or any bytes that are not qcow2/VMDK/VHD/VHDX), `vmdk`
starts with "KDMV" (or is a text descriptor), `vhd` ends (or starts) with the "conectix"
footer, `vhdx` starts with "vhdxfile", `ova` is a tar holding an .ovf. A task is `active`
for `ACTIVE_POLLS` describes, then `completed` with an ImageId (or `deleted` with VM
Import's message when the disk is wrong, or when a test set `fail_next`).

`install()` adds the three actions to moto's EC2Response class in this process (the
suite's ThreadedMotoServer runs in it); `tasks()` shows what the server holds.
"""

from __future__ import annotations

import secrets
import tarfile
import threading
from dataclasses import dataclass, field
from typing import Any

ACTIVE_POLLS = 2
QCOW2_MAGIC = b"QFI\xfb"


@dataclass
class Task:
    id: str
    account: str
    region: str
    bucket: str
    key: str
    format: str
    description: str = ""
    status: str = "active"
    status_message: str = "pending"
    progress: str = "2"
    image_id: str = ""
    polls: int = 0
    failure: str = ""  # the message the task ends with instead of an AMI
    sha256: str = ""  # of the whole object, read when the task started
    tags: list[dict[str, str]] = field(default_factory=list)


_lock = threading.Lock()
_tasks: dict[str, Task] = {}
_fail_next: list[str] = []


def fail_next(message: str = "ClientError: Unknown OS / Missing OS files.") -> None:
    """The next ImportImage task ends `deleted` with this status message."""
    with _lock:
        _fail_next.append(message)


def tasks() -> list[Task]:
    with _lock:
        return list(_tasks.values())


def reset() -> None:
    with _lock:
        _tasks.clear()
        _fail_next.clear()


# ---------------------------------------------------------------------- the disk's format
def _head_tail(bucket: str, key: str, account: str) -> tuple[bytes, bytes, str] | None:
    """The object's first 64 KiB, last 512 bytes and sha256; None when there is no object."""
    import hashlib

    from moto.s3.models import s3_backends

    try:
        obj = s3_backends[account]["aws"].get_object(bucket, key)
    except Exception:  # noqa: BLE001 - moto raises its own not-found errors
        return None
    if obj is None:
        return None
    buf = obj._value_buffer  # a spooled file: read the two ends, not the whole disk
    digest = hashlib.sha256()
    with obj.lock:
        buf.seek(0, 2)
        size = buf.tell()
        buf.seek(0)
        head = buf.read(64 * 1024)
        buf.seek(max(0, size - 512))
        tail = buf.read(512)
        buf.seek(0)
        while chunk := buf.read(1024 * 1024):
            digest.update(chunk)
    return head, tail, digest.hexdigest()


def disk_problem(fmt: str, head: bytes, tail: bytes) -> str:
    """VM Import's complaint about a disk in `fmt`, or '' when it looks right."""
    fmt = fmt.lower()
    if head.startswith(QCOW2_MAGIC):
        return "ClientError: Disk validation failed [Unsupported file format: qcow2]"
    if fmt == "vmdk":
        ok = head.startswith(b"KDMV") or head.startswith(b"# Disk DescriptorFile")
        return "" if ok else "ClientError: Disk validation failed [Invalid VMDK file]"
    if fmt == "vhd":
        ok = tail.startswith(b"conectix") or head.startswith(b"conectix")
        return "" if ok else "ClientError: Disk validation failed [Invalid VHD file]"
    if fmt == "vhdx":
        return (
            ""
            if head.startswith(b"vhdxfile")
            else "ClientError: Disk validation failed [Invalid VHDX file]"
        )
    if fmt == "ova":
        return "" if _has_ovf(head) else "ClientError: Disk validation failed [OVF file not found]"
    if fmt == "raw":
        for magic, name in ((b"KDMV", "vmdk"), (b"vhdxfile", "vhdx"), (b"conectix", "vhd")):
            if head.startswith(magic):
                return f"ClientError: Disk validation failed [Unsupported file format: {name}]"
        if len(head) < 512:
            return "ClientError: Disk validation failed [Disk too small]"
        return ""
    return f"ClientError: Unsupported format {fmt!r}"


def _has_ovf(head: bytes) -> bool:
    import io

    try:
        with tarfile.open(fileobj=io.BytesIO(head), mode="r|") as tar:
            for member in tar:
                if member.name.endswith(".ovf"):
                    return True
    except tarfile.TarError:
        return False
    return False


# ---------------------------------------------------------------------- the actions
def _import_image(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import InvalidParameterValueError

    containers = self._get_param("DiskContainers", [])
    if len(containers) != 1:
        raise InvalidParameterValueError("DiskContainers: exactly one disk is supported here")
    container = containers[0]
    bucket_info = container.get("UserBucket") or {}
    bucket, key = bucket_info.get("S3Bucket", ""), bucket_info.get("S3Key", "")
    fmt = str(container.get("Format", "")).lower()
    account, region = self.current_account, self.region
    task = Task(
        id="import-ami-" + secrets.token_hex(8),
        account=account,
        region=region,
        bucket=bucket,
        key=key,
        format=fmt,
        description=self._get_param("Description", ""),
    )
    for spec in self._get_param("TagSpecifications", []):
        task.tags.extend(spec.get("Tags", []))
    found = _head_tail(bucket, key, account)
    if found is None:
        raise InvalidParameterValueError(
            f"The specified S3 object s3://{bucket}/{key} does not exist"
        )
    head, tail, task.sha256 = found
    with _lock:
        task.failure = disk_problem(fmt, head, tail) or (_fail_next.pop(0) if _fail_next else "")
        _tasks[task.id] = task
    return ActionResult(
        {
            "ImportTaskId": task.id,
            "Status": task.status,
            "StatusMessage": task.status_message,
            "Progress": task.progress,
            "Description": task.description,
        }
    )


def _advance(self: Any, task: Task) -> None:
    """One describe later: active for ACTIVE_POLLS describes, then its end."""
    if task.status != "active":
        return
    task.polls += 1
    if task.polls < ACTIVE_POLLS:
        task.status_message, task.progress = "converting", str(min(90, 20 * task.polls))
        return
    if task.failure:
        task.status, task.status_message, task.progress = "deleted", task.failure, ""
        return
    ami = self.ec2_backend.register_image(
        name=f"{task.id}-{secrets.token_hex(2)}", description=task.description or None
    )
    task.status, task.status_message, task.progress = "completed", "", ""
    task.image_id = ami.id


def _describe_import_image_tasks(self: Any) -> Any:
    from moto.core.responses import ActionResult

    ids = self._get_param("ImportTaskIds", [])
    out = []
    with _lock:
        for task in _tasks.values():
            if task.account != self.current_account or task.region != self.region:
                continue
            if ids and task.id not in ids:
                continue
            _advance(self, task)
            row: dict[str, Any] = {
                "ImportTaskId": task.id,
                "Status": task.status,
                "StatusMessage": task.status_message,
                "Description": task.description,
                "Tags": task.tags,
            }
            if task.progress:
                row["Progress"] = task.progress
            if task.image_id:
                row["ImageId"] = task.image_id
            out.append(row)
    return ActionResult({"ImportImageTasks": out})


def _cancel_import_task(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import InvalidParameterValueError

    task_id = self._get_param("ImportTaskId")
    with _lock:
        task = _tasks.get(task_id)
        if task is None or task.status in ("completed", "deleted"):
            raise InvalidParameterValueError(f"The import task {task_id} cannot be cancelled")
        previous = task.status
        task.status, task.status_message = "deleted", "User cancelled task"
    return ActionResult({"ImportTaskId": task_id, "PreviousState": previous, "State": "deleted"})


def install() -> None:
    """Give moto's EC2Response the three VM Import actions (idempotent)."""
    from moto.ec2.responses import EC2Response

    EC2Response.import_image = _import_image  # type: ignore[attr-defined]
    EC2Response.describe_import_image_tasks = _describe_import_image_tasks  # type: ignore[attr-defined]
    EC2Response.cancel_import_task = _cancel_import_task  # type: ignore[attr-defined]
