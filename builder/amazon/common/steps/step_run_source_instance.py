"""StepRunSourceInstance: launch the source instance, wait until it runs; terminate in cleanup."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import PLATFORM, AwsError, Instance, LaunchSpec
from builder.amazon.common.lifecycle import instance_state_check, wait_terminated
from builder.amazon.common.steps.helpers import user_data_bytes
from builder.common.plan import Creates
from builder.common.wait import WaitFailed, retry, wait_until
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.config import AmazonConfig
    from builder.amazon.common.run import AmazonRun
    from builder.ledger import Resource


@dataclass
class StepRunSourceInstance:
    """Launch the source instance with its tags and wait until it runs; terminate in cleanup.

    The launch is recorded under its client token before RunInstances; the instance and
    its volumes carry the run id tag from the launch on. Volumes that outlive it (not
    delete-on-termination, not a launch mapping) are recorded for StepCleanupVolumes.
    """

    name: ClassVar[str] = "StepRunSourceInstance"
    _launched: Resource | None = None

    def plan(self, config: AmazonConfig, build_name: str) -> list[Creates]:
        if config.source_ami:
            source = config.source_ami
        else:
            filt = config.source_ami_filter
            terms = ", ".join(f"{k}={v}" for k, v in sorted(filt.filters.items()))
            owners = f" owned by {', '.join(filt.owners)}" if filt.owners else ""
            newest = "the newest AMI" if filt.most_recent else "the one AMI"
            source = f"{newest} matching {terms or 'any name'}{owners}"
        what = f"instance {config.instance_type} from {source}"
        return [Creates(f"{PLATFORM}.instance", what)]

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui, driver = ctx.config, ctx.ui, ctx.driver
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
        token = uuid.uuid4().hex
        spec = LaunchSpec(
            image_id=image.id,
            instance_type=cfg.instance_type,
            client_token=token,
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
            tags={**run_tags, **ctx.run_tags()},
            volume_tags={**volume_tags, **ctx.run_tags()},
        )
        res = ctx.record("instance", token)
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
            ctx.not_created(res, exc)
            if exc.code == "VPCIdNotSpecified" and not ctx.subnet_id:
                raise BuildError(
                    "Error launching source instance: a valid Subnet Id was not specified"
                ) from exc
            raise BuildError(f"Error launching source instance: {exc}") from exc
        res.created(instance_id)
        self._launched = res
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
        self._record_lasting_volumes(ctx, ctx.instance)
        if ctx.options.debug:
            inst = ctx.instance
            for label, value in (
                ("Public DNS", inst.public_dns),
                ("Public IP", inst.public_ip),
                ("Private IP", inst.private_ip),
            ):
                if value:
                    ui.message(f"{label}: {value}")

    def _record_lasting_volumes(self, ctx: AmazonRun, instance: Instance) -> None:
        """Volumes StepCleanupVolumes deletes after termination: the ledger knows them too."""
        launch = {d.device_name for d in ctx.config.launch_block_device_mappings}
        for volume in instance.volumes:
            if not volume.delete_on_termination and volume.device not in launch:
                res = ctx.record("volume", volume.volume_id, instance=instance.id)
                res.created(volume.volume_id)

    def cleanup(self, ctx: AmazonRun) -> None:
        res = self._launched
        if res is None:
            return
        ui, instance_id = ctx.ui, res.id
        ui.say("Terminating the source AWS instance...")
        try:
            ctx.driver.terminate_instance(instance_id)
        except AwsError as exc:
            if exc.code != "InvalidInstanceID.NotFound":
                ui.error(f"Error terminating instance, may still be around: {exc}")
                return
        try:
            wait_terminated(ctx.driver, instance_id, ctx.polling)
        except (WaitFailed, AwsError) as exc:
            ui.error(f"Error waiting for instance ({instance_id}) to terminate: {exc}")
            return
        res.released()
        self._launched = None


def _quietly(call: Callable[[], Instance | None]) -> Instance | None:
    try:
        return call()
    except AwsError:
        return None
