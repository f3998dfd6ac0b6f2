"""S3 upload of a disk image to moto: amazon-import (pybuild) against boto3 and curl.

    python bench/s3_upload.py [--size-mb 1024] [--runs 2]

One moto server (in this process, with the suite's VM Import extension so that both
post-processors can run to the end) receives the same random raw disk three ways, in
turns:

- boto3: `S3Client.upload_file` with TransferManager defaults (what `aws s3 cp` uses),
  timed around the call;
- pybuild: `pybuild build` of a template whose `file` builder hands the disk to
  amazon-import, timed from its "Uploading ... to s3://" line to "Completed upload of";
- curl: one plain PUT of the whole file (`curl -T`), no multipart, no signing.

packer 1.6.6 is not measured: its amazon-import sends S3 requests to s3.amazonaws.com
whatever the endpoint settings (`custom_endpoint_ec2` is EC2's only; the Go SDK it uses
ignores AWS_ENDPOINT_URL), so it cannot be pointed at a local S3 without intercepting TLS.

Printed: MB/s per run and the medians, and pybuild against each reference. The object is
deleted after every run. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUCKET = "pybuild-bench-import"


def pybuild() -> list[str]:
    exe = shutil.which("pybuild", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "builder"]


def make_disk(path: Path, size_mb: int) -> None:
    with path.open("wb") as f:
        block = os.urandom(1024 * 1024)
        for i in range(size_mb):
            f.write(block if i else b"\0" * 510 + b"\x55\xaa" + block[512:])


def timed_upload(command: list[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds between the tool's "Uploading" and "Completed upload" lines."""
    started = ended = 0.0
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Uploading " in line and " to s3://" in line:
            started = time.perf_counter()
        elif "Completed upload of" in line:
            ended = time.perf_counter()
    if proc.wait() != 0 or not (started and ended):
        raise SystemExit(f"{command[0]} failed:\n{''.join(lines[-30:])}")
    return ended - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    curl = shutil.which("curl")
    if curl is None:
        raise SystemExit("curl is not installed: apt-get install curl")
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    import boto3
    from moto.server import ThreadedMotoServer

    from tests.integration.amazon import moto_import
    from tests.integration.conftest import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    moto_import.install()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": url,
           "AWS_EC2_METADATA_DISABLED": "true", "CHECKPOINT_DISABLE": "1", "NO_COLOR": "1",
           "AWS_POLL_DELAY_SECONDS": "0.2", "AWS_MAX_ATTEMPTS": "100"}  # fmt: skip
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=url,
                      aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    s3.create_bucket(Bucket=BUCKET)
    work = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    try:
        disk = work / "disk.raw"
        print(f"making a {args.size_mb} MiB random disk ...")
        make_disk(disk, args.size_mb)
        size = disk.stat().st_size
        template = work / "t.json"
        template.write_text(json.dumps({
            "builders": [{"type": "file", "source": str(disk), "target": str(work / "out.raw")}],
            "post-processors": [{"type": "amazon-import", "region": "us-east-1",
                                 "s3_bucket_name": BUCKET, "format": "raw",
                                 "s3_key_name": "bench-{{timestamp}}.raw"}],
        }))  # fmt: skip
        tools = {
            "boto3": None,
            "pybuild": [*pybuild(), "build", str(template)],
            "curl": [curl, "-sS", "-f", "-o", "/dev/null", "-T", str(disk),
                     f"{url}/{BUCKET}/bench-curl.raw"],
        }  # fmt: skip
        mbps: dict[str, list[float]] = {t: [] for t in tools}
        for run in range(args.runs):
            for tool, command in tools.items():
                if command is None or tool == "curl":
                    t0 = time.perf_counter()
                    if command is None:
                        s3.upload_file(str(disk), BUCKET, "bench-boto3.raw")
                    else:
                        subprocess.run(command, check=True)
                    seconds = time.perf_counter() - t0
                else:
                    seconds = timed_upload(command, env, work)
                    for image in ec2.describe_images(Owners=["self"])["Images"]:
                        ec2.deregister_image(ImageId=image["ImageId"])
                for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
                    s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
                (work / "out.raw").unlink(missing_ok=True)
                rate = size / seconds / 1e6
                mbps[tool].append(rate)
                print(f"run {run + 1} {tool:8s} {seconds:6.2f} s  {rate:7.1f} MB/s")
        med = {t: statistics.median(r) for t, r in mbps.items()}
        for tool in tools:
            print(f"median {tool:8s} {med[tool]:7.1f} MB/s")
        print(f"pybuild/boto3 throughput: {med['pybuild'] / med['boto3']:.2f}")
        print(f"pybuild/curl throughput: {med['pybuild'] / med['curl']:.2f}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
