"""amazon-ebs against a local EC2 endpoint: API calls per build, and polling overshoot.

    python bench/aws_calls.py [--latency 2.5] [--delays 15,default,1] [--regions 2]

Starts moto's server on 127.0.0.1 (no network), seeds a source AMI, and runs sshd-free
builds (communicator none) in-process:

1. API calls per successful build, counted with botocore's `before-call` event on every
   client the driver makes (`before-send` counts HTTP attempts, so retries show), for a
   single-region build and one copying to `--regions` more regions.
2. Polling overshoot: the endpoint is made to need `--latency` seconds for every state
   change (pending -> running, stopping -> stopped, shutting-down -> terminated, AMI
   pending -> available) by wrapping moto's in-process state; each wait's overshoot is
   how long it waited beyond that. Run once per `--delays` value of aws_polling:
   `15` is Packer's behaviour (the SDK waiters' fixed 15 s), `default` is pybuild's
   (no aws_polling: 1 s doubling up to 15 s, same overall budget).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACCOUNT = "123456789012"
SOURCE_NAME = "debian-12-amd64-20240101"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> tuple[Any, str]:
    """moto on loopback without its ~1200 default AMIs; returns (server, url)."""
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def seed(url: str) -> str:
    """The source AMI, EBS-backed and HVM like a real one."""
    import boto3
    from moto.ec2.models import ec2_backends

    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=url)
    ami = ec2.register_image(Name=SOURCE_NAME, Description="seed")["ImageId"]
    image = ec2_backends[ACCOUNT]["us-east-1"].amis[ami]
    image.root_device_type, image.virtualization_type = "ebs", "hvm"
    return str(ami)


class Latency:
    """Makes moto's instances and AMIs take `seconds` for every state change."""

    seconds = 0.0
    BETWEEN = {
        "running": ("pending", 0),
        "stopped": ("stopping", 64),
        "terminated": ("shutting-down", 32),
    }

    @classmethod
    def install(cls) -> None:
        from moto.ec2.models.amis import Ami
        from moto.ec2.models.instances import Instance

        class Timed:
            """An InstanceState that reports the in-between state until the latency passed."""

            def __init__(self, real: Any):
                self.__dict__.update(real=real, since=time.monotonic())

            def __getattr__(self, key: str) -> Any:
                real = self.__dict__.get("real")
                if real is None or key.startswith("__"):
                    raise AttributeError(key)
                between = cls.BETWEEN.get(real.name)
                if between and time.monotonic() - self.__dict__["since"] < cls.seconds:
                    return {"name": between[0], "code": between[1]}.get(key, getattr(real, key))
                return getattr(real, key)

            def __setattr__(self, key: str, value: Any) -> None:
                setattr(self.__dict__["real"], key, value)
                if key == "name":
                    self.__dict__["since"] = time.monotonic()

        def get_state(inst: Any) -> Any:
            if "_timed_state" not in inst.__dict__:  # made before the latency was installed
                inst.__dict__["_timed_state"] = Timed(inst.__dict__["_state"])
            return inst.__dict__["_timed_state"]

        def set_state(inst: Any, value: Any) -> None:
            inst.__dict__["_timed_state"] = value if isinstance(value, Timed) else Timed(value)

        def get_ami_state(ami: Any) -> str:
            real = ami.__dict__.get("_real_state", ami.__dict__.get("state"))
            born = ami.__dict__.get("_born", 0.0)
            if real == "available" and time.monotonic() - born < cls.seconds:
                return "pending"
            return str(real)

        def set_ami_state(ami: Any, value: str) -> None:
            ami.__dict__["_real_state"] = value
            ami.__dict__.setdefault("_born", time.monotonic())

        Instance._state = property(get_state, set_state)  # type: ignore[assignment]
        Ami.state = property(get_ami_state, set_ami_state)  # type: ignore[assignment, method-assign]


