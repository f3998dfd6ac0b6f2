"""Waits and removals the steps, the artifact and `pybuild cleanup` share.

Removals wait the way Packer's cleanups do (an instance until terminated, a security
group through DependencyViolation); every wait is bounded by its polling schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from builder.amazon.common.driver import AwsError
from builder.common.wait import WaitFailed, retry, wait_until
from builder.multistep import CancelToken

if TYPE_CHECKING:
    from builder.amazon.common.driver import Ec2Driver, Image, Instance
    from builder.amazon.common.polling import Polling

NOT_FOUND = ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidSnapshot.NotFound")
GROUP_GONE = ("InvalidGroup.NotFound", "InvalidSecurityGroupID.NotFound")
_NOT_READY = "ResourceNotReady: failed waiting for successful resource state"


def instance_state_check(
    driver: Ec2Driver, instance_id: str, want: str, failures: tuple[str, ...]
) -> Callable[[], Instance | None]:
    """A waiter check: the instance once in `want`; WaitFailed in a failure state."""

    def check() -> Instance | None:
        inst = driver.describe_instance(instance_id)
        if inst is None:
            return None
        if inst.state == want:
            return inst
        if inst.state in failures:
            raise WaitFailed(f"{_NOT_READY} (instance is {inst.state})")
        return None

    return check


def wait_terminated(driver: Ec2Driver, instance_id: str, polling: Polling) -> None:
    """Wait until the instance is terminated (or gone); no cancel: cleanup runs after Ctrl-C."""

    def check() -> bool | None:
        inst = driver.describe_instance(instance_id)
        if inst is None or inst.state == "terminated":
            return True
        if inst.state in ("pending", "stopping"):
            raise WaitFailed(f"{_NOT_READY} (instance is {inst.state})")
        return None

    wait_until("instance_terminated", check, polling, CancelToken())


def delete_security_group(driver: Ec2Driver, group_id: str) -> bool:
    """Delete the group, retrying while an instance still holds it; False if it was gone."""
    try:
        retry(
            lambda: driver.delete_security_group(group_id),
            retry_on=lambda e: isinstance(e, AwsError) and e.code == "DependencyViolation",
            cancel=CancelToken(),  # cleanup runs after Ctrl-C too: never cut short
        )
    except AwsError as exc:
        if exc.code in GROUP_GONE:
            return False
        raise
    return True


def wait_image_available(
    driver: Ec2Driver, image_id: str, polling: Polling, cancel: CancelToken
) -> Image:
    """Poll DescribeImages until the AMI is `available`; WaitFailed if it fails."""

    def check() -> Image | None:
        try:
            found = driver.describe_images(image_ids=[image_id])
        except AwsError as exc:
            if exc.code in NOT_FOUND:
                return None  # eventual consistency: not visible yet
            raise
        if not found:
            return None
        if found[0].state == "available":
            return found[0]
        if found[0].state == "failed":
            raise WaitFailed("ResourceNotReady: failed waiting for successful resource state")
        return None

    return wait_until("image_available", check, polling, cancel)


def destroy_images(
    driver: Ec2Driver,
    image_ids: Sequence[str],
    say: Callable[[str], None] | None = None,
    gone: Callable[[str], None] | None = None,
) -> list[str]:
    """Deregister AMIs and delete their snapshots; returns the errors (gone counts as done).

    `gone(id)` is told of every AMI and snapshot that is no more (the ledger's release).
    """
    errors: list[str] = []
    for image_id in image_ids:
        try:
            found = driver.describe_images(image_ids=[image_id])
        except AwsError as exc:
            if exc.code not in NOT_FOUND:
                errors.append(f"Error describing AMI: {exc}")
            elif gone:
                gone(image_id)
            continue
        if not found and gone:
            gone(image_id)
        for image in found:
            try:
                driver.deregister_image(image.id)
            except AwsError as exc:
                if exc.code not in NOT_FOUND:
                    errors.append(f"Error deregistering existing AMI: {exc}")
                    continue
            if say:
                say(f"Deregistered AMI id: {image.id}")
            if gone:
                gone(image.id)
            for snapshot in image.snapshot_ids:
                try:
                    driver.delete_snapshot(snapshot)
                except AwsError as exc:
                    if exc.code not in NOT_FOUND:
                        errors.append(f"Error deleting existing snapshot: {exc}")
                    elif gone:
                        gone(snapshot)
                    continue
                if gone:
                    gone(snapshot)
                if say:
                    say(f"Deleted snapshot: {snapshot}")
    return errors
