"""A real EC2 endpoint on loopback (moto's server), a seeded source AMI, and a leak check.

Every test here gets AWS_* pointing at the server, and afterwards the endpoint is asked
whether anything the build created is still there: an instance not terminated, a key
pair, a security group, an AMI, a volume, or a snapshot no AMI uses.
"""

from __future__ import annotations

import copy
import http.client
import json
import logging
import os
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from builder.engine import BuildResult, RunOptions, load_template, prepare, run
from builder.events import Event
from builder.multistep import CancelToken
from builder.testing import RecordingSink
from tests.conftest import write_template
from tests.integration.amazon import moto_import
from tests.integration.conftest import free_port, service_missing

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
ACCOUNT = "123456789012"
SOURCE_NAME = "debian-12-amd64-20240101"


@dataclass
class MotoServer:
    """moto's ThreadedMotoServer on 127.0.0.1, with the AMI every build starts from."""

    url: str
    source_ami: str = ""

    def client(self, service: str = "ec2", region: str = "us-east-1", **keys: str) -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id=keys.get("key", "testing"),
            aws_secret_access_key=keys.get("secret", "testing"),
        )

    def inventory(self) -> dict[str, set[str]]:
        """Every instance (not terminated), key pair, group, AMI and snapshot we own."""
        out: dict[str, set[str]] = {}
        for region in REGIONS:
            ec2 = self.client(region=region)
            items: set[str] = set()
            for res in ec2.describe_instances()["Reservations"]:
                for inst in res["Instances"]:
                    if inst["State"]["Name"] != "terminated":
                        items.add(f"instance {inst['InstanceId']} ({inst['State']['Name']})")
            items |= {f"key pair {k['KeyName']}" for k in ec2.describe_key_pairs()["KeyPairs"]}
            items |= {
                f"security group {g['GroupId']} {g['GroupName']}"
                for g in ec2.describe_security_groups()["SecurityGroups"]
            }
            images = ec2.describe_images(Owners=["self"])["Images"]
            items |= {f"image {i['ImageId']} {i.get('Name', '')}" for i in images}
            used = {
                b["Ebs"]["SnapshotId"]
                for i in images
                for b in i.get("BlockDeviceMappings", [])
                if "SnapshotId" in b.get("Ebs", {})
            }
            for snap in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]:
                if snap["SnapshotId"] not in used:
                    items.add(f"orphan snapshot {snap['SnapshotId']}")
            items |= {f"volume {v['VolumeId']}" for v in ec2.describe_volumes()["Volumes"]}
            tasks = ec2.describe_import_image_tasks()["ImportImageTasks"]
            items |= {
                f"import task {t['ImportTaskId']} ({t['Status']})"
                for t in tasks
                if t["Status"] == "active"
            }
            out[region] = items
        s3 = self.client("s3")
        objects: set[str] = set()
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
                objects.add(f"s3 object s3://{name}/{obj['Key']}")
            for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
                objects.add(f"s3 multipart upload s3://{name}/{up['Key']} {up['UploadId']}")
        out["s3"] = objects
        return out

    @contextmanager
    def enforce_iam(self) -> Iterator[None]:
        """Inside: moto checks every request against IAM (users' keys and policies)."""
        from moto import settings

        old = settings.INITIAL_NO_AUTH_ACTION_COUNT
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        try:
            yield
        finally:
            settings.INITIAL_NO_AUTH_ACTION_COUNT = old

    def iam_user(self, name: str, deny: list[str]) -> tuple[str, str]:
        """A user allowed ec2:* except `deny`; returns its access key and secret."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["ec2:*", "sts:*"], "Resource": "*"},
                {"Effect": "Deny", "Action": deny, "Resource": "*"},
            ],
        }
        iam.put_user_policy(UserName=name, PolicyName="build", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]


def _seed_source_ami(server: MotoServer) -> str:
    """Register `debian-12-amd64-20240101`: ours, EBS-backed, HVM, tagged."""
    ec2 = server.client()
    ami = ec2.register_image(Name=SOURCE_NAME, Description="seed")["ImageId"]
    ec2.create_tags(Resources=[ami], Tags=[{"Key": "os", "Value": "debian"}])
    # moto's RegisterImage/CreateImage record root-device-type "standard" and no
    # virtualization type; real EC2 says "ebs"/"hvm" here, and amazon-ebs insists on ebs.
    from moto.ec2.models import ec2_backends

    image = ec2_backends[ACCOUNT]["us-east-1"].amis[ami]
    image.root_device_type, image.virtualization_type = "ebs", "hvm"
    return str(ami)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server for the session; the source AMI is seeded once."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # moto itself, or its server extras (flask, werkzeug)
        service_missing("Python package moto[server] missing: pip install 'moto[server]>=5'")

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved = os.environ.get("MOTO_EC2_LOAD_DEFAULT_AMIS")
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"  # ~1200 public AMIs we never use
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    moto_import.install()  # the suite's extension: VM Import's three actions
    try:
        moto = MotoServer(f"http://127.0.0.1:{port}")
        moto.source_ami = _seed_source_ami(moto)
        yield moto
    finally:
        server.stop()
        if saved is None:
            os.environ.pop("MOTO_EC2_LOAD_DEFAULT_AMIS", None)
        else:
            os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = saved


@pytest.fixture
def aws(
    moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch, plugins: Callable[..., None]
) -> Iterator[MotoServer]:
    """AWS_* set for the endpoint; fails the test if the build left anything behind."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask 169.254.169.254
    from builder.amazon.ebs import Builder

    plugins("builder", "amazon-ebs", Builder)
    before = moto_server.inventory()
    yield moto_server
    after = moto_server.inventory()
    leaked = {r: sorted(after[r] - before[r]) for r in after if after[r] - before[r]}
    assert leaked == {}, f"the build left resources behind: {leaked}"


