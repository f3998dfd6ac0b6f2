"""What several amazon steps share: names, Go-style lists, instance state checks."""

from __future__ import annotations

import base64
import binascii
import os
import re
import time
from typing import TYPE_CHECKING

from builder.amazon.common.config import check_ami_name
from builder.amazon.common.driver import AwsError
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.config import AmazonConfig
    from builder.amazon.common.run import AmazonRun

_NEEDS_SOURCE = re.compile(r"\.SourceAMI")


def packer_uuid() -> str:
    """Packer's time-ordered UUID: unix time first, then random bytes."""
    b = os.urandom(12)
    head = int(time.time()) & 0xFFFFFFFF
    return f"{head:08x}-{b[0:2].hex()}-{b[2:4].hex()}-{b[4:6].hex()}-{b[6:8].hex()}{b[8:].hex()}"


def go_list(items: list[str]) -> str:
    """Go's %v of a []string: `[a b c]`."""
    return "[" + " ".join(items) + "]"


def multi_error(errors: list[str]) -> str:
    """Packer's MultiError text."""
    return f"{len(errors)} error(s) occurred:\n\n" + "\n".join(f"* {e}" for e in errors)


def needs_source_data(text: str) -> bool:
    """Whether a template string uses `.SourceAMI...` (known only after StepSourceAMIInfo)."""
    return bool(_NEEDS_SOURCE.search(text))


def name_checked_late(cfg: AmazonConfig, *, skip_create_ami: bool = False) -> bool:
    """StepPreValidate leaves the AMI name check to StepSourceAMIInfo."""
    skipped = cfg.force_deregister or cfg.skip_save_build_region or skip_create_ami
    return not skipped and needs_source_data(cfg.ami_name)


def resolve_ami_name(ctx: AmazonRun) -> str:
    """Render ami_name with the template data and check it like AWS would."""
    name = ctx.render_text(ctx.config.ami_name)
    problems = check_ami_name(name)
    if problems:
        raise BuildError(f"invalid ami_name {name!r}: " + "; ".join(p.message for p in problems))
    ctx.ami_name = name
    return name


def prevalidate_name(ctx: AmazonRun) -> None:
    """Fail early when an AMI of this name already exists in the build region."""
    name = resolve_ami_name(ctx)
    ctx.ui.say(f"Prevalidating AMI Name: {name}")
    try:
        images = ctx.driver.describe_images(owners=["self"], filters={"name": name})
    except AwsError as exc:
        raise BuildError(f"Error querying AMI: {exc}") from exc
    if images:
        raise BuildError(
            f"Error: AMI Name: '{images[0].name}' is used by an existing AMI: {images[0].id}"
        )


def user_data_bytes(text: str) -> bytes:
    """Packer sends user data base64-encoded; text that already is base64 is sent as is."""
    if not text:
        return b""
    try:
        return base64.b64decode(text.encode(), validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def utc_stamp() -> str:
    """Now, as EC2 writes a CreationDate: the lower bound of an image recorded by name."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def record_snapshots(ctx: AmazonRun, region: str, image_id: str, snapshots: list[str]) -> None:
    """The snapshots an AMI was made of: the ledger removes them with (or without) it."""
    for snapshot in snapshots:
        ctx.record("snapshot", snapshot, region=region, image=image_id).created(snapshot)
