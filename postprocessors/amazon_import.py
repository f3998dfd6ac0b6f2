"""The `amazon-import` post-processor: a disk image to S3, VM Import to an AMI, as Packer 1.6.6.

Flow: find the disk in the artifact (a file ending in `.<format>`, as 1.6.6; else the
builder's one disk — qemu's, or the only disk file — converted with `qemu-img` to
`format`), upload it to `s3://s3_bucket_name/s3_key_name` (multipart, progress events),
ImportImage (retried like 1.6.6 for IAM's eventual consistency), wait for the task
(`aws_polling`, cancel), then with `ami_name` copy the AMI under that name and destroy the
unnamed one, tag the AMI and its snapshots, set the description and launch permissions,
and delete the S3 object unless `skip_clean`.

Every S3 object, import task and AMI is in the ledger before it is made. On a failure or
Ctrl-C everything made so far is removed (1.6.6 left the object in S3 and the task
running): the task is cancelled, the AMIs deregistered with their snapshots, the object
deleted (kept only with `skip_clean`). Artifact: `region:ami-…`, destroyable, as the
amazon builders' AMI artifact.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from builder import faults
from builder.amazon.common.access import AccessConfig
from builder.amazon.common.artifact import AmiArtifact
from builder.amazon.common.driver import (
    AMAZON,
    PLATFORM,
    AwsError,
    ImportSpec,
    Upload,
)
from builder.amazon.common.lifecycle import destroy_images, wait_image_available
from builder.amazon.common.polling import Polling
from builder.common.drivers import public_settings
from builder.common.plan import RUNTIME, Creates
from builder.common.wait import WaitFailed, retry, wait_until
from builder.components import PostProcessor
from builder.config import StrList, config_check, option_error
from builder.errors import BuildCancelled, PostProcessorError, PybuildError, TemplateError
from postprocessors.disks import DISK_SUFFIXES, convert, disk_format
from postprocessors.manifest import generated_data

if TYPE_CHECKING:
    from builder.amazon.common.driver import Ec2Driver, ImportTask
    from builder.artifact import Artifact
    from builder.ledger import Resource
    from builder.multistep import CancelToken
    from builder.ui import Ui

BUILDER_ID = "packer.post-processor.amazon-import"
FORMATS = ("ova", "raw", "vhd", "vhdx", "vmdk")
ENCRYPTIONS = ("AES256", "aws:kms")
# qemu-img's name and options for each format VM Import takes (ova cannot be made here)
QEMU_IMG = {
    "raw": ("raw", []),
    "vmdk": ("vmdk", ["-o", "subformat=streamOptimized"]),
    "vhd": ("vpc", []),
    "vhdx": ("vhdx", []),
}


class AmazonImportConfig(AccessConfig):
    """Packer 1.6.6's amazon-import options: the amazon access options plus these."""

    deferred: ClassVar[frozenset[str]] = frozenset({"s3_key_name"})

    s3_bucket_name: str = ""
    s3_key_name: str = ""
    s3_encryption: str = ""
    s3_encryption_key: str = ""
    skip_clean: bool = False
    tags: dict[str, str] = Field(default_factory=dict)
    ami_name: str = ""
    ami_description: str = ""
    ami_users: StrList = Field(default_factory=list)
    ami_groups: StrList = Field(default_factory=list)
    ami_encrypt: bool = False
    ami_kms_key: str = ""
    license_type: str = ""
    role_name: str = ""
    format: str = "ova"

    def key_template(self) -> str:
        """`s3_key_name`, or 1.6.6's default `packer-import-{{timestamp}}.<format>`."""
        return self.s3_key_name or f"packer-import-{{{{timestamp}}}}.{self.format or 'ova'}"

    @config_check
    def check_import(self) -> list[TemplateError]:
        errs: list[TemplateError] = []
        if not self.s3_bucket_name:
            errs.append(option_error("s3_bucket_name must be set", "s3_bucket_name"))
        if (self.format or "ova") not in FORMATS:
            errs.append(
                option_error(
                    f"invalid format '{self.format}'. Only 'ova', 'raw', 'vhd', 'vhdx', "
                    "or 'vmdk' are allowed",
                    "format",
                )
            )
        if self.s3_encryption and self.s3_encryption not in ENCRYPTIONS:
            errs.append(
                option_error(
                    f"invalid s3 encryption format '{self.s3_encryption}'. Only 'AES256' "
                    "and 'aws:kms' are allowed",
                    "s3_encryption",
                )
            )
        return errs


