"""`pybuild cleanup` for EC2: remove what a dead amazon build left, kind by kind; sweep by tag.

The remover opens a driver through `AMAZON` (so tests' overrides apply) from the settings
the build recorded, with the credentials of the environment, or the template's own
settings when cleanup knows the template. Cleanup removes the newest resources first,
and each removal copes with what still depends on it: a volume or a security group
waits for its instance to be terminated, a snapshot for its AMI to be deregistered.

A resource recorded before its create call returned (no id yet) is looked up by what
makes it ours: the run id tag and the client token (instance), the name and the tag
(key pair, security group), the name and a creation time after the record (AMI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from builder.amazon.common.driver import (
    AMAZON,
    PLATFORM,
    AwsError,
    Ec2Driver,
    Instance,
    SessionSettings,
)
from builder.amazon.common.lifecycle import NOT_FOUND, delete_security_group, wait_terminated
from builder.amazon.common.polling import Polling
from builder.common.wait import wait_until
from builder.errors import PybuildError
from builder.ledger import RUN_TAG, LeftResource
from builder.multistep import CancelToken

LIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")
CLOCK_SKEW = timedelta(minutes=5)  # between this machine and EC2, for images found by name


class AmazonRemover:
    """Removes EC2 resources of dead runs through one open driver (any region)."""

    def __init__(self, driver: Ec2Driver, polling: Polling):
        self.driver, self.polling = driver, polling
        # AMIs deregistered to free a snapshot (newer, so removed first): removed by us
        self._deregistered: set[str] = set()
        self._kinds: dict[str, Callable[[Ec2Driver, LeftResource], bool]] = {
            "instance": self._instance,
            "volume": self._volume,
            "security_group": self._security_group,
            "key_pair": self._key_pair,
            "image": self._image,
            "snapshot": self._snapshot,
            "s3_object": self._s3_object,
            "import_task": self._import_task,
        }

    def remove(self, res: LeftResource) -> bool:
        remove = self._kinds.get(res.kind)
        if remove is None:
            raise PybuildError(f"unknown amazon resource kind {res.kind!r}")
        return remove(self.driver.in_region(res.attrs.get("region") or self.driver.region), res)

    def sweep(self) -> Iterable[LeftResource]:
        """Instances, security groups and key pairs with a run id tag, in that order."""
        d, tagged = self.driver, {"tag-key": RUN_TAG}
        found: list[LeftResource] = []
        for inst in d.describe_instances(filters={**tagged, "instance-state-name": LIVE_STATES}):
            found.append(self._swept(inst.tags, "instance", inst.id, inst.client_token))
        for group in d.describe_security_groups(filters=tagged):
            found.append(self._swept(group.tags, "security_group", group.id, group.name))
        for pair in d.describe_key_pairs(filters=tagged):
            found.append(self._swept(pair.tags, "key_pair", pair.name, pair.name))
        return found

    def _swept(self, tags: Mapping[str, str], kind: str, id: str, name: str) -> LeftResource:
        attrs = {"region": self.driver.region}
        run_id = tags.get(RUN_TAG, "")
        return LeftResource(run_id, f"sweep:{id}", "", PLATFORM, kind, name, id, attrs, "created")

    # ------------------------------------------------------------------ kinds
    def _instance(self, d: Ec2Driver, res: LeftResource) -> bool:
        if res.id:
            found = d.describe_instance(res.id)
            candidates = [found] if found is not None else []
        else:  # launched, or not: the client token tells ours among the run's instances
            candidates = [
                i
                for i in d.describe_instances(filters={f"tag:{RUN_TAG}": res.run_id})
                if i.client_token == res.name
            ]
        live = [i for i in candidates if i.state in LIVE_STATES]
        self._terminate(d, live)
        return bool(live)

    def _terminate(self, d: Ec2Driver, instances: list[Instance]) -> None:
        for inst in instances:
            try:
                d.terminate_instance(inst.id)
            except AwsError as exc:
                if exc.code != "InvalidInstanceID.NotFound":
                    raise
        for inst in instances:
            wait_terminated(d, inst.id, self.polling)

    def _volume(self, d: Ec2Driver, res: LeftResource) -> bool:
        state = dict(d.describe_volumes([res.id])).get(res.id)
        if state is None or state in ("deleting", "deleted"):
            return False
        if state == "in-use":  # its instance (removed after it, being older) holds it
            owner_id = res.attrs.get("instance", "")
            owner = d.describe_instance(owner_id) if owner_id else None
            self._terminate(d, [owner] if owner is not None and owner.state in LIVE_STATES else [])

            def detached() -> str | None:
                now = dict(d.describe_volumes([res.id])).get(res.id, "gone")
                return None if now == "in-use" else now

            state = wait_until("volume_available", detached, self.polling, CancelToken())
            if state != "available":
                return True  # deleted with its instance after all
        try:
            d.delete_volume(res.id)
        except AwsError as exc:
            if exc.code == "InvalidVolume.NotFound":
                return False
            raise
        return True

    def _security_group(self, d: Ec2Driver, res: LeftResource) -> bool:
        group_id = res.id
        if not group_id:
            found = d.describe_security_groups(
                filters={"group-name": res.name, f"tag:{RUN_TAG}": res.run_id}
            )
            if not found:
                return False
            group_id = found[0].id
        return delete_security_group(d, group_id)

    def _key_pair(self, d: Ec2Driver, res: LeftResource) -> bool:
        name = res.id or res.name
        filters: dict[str, str] = {"key-name": name}
        if res.state == "creating":  # a pair of that name is ours only if it carries our tag
            filters[f"tag:{RUN_TAG}"] = res.run_id
        if not d.describe_key_pairs(filters=filters):
            return False
        d.delete_key_pair(name)
        return True

    def _image(self, d: Ec2Driver, res: LeftResource) -> bool:
        if res.id:
            try:
                images = d.describe_images(image_ids=[res.id])
            except AwsError as exc:
                if exc.code not in NOT_FOUND:
                    raise
                images = []
        else:  # by name, made after the record (never an older AMI of the same name)
            after = _parse_time(res.attrs.get("not_before", "")) - CLOCK_SKEW
            images = [
                i
                for i in d.describe_images(owners=["self"], filters={"name": res.name})
                if _parse_time(i.creation_date) >= after
            ]
        if not images:
            return res.id in self._deregistered  # gone, unless this cleanup did it
        for image in images:
            _ignore_missing(d.deregister_image, image.id)
            for snapshot in image.snapshot_ids:
                _ignore_missing(d.delete_snapshot, snapshot)
        return True

    def _snapshot(self, d: Ec2Driver, res: LeftResource) -> bool:
        try:
            d.delete_snapshot(res.id)
        except AwsError as exc:
            image = res.attrs.get("image", "")
            if exc.code == "InvalidSnapshot.NotFound":
                return False
            if exc.code != "InvalidSnapshot.InUse" or not image:
                raise
            _ignore_missing(d.deregister_image, image)  # its AMI, older, would come later
            self._deregistered.add(image)
            d.delete_snapshot(res.id)
        return True

    def _s3_object(self, d: Ec2Driver, res: LeftResource) -> bool:
        """An uploaded disk (amazon-import): unfinished parts aborted, the object deleted."""
        bucket, key = res.attrs.get("bucket", ""), res.attrs.get("key", "")
        if not bucket or not key:
            return False
        aborted = d.abort_multipart_uploads(bucket, key)
        if not d.object_exists(bucket, key):
            return aborted > 0
        d.delete_object(bucket, key)
        return True

    def _import_task(self, d: Ec2Driver, res: LeftResource) -> bool:
        """A VM Import task: cancelled while active; the AMI a finished one made is removed
        (the build died before it recorded that AMI). One whose id was never recorded is
        found by the run id tag it was started with."""
        if res.id:
            task = d.describe_import_task(res.id)
            tasks = [task] if task is not None else []
        else:
            tasks = [t for t in d.describe_import_tasks() if t.tags.get(RUN_TAG) == res.run_id]
        removed = False
        for task in tasks:
            if task.status == "active":
                _ignore_missing(d.cancel_import_task, task.id)
                removed = True
            elif task.status == "completed" and task.image_id:
                removed = self._imported_image(d, task.image_id) or removed
        return removed

    def _imported_image(self, d: Ec2Driver, image_id: str) -> bool:
        try:
            images = d.describe_images(image_ids=[image_id])
        except AwsError as exc:
            if exc.code not in NOT_FOUND:
                raise
            return False
        for image in images:
            _ignore_missing(d.deregister_image, image.id)
            for snapshot in image.snapshot_ids:
                _ignore_missing(d.delete_snapshot, snapshot)
        return bool(images)


def _ignore_missing(call: Callable[[str], None], resource_id: str) -> None:
    try:
        call(resource_id)
    except AwsError as exc:
        if exc.code not in NOT_FOUND:
            raise


def _parse_time(text: str) -> datetime:
    """An EC2 timestamp (`2024-01-01T00:00:00.000Z`); the epoch when there is none."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromisoformat("1970-01-01T00:00:00+00:00")


class AmazonResources:
    """The `pybuild.resources` handler for platform `amazon`."""

    @contextmanager
    def open(self, recorded: Mapping[str, Any], full: Any | None) -> Iterator[AmazonRemover]:
        if isinstance(full, SessionSettings):
            settings = full
        else:
            settings = SessionSettings.from_record(full if isinstance(full, Mapping) else recorded)
        if not settings.region:
            raise PybuildError(
                "no AWS region to clean up in: the ledger names none; set AWS_REGION"
            )
        with AMAZON.open(settings) as driver:
            yield AmazonRemover(driver, Polling.from_config(None))


HANDLER = AmazonResources()
