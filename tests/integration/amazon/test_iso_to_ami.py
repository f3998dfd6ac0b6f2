"""From ISO to AMI: the qemu builder installs from the test ISO, amazon-import turns its
qcow2 disk into an AMI in moto (raw, converted with qemu-img; the suite's VM Import
extension reads the object moto stored). The bytes VM Import received are the build's
disk: their sha256 is that of `qemu-img convert -O raw` of the qcow2 the build left.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
from pathlib import Path

from tests.integration.amazon import moto_import
from tests.integration.amazon.conftest import MotoServer, destroy_amis
from tests.integration.amazon.test_amazon_import import REGION, bucket
from tests.integration.qemu.conftest import BOOT_COMMAND, qemu_binary, qemu_img, qemu_iso
from tests.integration.qemu.test_qemu_build import QemuBench, bench

__all__ = ["bench", "bucket", "qemu_binary", "qemu_img", "qemu_iso"]  # fixtures, by name


def test_an_iso_install_becomes_an_ami(
    aws: MotoServer, bucket: str, bench: QemuBench, qemu_img: str
) -> None:
    name = f"iso-to-ami-{secrets.token_hex(3)}"
    template = {
        "builders": [
            {
                "type": "qemu",
                "iso_url": str(bench.iso.path),
                "iso_checksum": bench.iso.checksum,
                "accelerator": "tcg",
                "headless": True,
                "disk_size": "128M",
                "format": "qcow2",
                "output_directory": "output",
                "vm_name": "disk.qcow2",
                "http_directory": str(Path(__file__).resolve().parents[3] / "examples/qemu/http"),
                "boot_wait": "5s",
                "boot_key_interval": "20ms",
                "boot_command": BOOT_COMMAND,
                "ssh_username": "root",
                "ssh_password": "pybuild-example",
                "ssh_timeout": "10m",
                "shutdown_command": "poweroff",
            }
        ],
        "provisioners": [
            {
                "type": "shell",
                "inline": [
                    "set -e",
                    "mkfs.ext4 -q -F -L pybuild /dev/vda",
                    "mount -t ext4 /dev/vda /mnt",
                    "echo 'built from an ISO' > /mnt/pybuild-build-info",
                    "umount /mnt",
                    "sync",
                ],
            }
        ],
        "post-processors": [
            {
                "type": "amazon-import",
                "region": REGION,
                "s3_bucket_name": bucket,
                "format": "raw",
                "ami_name": name,
                "tags": {"Name": name, "Source": "iso"},
                "keep_input_artifact": True,
                "aws_polling": {"delay_seconds": 0.1, "max_attempts": 100},
            }
        ],
    }
    path = bench.tmp_path / "t.json"
    path.write_text(json.dumps(template, indent=2))
    proc = bench.cli("build", "-machine-readable", str(path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    ami = next(
        line.split(",")[-1].split(":")[-1]
        for line in proc.stdout.splitlines()
        if ",artifact," in line and ",id," in line and "ami-" in line
    )
    try:
        ec2 = aws.client(region=REGION)
        (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
        assert image["Name"] == name
        assert {t["Key"]: t["Value"] for t in image["Tags"]} == {"Name": name, "Source": "iso"}
        (task,) = moto_import.tasks()
        assert task.format == "raw"
        disk = bench.tmp_path / "output" / "disk.qcow2"
        raw = bench.tmp_path / "check.raw"
        subprocess.run([qemu_img, "convert", "-f", "qcow2", "-O", "raw", str(disk), str(raw)],
                       check=True, timeout=120)  # fmt: skip
        assert task.sha256 == hashlib.sha256(raw.read_bytes()).hexdigest()
        assert "Converting " in out and "(qcow2) to raw with qemu-img" in out
    finally:
        destroy_amis(aws, {REGION: ami})