# --- templates and builds -------------------------------------------------------------------

SOURCE_FILTER = {
    "filters": {"name": "debian-12-amd64-*", "root-device-type": "ebs"},
    "owners": ["self"],
    "most_recent": True,
}


def ebs(**overrides: Any) -> dict[str, Any]:
    """An amazon-ebs builder block for the moto endpoint (no communicator)."""
    cfg: dict[str, Any] = {
        "type": "amazon-ebs",
        "region": "us-east-1",
        "source_ami_filter": SOURCE_FILTER,
        "instance_type": "t2.micro",
        "ami_name": f"pybuild-it-{secrets.token_hex(4)}-{{{{timestamp}}}}",
        "communicator": "none",
    }
    cfg.update(overrides)
    return cfg


def over_ssh(host: Any, **overrides: Any) -> dict[str, Any]:
    """Connect to the sshd test host, with a temporary EC2 key pair offered first."""
    return ebs(
        communicator="ssh",
        ssh_host=host.host,
        ssh_port=host.port,
        ssh_username=host.user,
        ssh_password=host.password,
        ssh_timeout="30s",
        temporary_key_pair_name=f"packer_it_{secrets.token_hex(4)}",
        **overrides,
    )


class CancellingSink(RecordingSink):
    """Records events; when a say starts with `trigger`, calls `action` (default: cancel
    the run) a second later from another thread, or with `delay=None` at once, in the
    build's own thread (the build waits for it: a look at the endpoint mid-build)."""

    def __init__(
        self,
        cancel: CancelToken,
        trigger: str,
        action: Callable[[], None] | None = None,
        delay: float | None = 1.0,
    ):
        super().__init__()
        self.cancel, self.trigger, self.delay = cancel, trigger, delay
        self.action = action or cancel.cancel

    def emit(self, event: Event) -> None:
        super().emit(event)
        if str(getattr(event, "text", "")).startswith(self.trigger):
            if self.delay is None:
                self.action()
            else:
                threading.Timer(self.delay, self.action).start()


