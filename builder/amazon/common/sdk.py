"""`Boto3Driver`: the Ec2Driver over boto3 — the only module that imports boto3/botocore.

boto3 is imported inside functions, when a build runs, never at validate time.
Every SDK exception stops here and becomes an `AwsError` naming the operation.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from builder.amazon.common.driver import (
    AwsError,
    Filters,
    Image,
    ImportSpec,
    ImportTask,
    Instance,
    KeyPairInfo,
    LaunchSpec,
    SecurityGroup,
    SessionSettings,
    Subnet,
    Upload,
    Vpc,
)
from builder.amazon.common.shapes import (
    api_device,
    api_filters,
    api_tags,
    group_of,
    image_of,
    instance_of,
    key_pair_of,
    tag_specs,
    tags_of,
)
from builder.errors import BuildCancelled

if TYPE_CHECKING:
    from builder.amazon.common.config import BlockDevice
    from builder.multistep import CancelToken

# Called with every EC2/STS client the driver creates (the benchmark counts calls this way).
CLIENT_HOOKS: list[Callable[[Any], None]] = []

_ENCODED = re.compile(r"Encoded authorization failure message: ([\w-]+)")
NO_CREDENTIALS = (
    "No valid credential sources found for AWS Builder. Please see "
    "https://www.packer.io/docs/builders/amazon#authentication for more information on "
    "providing credentials for the AWS Builder."
)


class Boto3Driver:
    """EC2 in one region through boto3; clients are shared between regions' drivers."""

    def __init__(self, settings: SessionSettings, region: str | None = None, _shared: Any = None):
        self.settings = settings
        self.region = region or settings.region
        self._shared = _shared if _shared is not None else _Sessions(settings)

    def in_region(self, region: str) -> Boto3Driver:
        return Boto3Driver(self.settings, region, self._shared)

    def close(self) -> None:
        self._shared.close()

    def _call(self, operation: str, **params: Any) -> Any:
        return self._call_on("ec2", operation, **params)

    def _call_on(self, service: str, operation: str, **params: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
        from botocore.parsers import ResponseParserError

        method = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
        try:
            client = self._shared.client(service, self.region)
            return getattr(client, method)(**{k: v for k, v in params.items() if v is not None})
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", ""), error.get("Message", str(exc))
            if code == "UnauthorizedOperation" and self.settings.decode_authorization_messages:
                message = self._shared.decode(message, self.region)
            raise AwsError(operation, code, message) from exc
        except NoCredentialsError as exc:
            raise AwsError(operation, "NoCredentialProviders", NO_CREDENTIALS) from exc
        except (BotoCoreError, ResponseParserError) as exc:  # the latter: not XML (a proxy's 5xx)
            raise AwsError(operation, type(exc).__name__, str(exc), answered=False) from exc

    def list_regions(self) -> list[str]:
        resp = self._call("DescribeRegions", AllRegions=False)
        return sorted(r["RegionName"] for r in resp.get("Regions", []))

    # ------------------------------------------------------------------ images
    def describe_images(
        self,
        *,
        image_ids: Sequence[str] = (),
        owners: Sequence[str] = (),
        filters: Filters | None = None,
    ) -> list[Image]:
        resp = self._call(
            "DescribeImages",
            ImageIds=list(image_ids) or None,
            Owners=list(owners) or None,
            Filters=api_filters(filters) or None,
        )
        return [image_of(i) for i in resp.get("Images", [])]

    def create_image(
        self, instance_id: str, name: str, description: str, devices: Sequence[BlockDevice]
    ) -> str:
        resp = self._call(
            "CreateImage",
            InstanceId=instance_id,
            Name=name,
            Description=description or None,
            BlockDeviceMappings=[api_device(d) for d in devices] or None,
        )
        return str(resp["ImageId"])

    def copy_image(
        self,
        source_region: str,
        source_image_id: str,
        name: str,
        description: str,
        encrypted: bool | None,
        kms_key_id: str,
    ) -> str:
        resp = self._call(
            "CopyImage",
            SourceRegion=source_region,
            SourceImageId=source_image_id,
            Name=name,
            Description=description or None,
            Encrypted=encrypted,
            KmsKeyId=kms_key_id or None,
        )
        return str(resp["ImageId"])

    def deregister_image(self, image_id: str) -> None:
        self._call("DeregisterImage", ImageId=image_id)

    def delete_snapshot(self, snapshot_id: str) -> None:
        self._call("DeleteSnapshot", SnapshotId=snapshot_id)

    def modify_image(
        self,
        image_id: str,
        *,
        description: str | None = None,
        users: Sequence[str] = (),
        groups: Sequence[str] = (),
        product_codes: Sequence[str] = (),
    ) -> None:
        if description is not None:
            self._call("ModifyImageAttribute", ImageId=image_id, Description={"Value": description})
        adds = [{"Group": g} for g in groups] + [{"UserId": u} for u in users]
        if adds:
            self._call("ModifyImageAttribute", ImageId=image_id, LaunchPermission={"Add": adds})
        if product_codes:
            self._call("ModifyImageAttribute", ImageId=image_id, ProductCodes=list(product_codes))

    def modify_snapshot(
        self, snapshot_id: str, *, users: Sequence[str] = (), groups: Sequence[str] = ()
    ) -> None:
        if users or groups:  # the OperationType form: same effect, and moto models it
            self._call(
                "ModifySnapshotAttribute",
                SnapshotId=snapshot_id,
                Attribute="createVolumePermission",
                OperationType="add",
                UserIds=list(users) or None,
                GroupNames=list(groups) or None,
            )

    def create_tags(self, resource_ids: Sequence[str], tags: Mapping[str, str]) -> None:
        self._call("CreateTags", Resources=list(resource_ids), Tags=api_tags(tags))

    # ------------------------------------------------------------------ network
    def describe_vpcs(
        self, *, vpc_ids: Sequence[str] = (), filters: Filters | None = None
    ) -> list[Vpc]:
        resp = self._call(
            "DescribeVpcs", VpcIds=list(vpc_ids) or None, Filters=api_filters(filters) or None
        )
        return [Vpc(v["VpcId"], bool(v.get("IsDefault"))) for v in resp.get("Vpcs", [])]

    def describe_subnets(
        self, *, subnet_ids: Sequence[str] = (), filters: Filters | None = None
    ) -> list[Subnet]:
        resp = self._call(
            "DescribeSubnets",
            SubnetIds=list(subnet_ids) or None,
            Filters=api_filters(filters) or None,
        )
        return [
            Subnet(
                s["SubnetId"],
                s.get("VpcId", ""),
                s.get("AvailabilityZone", ""),
                int(s.get("AvailableIpAddressCount") or 0),
            )
            for s in resp.get("Subnets", [])
        ]

    def describe_security_groups(
        self, *, group_ids: Sequence[str] = (), filters: Filters | None = None
    ) -> list[SecurityGroup]:
        resp = self._call(
            "DescribeSecurityGroups",
            GroupIds=list(group_ids) or None,
            Filters=api_filters(filters) or None,
        )
        return [group_of(g) for g in resp.get("SecurityGroups", [])]

    def create_security_group(
        self, name: str, description: str, vpc_id: str, tags: Mapping[str, str]
    ) -> str:
        resp = self._call(
            "CreateSecurityGroup",
            GroupName=name,
            Description=description,
            VpcId=vpc_id or None,
            TagSpecifications=tag_specs(("security-group", tags)) or None,
        )
        return str(resp["GroupId"])

    def authorize_ingress(self, group_id: str, port: int, cidrs: Sequence[str]) -> None:
        v6 = [c for c in cidrs if ":" in c]  # EC2 takes IPv6 ranges only in Ipv6Ranges
        permission: dict[str, Any] = {
            "IpProtocol": "tcp",
            "FromPort": port,
            "ToPort": port,
            "IpRanges": [{"CidrIp": c} for c in cidrs if c not in v6],
        }
        if v6:
            permission["Ipv6Ranges"] = [{"CidrIpv6": c} for c in v6]
        self._call("AuthorizeSecurityGroupIngress", GroupId=group_id, IpPermissions=[permission])

    def delete_security_group(self, group_id: str) -> None:
        self._call("DeleteSecurityGroup", GroupId=group_id)

    # ------------------------------------------------------------------ key pairs
    def create_key_pair(self, name: str, key_type: str, tags: Mapping[str, str]) -> str:
        resp = self._call(
            "CreateKeyPair",
            KeyName=name,
            KeyType=key_type or None,
            TagSpecifications=tag_specs(("key-pair", tags)) or None,
        )
        return str(resp["KeyMaterial"])

    def describe_key_pairs(self, *, filters: Filters | None = None) -> list[KeyPairInfo]:
        resp = self._call("DescribeKeyPairs", Filters=api_filters(filters) or None)
        return [key_pair_of(k) for k in resp.get("KeyPairs", [])]

    def delete_key_pair(self, name: str) -> None:
        self._call("DeleteKeyPair", KeyName=name)

    # ------------------------------------------------------------------ instances
    def run_instance(self, spec: LaunchSpec) -> str:
        devices = [api_device(d) for d in spec.block_devices]
        if spec.no_ephemeral:
            devices += [
                {"DeviceName": f"xvdc{c}", "NoDevice": ""} for c in "abcdefghijklmnopqrstuvwxyz"
            ]
        placement = {"AvailabilityZone": spec.availability_zone, "Tenancy": spec.tenancy}
        params: dict[str, Any] = {
            "ClientToken": spec.client_token or None,
            "ImageId": spec.image_id,
            "InstanceType": spec.instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "UserData": spec.user_data or None,
            "KeyName": spec.key_name or None,
            "EbsOptimized": spec.ebs_optimized,
            "BlockDeviceMappings": devices or None,
            "Placement": {k: v for k, v in placement.items() if v} or None,
            "IamInstanceProfile": {"Name": spec.iam_instance_profile}
            if spec.iam_instance_profile
            else None,
            "InstanceInitiatedShutdownBehavior": spec.shutdown_behavior or None,
            "CreditSpecification": {"CpuCredits": "unlimited"} if spec.t2_unlimited else None,
        }
        specs = tag_specs(("instance", spec.tags), ("volume", spec.volume_tags))
        params["TagSpecifications"] = specs or None
        groups = list(spec.security_group_ids) or None
        if spec.subnet_id and spec.associate_public_ip:
            params["NetworkInterfaces"] = [
                {
                    "DeviceIndex": 0,
                    "AssociatePublicIpAddress": True,
                    "SubnetId": spec.subnet_id,
                    "Groups": groups,
                    "DeleteOnTermination": True,
                }
            ]
        else:
            params["SubnetId"] = spec.subnet_id or None
            params["SecurityGroupIds"] = groups
        resp = self._call("RunInstances", **params)
        return str(resp["Instances"][0]["InstanceId"])

    def describe_instance(self, instance_id: str) -> Instance | None:
        try:
            resp = self._call("DescribeInstances", InstanceIds=[instance_id])
        except AwsError as exc:
            if exc.code == "InvalidInstanceID.NotFound":
                return None
            raise
        for reservation in resp.get("Reservations", []):
            for raw in reservation.get("Instances", []):
                return instance_of(raw)
        return None

    def describe_instances(self, *, filters: Filters | None = None) -> list[Instance]:
        resp = self._call("DescribeInstances", Filters=api_filters(filters) or None)
        return [
            instance_of(raw)
            for reservation in resp.get("Reservations", [])
            for raw in reservation.get("Instances", [])
        ]

    def stop_instance(self, instance_id: str) -> None:
        self._call("StopInstances", InstanceIds=[instance_id])

    def terminate_instance(self, instance_id: str) -> None:
        self._call("TerminateInstances", InstanceIds=[instance_id])

    def modify_instance(
        self, instance_id: str, *, sriov: bool = False, ena: bool | None = None
    ) -> None:
        if sriov:
            self._call(
                "ModifyInstanceAttribute",
                InstanceId=instance_id,
                SriovNetSupport={"Value": "simple"},
            )
        if ena is not None:
            self._call("ModifyInstanceAttribute", InstanceId=instance_id, EnaSupport={"Value": ena})

    def describe_volumes(self, volume_ids: Sequence[str]) -> list[tuple[str, str]]:
        if not volume_ids:
            return []
        resp = self._call(
            "DescribeVolumes", Filters=[{"Name": "volume-id", "Values": list(volume_ids)}]
        )
        return [(v["VolumeId"], v.get("State", "")) for v in resp.get("Volumes", [])]

    def delete_volume(self, volume_id: str) -> None:
        self._call("DeleteVolume", VolumeId=volume_id)

    # ------------------------------------------------------------------ VM Import
    def import_image(self, spec: ImportSpec) -> str:
        resp = self._call(
            "ImportImage",
            DiskContainers=[
                {"Format": spec.format, "UserBucket": {"S3Bucket": spec.bucket, "S3Key": spec.key}}
            ],
            Encrypted=spec.encrypted,
            KmsKeyId=spec.kms_key_id or None,
            RoleName=spec.role_name or None,
            LicenseType=spec.license_type or None,
            Description=spec.description or None,
            TagSpecifications=tag_specs(("import-image-task", spec.tags)) or None,
        )
        return str(resp["ImportTaskId"])

    def describe_import_task(self, task_id: str) -> ImportTask | None:
        try:
            resp = self._call("DescribeImportImageTasks", ImportTaskIds=[task_id])
        except AwsError as exc:
            if exc.code.startswith("InvalidConversionTaskId"):
                return None
            raise
        found = [_import_task(t) for t in resp.get("ImportImageTasks", [])]
        return found[0] if found else None

    def describe_import_tasks(self) -> list[ImportTask]:
        resp = self._call("DescribeImportImageTasks")
        return [_import_task(t) for t in resp.get("ImportImageTasks", [])]

    def cancel_import_task(self, task_id: str) -> None:
        self._call("CancelImportTask", ImportTaskId=task_id)

    # ------------------------------------------------------------------ S3
    def upload_file(
        self, upload: Upload, progress: Callable[[int], None], cancel: CancelToken
    ) -> None:
        """s3transfer's TransferManager (boto3's upload_file) with a cancel: a cancelled or
        failed multipart upload is aborted by s3transfer's failure cleanup."""
        import urllib.parse

        from botocore.exceptions import BotoCoreError, ClientError
        from s3transfer.exceptions import CancelledError
        from s3transfer.manager import TransferConfig, TransferManager
        from s3transfer.subscribers import BaseSubscriber

        sent = [0]

        class Sent(BaseSubscriber):  # type: ignore[misc]
            def on_progress(self, future: Any, bytes_transferred: int, **_: Any) -> None:
                sent[0] += bytes_transferred
                progress(sent[0])

        extra: dict[str, str] = {}
        if upload.encryption:
            extra["ServerSideEncryption"] = upload.encryption
            if upload.encryption == "aws:kms" and upload.kms_key_id:
                extra["SSEKMSKeyId"] = upload.kms_key_id
        if upload.tags:
            extra["Tagging"] = urllib.parse.urlencode(dict(upload.tags))
        client = self._shared.client("s3", self.region)
        manager = TransferManager(client, TransferConfig())
        cancelled = False
        try:
            future = manager.upload(
                upload.path, upload.bucket, upload.key, extra_args=extra, subscribers=[Sent()]
            )
            while not future.done():
                if cancel.wait(0.2):
                    cancelled = True
                    future.cancel()
                    break
            future.result()
        except CancelledError as exc:
            raise BuildCancelled() from exc
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise AwsError(
                "PutObject", error.get("Code", ""), error.get("Message", str(exc))
            ) from exc
        except BotoCoreError as exc:
            raise AwsError("PutObject", type(exc).__name__, str(exc), answered=False) from exc
        finally:
            manager.shutdown(cancel=cancelled)
        if cancelled:
            raise BuildCancelled()

    def object_exists(self, bucket: str, key: str) -> bool:
        try:
            self._call_on("s3", "HeadObject", Bucket=bucket, Key=key)
        except AwsError as exc:
            if exc.code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete_object(self, bucket: str, key: str) -> None:
        self._call_on("s3", "DeleteObject", Bucket=bucket, Key=key)

    def abort_multipart_uploads(self, bucket: str, key: str) -> int:
        resp = self._call_on("s3", "ListMultipartUploads", Bucket=bucket, Prefix=key)
        aborted = 0
        for up in resp.get("Uploads", []):
            if up.get("Key") == key:
                self._call_on("s3", "AbortMultipartUpload", Bucket=bucket, Key=key,
                              UploadId=up["UploadId"])  # fmt: skip
                aborted += 1
        return aborted


def _import_task(raw: Mapping[str, Any]) -> ImportTask:
    return ImportTask(
        id=str(raw.get("ImportTaskId", "")),
        status=str(raw.get("Status", "")),
        status_message=str(raw.get("StatusMessage", "")),
        progress=str(raw.get("Progress", "")),
        image_id=str(raw.get("ImageId", "")),
        tags=tags_of(raw),
    )


class _Sessions:
    """One boto3 session per build (credentials resolved once), one client per region."""

    def __init__(self, settings: SessionSettings):
        self.settings = settings
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._others: list[Any] = []  # the STS client that refreshes a role's credentials

    def _config(self) -> Any:
        """botocore's retry handler (standard, or adaptive) retries throttling and 5xx.

        `max_attempts` is always set: botocore would otherwise take AWS_MAX_ATTEMPTS, which
        Packer users set for polling (see polling.Polling), as the number of tries per call.
        """
        from botocore.config import Config

        retries = {"mode": self.settings.retry_mode, "max_attempts": self.settings.retries()}
        return Config(retries=retries, user_agent_extra="pybuild")

    def close(self) -> None:
        """Close every client's connections; a later call opens new ones."""
        with self._lock:
            clients, self._clients = [*self._clients.values(), *self._others], {}
            self._others = []
        for client in clients:
            client.close()

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                s = self.settings
                endpoint = s.endpoint if service == "ec2" and s.endpoint else None
                client = self._base_session().client(
                    service,
                    region_name=region,
                    endpoint_url=endpoint,
                    verify=s.verify_tls,
                    config=self._config(),
                )
                for hook in list(CLIENT_HOOKS):
                    hook(client)
                self._clients[key] = client
            return self._clients[key]

    def decode(self, message: str, region: str) -> str:
        """decode_authorization_messages: STS turns the encoded reason into JSON text."""
        from botocore.exceptions import BotoCoreError, ClientError

        found = _ENCODED.search(message)
        if not found:
            return message
        try:
            sts = self.client("sts", region)
            decoded = sts.decode_authorization_message(EncodedMessage=found.group(1))
        except (BotoCoreError, ClientError):
            return message
        return _ENCODED.sub("", message).strip() + " " + decoded["DecodedMessage"]

    def _base_session(self) -> Any:
        if self._session is None:
            self._session = self._open()
        return self._session

    def _open(self) -> Any:
        import boto3
        import botocore.session
        from botocore.exceptions import BotoCoreError

        s = self.settings
        core = botocore.session.Session()
        if s.shared_credentials_file:
            core.set_config_variable("credentials_file", s.shared_credentials_file)
        keys: dict[str, str] = {}
        env_key, env_secret = (
            os.environ.get("AWS_ACCESS_KEY_ID"),
            os.environ.get("AWS_SECRET_ACCESS_KEY"),
        )
        if s.access_key:  # Packer's chain: static, then environment, then the shared file
            keys = {"aws_access_key_id": s.access_key, "aws_secret_access_key": s.secret_key}
            if s.token or os.environ.get("AWS_SESSION_TOKEN"):
                keys["aws_session_token"] = s.token or os.environ["AWS_SESSION_TOKEN"]
        elif env_key and env_secret:
            keys = {"aws_access_key_id": env_key, "aws_secret_access_key": env_secret}
            if os.environ.get("AWS_SESSION_TOKEN"):
                keys["aws_session_token"] = os.environ["AWS_SESSION_TOKEN"]
        try:
            session = boto3.Session(
                botocore_session=core,
                region_name=s.region,
                profile_name=None if keys else (s.profile or None),
                **keys,
            )
            if s.mfa_code:  # a profile with mfa_serial: answer its prompt, never read stdin
                provider = core.get_component("credential_provider").get_provider("assume-role")
                provider._prompter = lambda _prompt: s.mfa_code
        except BotoCoreError as exc:
            raise AwsError("LoadCredentials", type(exc).__name__, str(exc)) from exc
        if s.role_arn:
            session = self._assume_role(session)
        return session

    def _assume_role(self, base: Any) -> Any:
        import boto3
        import botocore.session
        from botocore.credentials import RefreshableCredentials
        from botocore.exceptions import BotoCoreError, ClientError

        s = self.settings
        sts = base.client("sts", region_name=s.region, verify=s.verify_tls, config=self._config())
        self._others.append(sts)
        for hook in list(CLIENT_HOOKS):
            hook(sts)
        params: dict[str, Any] = {
            "RoleArn": s.role_arn,
            "RoleSessionName": s.role_session_name or "pybuild",
        }
        if s.role_duration:
            params["DurationSeconds"] = s.role_duration
        if s.role_external_id:
            params["ExternalId"] = s.role_external_id
        if s.role_policy:
            params["Policy"] = s.role_policy
        if s.role_policy_arns:
            params["PolicyArns"] = [{"arn": a} for a in s.role_policy_arns]
        if s.role_tags:
            params["Tags"] = [{"Key": k, "Value": v} for k, v in s.role_tags]
        if s.role_transitive_tag_keys:
            params["TransitiveTagKeys"] = list(s.role_transitive_tag_keys)

        def fetch() -> dict[str, str]:
            try:
                creds = sts.assume_role(**params)["Credentials"]
            except (ClientError, BotoCoreError) as exc:
                raise AwsError("AssumeRole", "", f"Unable to assume role: {exc}") from exc
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        credentials = RefreshableCredentials.create_from_metadata(
            metadata=fetch(), refresh_using=fetch, method="assume-role"
        )
        core = botocore.session.Session()
        core._credentials = credentials  # boto3 has no public way to hand over refreshable creds
        return boto3.Session(botocore_session=core, region_name=s.region)


def make_driver(settings: SessionSettings) -> Boto3Driver:
    """The real driver for a build (sessions open lazily, on the first call)."""
    return Boto3Driver(settings)
