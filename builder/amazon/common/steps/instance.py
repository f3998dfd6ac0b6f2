"""The source instance: launch and wait, stop, enhanced networking, leftover volumes."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.ec2 import AwsError, Instance, LaunchSpec
from builder.amazon.common.waiter import WaitFailed, retry, wait_until
from builder.errors import BuildError
from builder.multistep import CancelToken

if TYPE_CHECKING:
    from collections.abc import Callable

    from builder.amazon.common.ec2 import Ec2Driver
    from builder.amazon.common.state import AmazonRun

_NOT_READY = "ResourceNotReady: failed waiting for successful resource state"


def user_data_bytes(text: str) -> bytes:
    """Packer sends user data base64-encoded; text that already is base64 is sent as is."""
    if not text:
        return b""
    try:
        return base64.b64decode(text.encode(), validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


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


@dataclass
class StepCleanupVolumes:
    """Cleanup only: delete launch volumes left `available` (not delete-on-termination)."""

    name: ClassVar[str] = "StepCleanupVolumes"

    def run(self, ctx: AmazonRun) -> None:
        """Nothing to do until cleanup."""

    def cleanup(self, ctx: AmazonRun) -> None:
        ui, instance = ctx.ui, ctx.instance
        if instance is None or not instance.volumes:
            ui.say("No volumes to clean up, skipping")
            return
        ui.say("Cleaning up any extra volumes...")
        by_id = {vol: dev for dev, vol in instance.volumes}
        try:
            found = ctx.driver.describe_volumes(list(by_id))
        except AwsError as exc:
            ui.say(f"Error describing volumes: {exc}")
            return
        if not found:
            ui.say("No volumes to clean up, skipping")
            return
        keep = {d.device_name for d in ctx.config.launch_block_device_mappings}
        for volume_id, state in found:
            if state != "available" or by_id.get(volume_id) in keep:
                continue
            ui.say(f"Destroying volume ({volume_id})...")
            try:
                ctx.driver.delete_volume(volume_id)
            except AwsError as exc:
                ui.say(f"Error deleting volume: {exc}")


@dataclass
class StepRunSourceInstance:
    """Launch the source instance with its tags and wait until it runs; terminate in cleanup."""

    name: ClassVar[str] = "StepRunSourceInstance"
    _instance_id: str = ""

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui, driver = ctx.config, ctx.ui, ctx.driver
        if self._instance_id:  # retried after a failure: terminate the first instance
            self.cleanup(ctx)
        user_data = cfg.user_data
        if cfg.user_data_file:
            try:
                with open(cfg.user_data_file, encoding="utf-8") as f:
                    user_data = f.read()
            except OSError as exc:
                raise BuildError(f"Problem reading user data file: {exc}") from exc
        ui.say("Launching a source AWS instance...")
        image = ctx.source_image
        assert image is not None, "StepSourceAMIInfo runs first"
        if image.root_device_type and image.root_device_type != "ebs":
            raise BuildError(
                "The provided source AMI has an invalid root device type.\n"
                f"Expected 'ebs', got '{image.root_device_type}'."
            )
        ui.say("Adding tags to source instance")
        tags = {"Name": "Packer Builder", **cfg.run_tags}
        try:
            run_tags = ctx.render_tags(tags)
        except BuildError as exc:
            raise BuildError(f"Error tagging source instance: {exc}") from exc
        try:
            volume_tags = ctx.render_tags(cfg.run_volume_tags)
        except BuildError as exc:
            raise BuildError(f"Error tagging volumes: {exc}") from exc
        ctx.report_tags(run_tags)
        ctx.report_tags(volume_tags)
        spec = LaunchSpec(
            image_id=image.id,
            instance_type=cfg.instance_type,
            user_data=user_data_bytes(user_data),
            key_name=ctx.key_pair_name,
            security_group_ids=list(ctx.security_group_ids),
            subnet_id=ctx.subnet_id,
            availability_zone=ctx.availability_zone,
            associate_public_ip=cfg.associate_public_ip_address,
            iam_instance_profile=cfg.iam_instance_profile,
            ebs_optimized=cfg.ebs_optimized,
            t2_unlimited=cfg.enable_t2_unlimited,
            shutdown_behavior=cfg.shutdown_behavior,
            tenancy=cfg.tenancy,
            block_devices=list(cfg.launch_block_device_mappings),
            no_ephemeral=cfg.no_ephemeral,
            tags=run_tags,
            volume_tags=volume_tags,
        )
        try:
            instance_id = retry(
                lambda: driver.run_instance(spec),
                retry_on=lambda e: (
                    isinstance(e, AwsError)
                    and e.code == "InvalidParameterValue"
                    and "iamInstanceProfile" in e.detail
                ),
                cancel=ctx.cancel,
            )
        except AwsError as exc:
            if exc.code == "VPCIdNotSpecified" and not ctx.subnet_id:
                raise BuildError(
                    "Error launching source instance: a valid Subnet Id was not specified"
                ) from exc
            raise BuildError(f"Error launching source instance: {exc}") from exc
        self._instance_id = instance_id
        ctx.instance = Instance(id=instance_id)
        ui.message(f"Instance ID: {instance_id}")
        ui.say(f"Waiting for instance ({instance_id}) to become ready...")
        check = instance_state_check(
            driver, instance_id, "running", ("shutting-down", "terminated", "stopping")
        )
        try:
            ctx.instance = wait_until("instance_running", check, ctx.polling, ctx.cancel)
        except (WaitFailed, AwsError) as exc:
            message = f"Error waiting for instance ({instance_id}) to become ready: {exc}"
            inst = _quietly(lambda: driver.describe_instance(instance_id))
            if inst is not None and (inst.transition_reason or inst.state_reason):
                message += (
                    f"\nInstance state change details: {inst.transition_reason}: "
                    f"{inst.state_reason}"
                )
            raise BuildError(message) from exc
        if ctx.debug:
            inst = ctx.instance
            for label, value in (
                ("Public DNS", inst.public_dns),
                ("Public IP", inst.public_ip),
                ("Private IP", inst.private_ip),
            ):
                if value:
                    ui.message(f"{label}: {value}")

    def cleanup(self, ctx: AmazonRun) -> None:
        if not self._instance_id:
            return
        ui, instance_id = ctx.ui, self._instance_id
        ui.say("Terminating the source AWS instance...")
        try:
            ctx.driver.terminate_instance(instance_id)
        except AwsError as exc:
            ui.error(f"Error terminating instance, may still be around: {exc}")
            return
        check = instance_state_check(ctx.driver, instance_id, "terminated", ("pending", "stopping"))
        try:
            wait_until("instance_terminated", check, ctx.polling, CancelToken())
            self._instance_id = ""
        except (WaitFailed, AwsError) as exc:
            ui.error(f"Error waiting for instance ({instance_id}) to terminate: {exc}")


def _quietly(call: Callable[[], Instance | None]) -> Instance | None:
    try:
        return call()
    except AwsError:
        return None


@dataclass
class StepStopInstance:
    """Stop the instance (unless disable_stop_instance) and wait until it is stopped."""

    name: ClassVar[str] = "StepStopEBSBackedInstance"

    def run(self, ctx: AmazonRun) -> None:
        ui, driver, instance_id = ctx.ui, ctx.driver, ctx.instance_id
        if not ctx.config.disable_stop_instance:
            ui.say("Stopping the source instance...")

            def stop() -> None:
                ui.message("Stopping instance")
                driver.stop_instance(instance_id)

            try:
                retry(
                    stop,
                    retry_on=lambda e: (
                        isinstance(e, AwsError) and e.code == "InvalidInstanceID.NotFound"
                    ),
                    cancel=ctx.cancel,
                    tries=6,
                    first_delay=10.0,
                    max_delay=60.0,
                )
            except AwsError as exc:
                raise BuildError(f"Error stopping instance: {exc}") from exc
        else:
            ui.say("Automatic instance stop disabled. Please stop instance manually.")
        ui.say("Waiting for the instance to stop...")
        check = instance_state_check(driver, instance_id, "stopped", ("pending", "terminated"))
        try:
            ctx.instance = wait_until("instance_stopped", check, ctx.polling, ctx.cancel)
        except (WaitFailed, AwsError) as exc:
            raise BuildError(f"Error waiting for instance to stop: {exc}") from exc

    def cleanup(self, ctx: AmazonRun) -> None:
        """The instance is terminated by StepRunSourceInstance's cleanup."""


@dataclass
class StepModifyInstance:
    """Enable SR-IOV and/or set ENA on the stopped instance (sriov_support, ena_support)."""

    name: ClassVar[str] = "StepModifyEBSBackedInstance"

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui, instance_id = ctx.config, ctx.ui, ctx.instance_id
        if cfg.sriov_support:
            ui.say("Enabling Enhanced Networking (SR-IOV)...")
            try:
                ctx.driver.modify_instance(instance_id, sriov=True)
            except AwsError as exc:
                raise BuildError(
                    f"Error enabling Enhanced Networking (SR-IOV) on {instance_id}: {exc}"
                ) from exc
        if cfg.ena_support is not None:
            prefix = "En" if cfg.ena_support else "Dis"
            ui.say(f"{prefix}abling Enhanced Networking (ENA)...")
            try:
                ctx.driver.modify_instance(instance_id, ena=cfg.ena_support)
            except AwsError as exc:
                raise BuildError(
                    f"Error {prefix.lower()}abling Enhanced Networking (ENA) on {instance_id}: "
                    f"{exc}"
                ) from exc

    def cleanup(self, ctx: AmazonRun) -> None:
        """Nothing to undo."""