def go(
    tmp_path: Path,
    builder: dict[str, Any],
    provisioners: list[dict[str, Any]] | None = None,
    sink: RecordingSink | None = None,
    run_options: dict[str, Any] | None = None,
    **extra: Any,
) -> tuple[BuildResult, RecordingSink]:
    """Run one amazon-ebs build in-process through the engine; (its result, the events)."""
    template: dict[str, Any] = {"builders": [builder], **extra}
    if provisioners:
        template["provisioners"] = provisioners
    path = write_template(tmp_path, template)
    sink = sink if sink is not None else RecordingSink()
    cancel = getattr(sink, "cancel", None) or CancelToken()
    options = RunOptions(cancel=cancel, **(run_options or {}))
    prepared = prepare(load_template(str(path)), options)
    assert not prepared.errors, prepared.errors
    return run(prepared, sink)["amazon-ebs"], sink


def destroy_amis(server: MotoServer, amis: dict[str, str]) -> None:
    """Deregister AMIs and delete their snapshots straight at the endpoint."""
    for region, ami in amis.items():
        ec2 = server.client(region=region)
        for image in ec2.describe_images(ImageIds=[ami])["Images"]:
            ec2.deregister_image(ImageId=ami)
            for mapping in image.get("BlockDeviceMappings", []):
                if "SnapshotId" in mapping.get("Ebs", {}):
                    ec2.delete_snapshot(SnapshotId=mapping["Ebs"]["SnapshotId"])


# --- what the driver sent -------------------------------------------------------------------


@dataclass(frozen=True)
class ApiCall:
    service: str
    operation: str
    params: dict[str, Any]


class ApiRecorder:
    """Every call of every client the driver makes: the parameters botocore serialises
    (`before-parameter-build`) and each HTTP attempt (`before-send`, so retries show).
    For what moto takes but does not model (CreditSpecification, product codes, ...)."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self.sends: Counter[str] = Counter()
        self.retry_configs: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def hook(self, client: Any) -> None:
        service = client.meta.service_model.service_name
        self.retry_configs.append(dict(client.meta.config.retries))

        def params(params: dict[str, Any], model: Any, **_: Any) -> None:
            # an S3 body is a file object: recorded by its type, not copied
            kept = {k: (type(v).__name__ if k == "Body" else v) for k, v in params.items()}
            with self._lock:
                self.calls.append(ApiCall(service, model.name, copy.deepcopy(kept)))

        def send(request: Any, **_: Any) -> None:
            body = request.body or b""
            text = body.decode() if isinstance(body, bytes) else str(body)
            action = parse_qs(text).get("Action", ["?"])[0]
            with self._lock:
                self.sends[action] += 1

        client.meta.events.register("before-parameter-build", params)
        client.meta.events.register("before-send", send)

    def operations(self) -> list[str]:
        return [c.operation for c in self.calls]

    def params(self, operation: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.operation == operation]

    def counts(self) -> Counter[str]:
        return Counter(self.operations())


@pytest.fixture
def api() -> Iterator[ApiRecorder]:
    """Records the driver's requests for the test's builds."""
    from builder.amazon.common import sdk

    recorder = ApiRecorder()
    sdk.CLIENT_HOOKS.append(recorder.hook)
    yield recorder
    sdk.CLIENT_HOOKS.remove(recorder.hook)


# --- stand-ins for what a real instance and a busy endpoint do -------------------------------


def authorize_key(host: Any, public_key: str) -> None:
    """Append a public key to the sshd test host user's authorized_keys."""
    line = public_key.strip().replace("'", "")
    code, out = host.exec(
        f"home=$(getent passwd {host.user} | cut -d: -f6); "
        f"printf '%s\\n' '{line}' >> \"$home/.ssh/authorized_keys\""
    )
    assert code == 0, out


