"""`data "amazon-ami"` against the real moto server: found before the builds, its attributes
usable as data.amazon-ami.NAME.*, and the no-match / ambiguous errors with file:line."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from builder.engine import RunOptions, load_template, prepare, run
from builder.errors import ConfigErrors
from builder.template.hcl2 import load
from builder.testing import RecordingSink
from tests.integration.amazon.conftest import ACCOUNT, SOURCE_NAME, MotoServer, destroy_amis


@pytest.fixture
def family(aws: MotoServer) -> Iterator[tuple[str, list[str]]]:
    """Three AMIs named FAMILY-a/-b/-c, created January, March, February; -b is the newest."""
    from moto.ec2.models import ec2_backends

    ec2 = aws.client()
    name = f"pybuild-ami-{secrets.token_hex(3)}"
    ids = []
    for month, suffix in ((1, "a"), (3, "b"), (2, "c")):
        ami = ec2.register_image(Name=f"{name}-{suffix}", Description="ds")["ImageId"]
        ec2.create_tags(Resources=[ami], Tags=[{"Key": "month", "Value": str(month)}])
        image = ec2_backends[ACCOUNT]["us-east-1"].amis[ami]
        image.root_device_type, image.virtualization_type = "ebs", "hvm"
        image.creation_date = datetime(2024, month, 1, tzinfo=UTC)
        ids.append(ami)
    try:
        yield name, ids
    finally:
        for ami in ids:
            destroy_amis(aws, {"us-east-1": ami})


def data_block(name_filter: str, most_recent: bool | None = True, extra: str = "") -> str:
    recent = "" if most_recent is None else f"  most_recent = {str(most_recent).lower()}\n"
    return (
        'data "amazon-ami" "base" {\n'
        '  region  = "us-east-1"\n'
        f'  filters = {{\n    name = "{name_filter}"\n    root-device-type = "ebs"\n  }}\n'
        '  owners  = ["self"]\n'
        f"{recent}{extra}"
        "}\n"
    )


EBS = """
source "amazon-ebs" "from_data" {
  region        = "us-east-1"
  source_ami    = data.amazon-ami.base.id
  instance_type = "t2.micro"
  communicator  = "none"
  ami_name      = "pybuild-ds-${data.amazon-ami.base.tags.os}-{{timestamp}}"
  tags          = { Base = data.amazon-ami.base.name, Owner = data.amazon-ami.base.owner }
}

build {
  sources = ["source.amazon-ebs.from_data"]
}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.pkr.hcl"
    path.write_text(text)
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load(str(path))
    return [e.render() for e in caught.value.errors]


def test_the_data_source_finds_the_ami_and_a_build_uses_it(aws: MotoServer, tmp_path: Path) -> None:
    path = write(tmp_path, data_block("debian-12-amd64-*") + EBS)
    t = load(str(path))
    (builder,) = t.builders
    assert builder.config["source_ami"] == aws.source_ami
    assert builder.config["tags"] == {"Base": SOURCE_NAME, "Owner": ACCOUNT}
    assert builder.config["ami_name"].startswith("pybuild-ds-debian-")
    loaded = load_template(str(path))
    p = prepare(loaded, RunOptions(record_resources=False))
    assert not p.errors, p.errors
    sink = RecordingSink()
    results = run(p, sink)
    amis: dict[str, str] = {}
    try:
        assert list(results) == ["amazon-ebs.from_data"]
        result = results["amazon-ebs.from_data"]
        assert result.error is None, result.error
        amis = result.artifacts[0].amis
        assert f"Found Image ID: {aws.source_ami}" in sink.texts()
        (image,) = aws.client().describe_images(ImageIds=[amis["us-east-1"]])["Images"]
        tags = {x["Key"]: x["Value"] for x in image["Tags"]}
        assert tags == {"Base": SOURCE_NAME, "Owner": ACCOUNT}
    finally:
        destroy_amis(aws, amis)


def test_every_attribute_of_the_newest_match(family: tuple[str, list[str]], tmp_path: Path) -> None:
    name, ids = family
    path = write(
        tmp_path,
        data_block(f"{name}-*")
        + 'source "null" "n" {\n  communicator = "none"\n}\n'
        + 'build {\n  sources = ["source.null.n"]\n  provisioner "shell-local" {\n'
        + "    inline = [jsonencode(data.amazon-ami.base)]\n  }\n}\n",
    )
    import json

    (inline,) = load(str(path)).provisioners[0].config["inline"]
    value = json.loads(inline)
    assert value["id"] == ids[1]
    assert value["name"] == f"{name}-b"
    assert value["creation_date"].startswith("2024-03-01")
    assert value["owner"] == ACCOUNT
    assert value["owner_name"] == ""
    assert value["root_device_type"] == "ebs"
    assert value["tags"] == {"month": "3"}


def test_more_than_one_match_without_most_recent_names_file_and_line(
    family: tuple[str, list[str]], tmp_path: Path
) -> None:
    name, ids = family
    path = write(tmp_path, "\n" + data_block(f"{name}-*", most_recent=None) + EBS)
    (msg,) = errors_of(path)
    assert msg.startswith(
        "data.amazon-ami.base: Your query returned more than one result (3 AMIs: "
    )
    assert all(i in msg for i in ids)
    assert "or set most_recent to true." in msg
    assert msg.endswith(f"({path}:2:1)")


def test_no_match_names_the_query_file_and_line(aws: MotoServer, tmp_path: Path) -> None:
    path = write(tmp_path, data_block("no-such-image-*") + EBS)
    (msg,) = errors_of(path)
    assert msg == (
        "data.amazon-ami.base: No AMI was found matching filters: {Owners: [self]; Filters: "
        f"name=no-such-image-*, root-device-type=ebs}} ({path}:1:1)"
    )


def test_options_are_checked_as_the_access_config_with_positions(
    aws: MotoServer, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        'data "amazon-ami" "base" {\n  region = "us-east-1"\n  owner = ["self"]\n'
        '  filters = { name = "x" }\n  max_retries = -1\n}\n',
    )
    msgs = errors_of(path)
    assert (
        f"data.amazon-ami.base.owner: unknown option 'owner'; did you mean 'owners'? ({path}:3:3)"
    ) in msgs
    path = write(
        tmp_path,
        'data "amazon-ami" "base" {\n  region = "us-east-1"\n  max_retries = -1\n}\n',
    )
    msgs = errors_of(path)
    assert f"data.amazon-ami.base.max_retries: must not be negative ({path}:3:3)" in msgs
    assert f"data.amazon-ami.base.filters: The `filters` must be specified ({path}:1:1)" in msgs
    assert any("you must declare an owner" in m for m in msgs)


def test_the_json_syntax_reads_the_data_source_too(aws: MotoServer, tmp_path: Path) -> None:
    path = tmp_path / "t.pkr.json"
    path.write_text(
        '{"data": {"amazon-ami": {"base": {"region": "us-east-1",\n'
        '  "filters": {"name": "debian-12-amd64-*"}, "owners": ["self"], "most_recent": true}}},\n'
        ' "source": {"null": {"n": {"communicator": "none"}}},\n'
        ' "build": {"sources": ["source.null.n"],\n'
        '  "provisioner": {"shell-local": {"inline": ["echo ${data.amazon-ami.base.id}"]}}}}\n'
    )
    assert load(str(path)).provisioners[0].config["inline"] == [f"echo {aws.source_ami}"]