@dataclass
class _Made:
    """What this run made so far, for the clean-up on failure."""

    object: tuple[Resource, str, str] | None = None  # (record, bucket, key)
    task: tuple[Resource, str] | None = None
    images: dict[str, Resource] = field(default_factory=dict)
    scratch: str = ""


class AmazonImportPostProcessor(PostProcessor):
    """Imports a disk image as an AMI through S3 and VM Import."""

    Config = AmazonImportConfig
    config: AmazonImportConfig
    keeps_input = (False, False)

    def plan_creates(self) -> list[Creates]:
        cfg = self.config
        key = cfg.key_template()
        out = [
            Creates(f"{PLATFORM}.s3_object", "the disk image (deleted at the end)"
                    if not cfg.skip_clean else "the disk image", f"s3://{cfg.s3_bucket_name}/{key}"),
            Creates(f"{PLATFORM}.import_task", "the VM Import task", RUNTIME),
            Creates(f"{PLATFORM}.image", "the imported AMI", RUNTIME),
        ]  # fmt: skip
        if cfg.ami_name:
            out.append(Creates(f"{PLATFORM}.image", f"AMI {cfg.ami_name} (a copy)", RUNTIME))
        return out

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        cfg = self.config
        fmt = cfg.format or "ova"
        generated = generated_data(artifact)
        try:
            key = self.options.render_text(cfg.key_template(), build_data=generated)
        except (PybuildError, ValueError) as exc:
            raise PostProcessorError(f"Error rendering s3_key_name template: {exc}") from exc
        settings = cfg.session_settings()
        region = settings.region
        self.options.resources.platform(PLATFORM, public_settings(settings))
        made = _Made()
        cancel = self.options.cancel
        try:
            source = self._disk(ui, artifact, fmt, made, cancel)
            with AMAZON.open(settings) as driver:
                self._upload(ui, driver, source, key, made, cancel)
                task_id = self._start_import(ui, driver, key, made, cancel)
                image_id = self._wait_import(ui, driver, task_id, made, cancel)
                if cfg.ami_name:
                    image_id = self._rename(ui, driver, image_id, made, cancel)
                self._tag(ui, driver, image_id)
                self._attributes(ui, driver, image_id)
                made.images[image_id].kept()
                if made.task is not None:
                    made.task[0].released()  # completed: nothing to cancel
                    made.task = None
                self._finish_object(ui, driver, made)
        except BaseException as exc:
            self._undo(ui, settings, made)
            if isinstance(exc, AwsError):
                raise PostProcessorError(str(exc)) from exc
            raise
        finally:
            if made.scratch:
                shutil.rmtree(made.scratch, ignore_errors=True)
        out = AmiArtifact(BUILDER_ID, {region: image_id}, settings, generated_data=generated)
        return out, False, False

    # ------------------------------------------------------------------ the disk
    def _disk(self, ui: Ui, artifact: Artifact, fmt: str, made: _Made, cancel: CancelToken) -> str:
        for path in artifact.files:
            if path.endswith("." + fmt):
                return path
        disk, kind = _one_disk(artifact)
        if not disk:
            listed = ", ".join(artifact.files) or "none"
            raise PostProcessorError(
                f"No {fmt} image file found in artifact from builder (files: {listed}); "
                "an artifact with one disk is converted with qemu-img to raw, vmdk, vhd or vhdx"
            )
        if fmt == "ova":
            raise PostProcessorError(
                f"No ova image file found in artifact from builder: {disk} is a {kind} disk; "
                'set "format" to raw, vmdk, vhd or vhdx to have it converted'
            )
        if kind == fmt or (kind == "vpc" and fmt == "vhd"):
            return disk
        made.scratch = tempfile.mkdtemp(prefix="pybuild-import-")
        target = os.path.join(made.scratch, f"{os.path.basename(disk)}.{fmt}")
        name, options = QEMU_IMG[fmt]
        ui.message(f"Converting {disk} ({kind}) to {fmt} with qemu-img")
        convert(disk, name, target, cancel, options)
        return target

    # ------------------------------------------------------------------ S3
    def _upload(
        self, ui: Ui, driver: Ec2Driver, source: str, key: str, made: _Made, cancel: CancelToken
    ) -> None:
        cfg = self.config
        bucket = cfg.s3_bucket_name
        if cfg.s3_encryption == "AES256" and cfg.s3_encryption_key:
            ui.message(
                f"Ignoring s3_encryption_key because s3_encryption is set to '{cfg.s3_encryption}'"
            )
        total = os.path.getsize(source)
        url = f"s3://{bucket}/{key}"
        ui.message(f"Uploading {source} to {url}")
        res = self.options.resources.creating(
            PLATFORM, "s3_object", name=url, bucket=bucket, key=key, region=driver.region
        )
        made.object = (res, bucket, key)
        step = max(1, total // 200)
        last = [-step]

        def progress(done: int) -> None:
            if 0 < done < total:
                faults.point("amazon-import:upload")  # a test's kill during the upload
            if done - last[0] >= step or done == total:
                last[0] = done
                ui.progress(f"upload {os.path.basename(source)}", done, total)

        upload = Upload(
            source,
            bucket,
            key,
            encryption=cfg.s3_encryption,
            kms_key_id=cfg.s3_encryption_key if cfg.s3_encryption == "aws:kms" else "",
            tags=self.options.resources.tags(),
        )
        try:
            driver.upload_file(upload, progress, cancel)
        except AwsError as exc:
            raise PostProcessorError(f"Failed to upload {source}: {exc}") from exc
        res.created(url)
        ui.message(f"Completed upload of {source} to {url}")

    def _finish_object(self, ui: Ui, driver: Ec2Driver, made: _Made) -> None:
        if made.object is None:
            return
        res, bucket, key = made.object
        if self.config.skip_clean:
            res.kept()
        else:
            ui.message(f"Deleting import source s3://{bucket}/{key}")
            try:
                driver.delete_object(bucket, key)
            except AwsError as exc:
                raise PostProcessorError(f"Failed to delete s3://{bucket}/{key}: {exc}") from exc
            res.released()
        made.object = None

    # ------------------------------------------------------------------ VM Import
    def _start_import(
        self, ui: Ui, driver: Ec2Driver, key: str, made: _Made, cancel: CancelToken
    ) -> str:
        cfg = self.config
        bucket = cfg.s3_bucket_name
        spec = ImportSpec(
            bucket=bucket,
            key=key,
            format=cfg.format or "ova",
            encrypted=cfg.ami_encrypt,
            kms_key_id=cfg.ami_kms_key if cfg.ami_encrypt else "",
            role_name=cfg.role_name,
            license_type=cfg.license_type,
            tags=self.options.resources.tags(),
        )
        if cfg.license_type:
            ui.message(f"Setting license type to '{cfg.license_type}'")
        res = self.options.resources.creating(
            PLATFORM, "import_task", name=f"s3://{bucket}/{key}", region=driver.region
        )
        made.task = (res, "")
        try:  # IAM roles and bucket policies take a while to be seen: 1.6.6 retries
            task_id = retry(
                lambda: driver.import_image(spec),
                retry_on=lambda e: isinstance(e, AwsError) and e.answered,
                cancel=cancel,
            )
        except AwsError as exc:
            raise PostProcessorError(
                f"Failed to start import from s3://{bucket}/{key}: {exc}"
            ) from exc
        res.created(task_id)
        made.task = (res, task_id)
        ui.message(f"Started import of s3://{bucket}/{key}, task id {task_id}")
        return task_id

    def _wait_import(
        self, ui: Ui, driver: Ec2Driver, task_id: str, made: _Made, cancel: CancelToken
    ) -> str:
        ui.message(f"Waiting for task {task_id} to complete (may take a while)")
        polling = Polling.from_config(self.config.aws_polling)
        last: list[ImportTask] = []

        def check() -> ImportTask | None:
            task = driver.describe_import_task(task_id)
            if task is None:
                return None
            last[:] = [task]
            if task.progress.isdigit():
                ui.progress(f"import {task_id}", int(task.progress), 100)
            if task.status == "completed":
                return task
            if task.status in ("deleted", "deleting"):
                raise WaitFailed("ResourceNotReady: failed waiting for successful resource state")
            return None

        try:
            task = wait_until("image_imported", check, polling, cancel)
        except WaitFailed as exc:
            message = last[0].status_message if last else "Error retrieving status message"
            raise PostProcessorError(
                f"Import task {task_id} failed with status message: {message}, error: {exc}"
            ) from exc
        if not task.image_id:
            raise PostProcessorError(f"Import task {task_id} failed: {task.status_message}")
        res = self.options.resources.creating(PLATFORM, "image", name=task.image_id,
                                              region=driver.region)  # fmt: skip
        res.created(task.image_id, region=driver.region)
        made.images[task.image_id] = res
        ui.progress(f"import {task_id}", 100, 100)
        ui.message(f"Import task {task_id} complete")
        return task.image_id

    def _rename(
        self, ui: Ui, driver: Ec2Driver, image_id: str, made: _Made, cancel: CancelToken
    ) -> str:
        cfg = self.config
        ui.message(f"Starting rename of AMI ({image_id})")
        res = self.options.resources.creating(PLATFORM, "image", name=cfg.ami_name,
                                              region=driver.region)  # fmt: skip
        try:
            copy_id = driver.copy_image(
                driver.region,
                image_id,
                cfg.ami_name,
                "",
                True if cfg.ami_encrypt else None,
                cfg.ami_kms_key if cfg.ami_encrypt else "",
            )
        except AwsError as exc:
            res.released()
            raise PostProcessorError(f"Error Copying AMI ({image_id}): {exc}") from exc
        res.created(copy_id, region=driver.region)
        made.images[copy_id] = res
        ui.message("Waiting for AMI rename to complete (may take a while)")
        polling = Polling.from_config(cfg.aws_polling)
        try:
            wait_image_available(driver, copy_id, polling, cancel)
        except WaitFailed as exc:
            raise PostProcessorError(f"Error waiting for AMI ({copy_id}): {exc}") from exc
        ui.message("Destroying intermediary AMI...")
        errors = destroy_images(driver, [image_id])
        if errors:
            raise PostProcessorError(f"Error deregistering existing AMI: {errors[0]}")
        made.images.pop(image_id).released()
        ui.message("AMI rename completed")
        return copy_id

    # ------------------------------------------------------------------ the AMI
    def _tag(self, ui: Ui, driver: Ec2Driver, image_id: str) -> None:
        tags = self.config.tags
        if not tags:
            return
        for k, v in tags.items():
            ui.message(f'Adding tag "{k}": "{v}"')
        found = driver.describe_images(image_ids=[image_id])
        if not found:
            raise PostProcessorError(f"AMI {image_id} has no images")
        ids = [image_id]
        for snapshot in found[0].snapshot_ids:
            ui.message(f"Tagging snapshot {snapshot}")
            ids.append(snapshot)
        ui.message(f"Tagging AMI {image_id}")
        try:
            driver.create_tags(ids, tags)
        except AwsError as exc:
            raise PostProcessorError(f"Failed to add tags to resources {ids}: {exc}") from exc

    def _attributes(self, ui: Ui, driver: Ec2Driver, image_id: str) -> None:
        cfg = self.config
        changes: list[tuple[str, dict[str, Any]]] = []
        if cfg.ami_description:
            changes.append(("description", {"description": cfg.ami_description}))
        if cfg.ami_groups:
            changes.append(("groups", {"groups": list(cfg.ami_groups)}))
        if cfg.ami_users:
            changes.append(("users", {"users": list(cfg.ami_users)}))
        for name, change in changes:
            ui.message(f"Modifying: {name}")
            try:
                driver.modify_image(image_id, **change)
            except AwsError as exc:
                raise PostProcessorError(f"Error modifying AMI attributes: {exc}") from exc

    # ------------------------------------------------------------------ on failure
    def _undo(self, ui: Ui, settings: Any, made: _Made) -> None:
        """Remove what this run made; errors are reported, `pybuild cleanup` has the rest."""
        if made.object is None and made.task is None and not made.images:
            return
        try:
            with AMAZON.open(settings) as driver:
                if made.task is not None and made.task[1]:
                    res, task_id = made.task
                    ui.message(f"Cancelling import task {task_id}")
                    try:
                        driver.cancel_import_task(task_id)
                    except AwsError:
                        pass  # already completed or deleted
                    task = driver.describe_import_task(task_id)
                    if task is not None and task.image_id and task.image_id not in made.images:
                        destroy_images(driver, [task.image_id])
                    res.released()
                for image_id, res in list(made.images.items()):
                    ui.message(f"Deregistering AMI {image_id}")
                    if not destroy_images(driver, [image_id]):
                        res.released()
                if made.object is not None and not self.config.skip_clean:
                    res, bucket, key = made.object
                    ui.message(f"Deleting import source s3://{bucket}/{key}")
                    driver.abort_multipart_uploads(bucket, key)
                    driver.delete_object(bucket, key)
                    res.released()
        except (AwsError, BuildCancelled) as exc:
            ui.error(f"Error cleaning up after amazon-import: {exc}; run `pybuild cleanup`")


def _one_disk(artifact: Artifact) -> tuple[str, str]:
    """(path, qemu-img format) of the artifact's only disk; ('', '') when not exactly one."""
    paths = artifact.state("diskPaths")
    kind = str(artifact.state("diskType") or "")
    if isinstance(paths, list) and len(paths) == 1 and kind:
        return str(paths[0]), kind
    disks = [p for p in artifact.files if p.lower().endswith(DISK_SUFFIXES)]
    if len(disks) != 1:
        return "", ""
    return disks[0], disk_format(disks[0])