@contextmanager
def cloud_init_keys(server: MotoServer, host: Any, region: str = "us-east-1") -> Iterator[None]:
    """Play cloud-init: the key pair each launched instance names goes into `host`'s
    authorized_keys, so the build's temporary EC2 key is what opens the SSH session."""
    from botocore.exceptions import ClientError

    ec2 = server.client(region=region)
    stop = threading.Event()
    done: set[str] = set()
    live = [{"Name": "instance-state-name", "Values": ["pending", "running"]}]

    def loop() -> None:
        while not stop.wait(0.05):
            try:
                reservations = ec2.describe_instances(Filters=live)["Reservations"]
                names = {i.get("KeyName") for r in reservations for i in r["Instances"]}
                for name in sorted(n for n in names if n and n not in done):
                    pairs = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)
                    authorize_key(host, pairs["KeyPairs"][0]["PublicKey"])
                    done.add(name)
            except ClientError:  # the build deleted the pair already
                continue

    thread = threading.Thread(target=loop, name="cloud-init", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def loopback_network(server: MotoServer, tag: str) -> tuple[str, str, list[str]]:
    """A VPC and a /28 subnet inside 127.0.0.0/8: instances get loopback private IPs.
    Returns (vpc id, subnet id, the subnet's host addresses)."""
    import ipaddress

    ec2 = server.client()
    third = secrets.randbelow(250) + 2
    vpc = ec2.create_vpc(CidrBlock=f"127.{third}.0.0/16")["Vpc"]["VpcId"]
    cidr = f"127.{third}.{secrets.randbelow(250) + 2}.0/28"
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
    ec2.create_tags(Resources=[vpc, subnet], Tags=[{"Key": "Name", "Value": tag}])
    hosts = [str(h) for h in ipaddress.ip_network(cidr).hosts()]
    return vpc, subnet, hosts


def delete_network(server: MotoServer, vpc: str) -> None:
    """Remove a VPC the test made, with its subnets and non-default groups."""
    ec2 = server.client()
    by_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
    for subnet in ec2.describe_subnets(Filters=by_vpc)["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    for group in ec2.describe_security_groups(Filters=by_vpc)["SecurityGroups"]:
        if group["GroupName"] != "default":
            ec2.delete_security_group(GroupId=group["GroupId"])
    ec2.delete_vpc(VpcId=vpc)


THROTTLED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
    b"<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
    b"</Error></Errors><RequestID>pybuild-throttle</RequestID></Response>"
)


class ThrottlingProxy:
    """An HTTP proxy on 127.0.0.1 in front of moto: the first `throttle[action]` requests
    of an action get EC2's `503 RequestLimitExceeded`; everything else goes through."""

    def __init__(self, upstream: str):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        target = urlsplit(upstream)
        self.throttle: dict[str, int] = {}
        self.throttled: Counter[str] = Counter()
        self.passed: Counter[str] = Counter()
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = parse_qs(body.decode()).get("Action", ["?"])[0]
                with lock:
                    refuse = proxy.throttle.get(action, 0) > 0
                    if refuse:
                        proxy.throttle[action] -= 1
                        proxy.throttled[action] += 1
                    else:
                        proxy.passed[action] += 1
                if refuse:
                    self._answer(503, {"Content-Type": "text/xml"}, THROTTLED)
                    return
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                try:
                    conn.request("POST", self.path, body, dict(self.headers.items()))
                    resp = conn.getresponse()
                    self._answer(resp.status, dict(resp.getheaders()), resp.read())
                finally:
                    conn.close()

            def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                skip = ("content-length", "connection", "transfer-encoding", "server", "date")
                for key, value in headers.items():
                    if key.lower() not in skip:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def throttling(aws: MotoServer) -> Iterator[ThrottlingProxy]:
    """A throttling proxy in front of the moto server; closed after the test."""
    proxy = ThrottlingProxy(aws.url)
    yield proxy
    proxy.close()