class Meter:
    """API calls (botocore events) and waits (waiter observers) of one build."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.sends = 0
        self.api_seconds = 0.0
        self.waits: list[Any] = []
        self._started: dict[int, float] = {}

    def hook(self, client: Any) -> None:
        events = client.meta.events

        def before(model: Any, **_: Any) -> None:
            self.calls[f"{client.meta.service_model.service_name}:{model.name}"] += 1
            self._started[id(model)] = time.perf_counter()

        def after(model: Any, **_: Any) -> None:
            self.api_seconds += time.perf_counter() - self._started.pop(
                id(model), time.perf_counter()
            )

        def send(**_: Any) -> None:
            self.sends += 1

        events.register("before-call.*.*", before)
        events.register("after-call.*.*", after)
        events.register("before-send.*.*", send)


def run_build(url: str, builder: dict[str, Any], meter: Meter) -> tuple[float, Any]:
    """One build through the engine, output discarded; returns (seconds, artifact)."""
    from builder.amazon.common import sdk
    from builder.common import wait
    from builder.engine import RunOptions, load_template, prepare, run
    from builder.testing import RecordingSink

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.json"
        path.write_text(json.dumps({"builders": [builder]}))
        prepared = prepare(load_template(str(path)), RunOptions())
        if prepared.errors:
            raise SystemExit(str(prepared.errors))
        sdk.CLIENT_HOOKS.append(meter.hook)
        wait.OBSERVERS.append(meter.waits.append)
        started = time.perf_counter()
        try:
            result = run(prepared, RecordingSink())["amazon-ebs"]
        finally:
            sdk.CLIENT_HOOKS.remove(meter.hook)
            wait.OBSERVERS.remove(meter.waits.append)
        elapsed = time.perf_counter() - started
    if result.error is not None:
        raise SystemExit(f"build failed: {result.error}")
    return elapsed, result.artifacts[0]


def template(regions: list[str], delay: str) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "type": "amazon-ebs",
        "region": "us-east-1",
        "source_ami_filter": {
            "filters": {"name": "debian-12-*"},
            "owners": ["self"],
            "most_recent": True,
        },
        "instance_type": "t3.micro",
        "ami_name": "bench-{{timestamp}}-" + os.urandom(3).hex(),
        "communicator": "none",
        "tags": {"Name": "bench {{ .SourceAMIName }}"},
        "ami_regions": regions,
    }
    if delay != "default":
        cfg["aws_polling"] = {"delay_seconds": float(delay), "max_attempts": 600}
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=2.5, help="seconds every state change takes")
    ap.add_argument("--delays", default="15,default,1", help="aws_polling delays to compare")
    ap.add_argument("--regions", type=int, default=2, help="copy regions for the second count")
    args = ap.parse_args()
    server, url = start_moto()
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_ENDPOINT_URL=url
    )
    try:
        from builder.amazon.ebs import Builder
        from builder.plugins import registry

        registry.register("builder", "amazon-ebs", Builder)
        seed(url)
        copy_to = ["us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"][: args.regions]
        print("== EC2 API calls per successful build (communicator none, instant endpoint)")
        for label, regions in (("1 region", []), (f"1 + {len(copy_to)} copies", copy_to)):
            meter = Meter()
            seconds, artifact = run_build(url, template(regions, "0.2"), meter)
            calls, sends, api = Counter(meter.calls), meter.sends, meter.api_seconds
            artifact.destroy()
            print(
                f"{label:>16}: {sum(calls.values())} API calls, {sends} HTTP requests, "
                f"{api:.2f} s in calls, build {seconds:.2f} s"
            )
            print(" " * 18 + ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(calls.items())))
        Latency.install()
        Latency.seconds = args.latency
        print(
            f"\n== Polling overshoot: every state change takes {args.latency:g} s at the endpoint"
        )
        for delay in args.delays.split(","):
            meter = Meter()
            seconds, artifact = run_build(url, template(copy_to[:1], delay), meter)
            artifact.destroy()
            timed = [w for w in meter.waits if w.waiter != "security_group_exists"]
            over = [max(0.0, w.elapsed - args.latency) for w in timed]
            print(
                f"  aws_polling {delay:>7}: {len(timed)} waits, {sum(w.polls for w in timed)} polls, "
                f"waited {sum(w.elapsed for w in timed):.1f} s of which {sum(over):.1f} s beyond "
                f"the endpoint (median {statistics.median(over):.2f} s, max {max(over):.2f} s per "
                f"wait); build {seconds:.1f} s"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
