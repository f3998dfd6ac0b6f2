"""The plan is what the build then does: steps, resource kinds and surviving inputs.

One template with a docker build (the local engine), an amazon-ebs build (moto's server)
and a null build; `pybuild plan -format=json` first, then `pybuild build -json` of the
same template, and the plan is compared with the build's own event stream.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema

from tests.conftest import run_cli, write_template
from tests.integration.amazon.conftest import MotoServer, destroy_amis, ebs

if TYPE_CHECKING:
    import docker

SCHEMAS = Path(__file__).parents[3] / "builder" / "schemas"
SECRET = "plan-secret-4c1d9a"


def template(base_image: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "variables": {"secret": SECRET},
        "sensitive-variables": ["secret"],
        "builders": [
            {"type": "docker", "image": base_image, "pull": False, "commit": True},
            ebs(name="aws"),
            {"type": "null", "name": "local", "communicator": "none"},
            {"type": "null", "name": "skipped", "communicator": "none"},
        ],
        "provisioners": [
            {
                "type": "shell",
                "inline": ["echo secret={{user `secret`}}"],
                "only": ["docker"],
                "override": {"docker": {"inline": ["echo in-container {{user `secret`}}"]}},
            },
        ],
        "post-processors": [
            [
                {
                    "type": "docker-tag",
                    "repository": "pybuild-it/plan",
                    "tags": ["t1"],
                    "only": ["docker"],
                },
                {"type": "manifest", "output": str(tmp_path / "manifest.json")},
            ],
            [
                {
                    "type": "checksum",
                    "keep_input_artifact": True,
                    "output": str(tmp_path / "sums.{{.ChecksumType}}"),
                }
            ],
        ],
    }


def test_plan_lists_what_the_build_then_does(
    aws: MotoServer, base_image: str, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    write_template(tmp_path, template(base_image, tmp_path))
    planned = run_cli("plan", "-format=json", "-except=skipped", "t.json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    doc = json.loads(planned.stdout)
    jsonschema.validate(doc, json.loads((SCHEMAS / "plan-v1.schema.json").read_text()))
    plan = {b["name"]: b for b in doc["builds"]}
    assert sorted(plan) == ["aws", "docker", "local"]

    built = run_cli("build", "-json", "-except=skipped", "t.json", cwd=tmp_path, timeout=600)
    events = [json.loads(line) for line in built.stdout.splitlines()]
    try:
        assert built.returncode == 0, built.stderr + built.stdout[-3000:]
        schema = json.loads((SCHEMAS / "events-v1.schema.json").read_text())
        for event in events:
            jsonschema.validate(event, schema)
        by_build: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in events:
            if event["build"]:
                by_build[event["build"]].append(event)
        assert sorted(by_build) == ["aws", "docker", "local"]
        kinds: set[str] = set()
        for name, build_plan in plan.items():
            seen = by_build[name]
            # the steps, in order
            ran = [e["step"] for e in seen if e["type"] == "step.started"]
            assert ran == [s["name"] for s in build_plan["steps"]], name
            # what each step creates, by kind
            made = {
                (e.get("step", ""), e["resource"]) for e in seen if e["type"] == "resource.creating"
            }
            said = {(s["name"], c["resource"]) for s in build_plan["steps"] for c in s["creates"]}
            said |= {
                ("", c["resource"]) for chain in build_plan["post_processors"] for pp in chain
                for c in pp["creates"]
            }  # fmt: skip
            assert made == said, name
            # the provisioners after only/except/override
            provs = [e["provisioner"] for e in seen if e["type"] == "provisioner.started"]
            assert provs == [p["type"] for p in build_plan["provisioners"]], name
            # which inputs the post-processors kept, as the plan said
            kept = [
                (e["post_processor"], e["kept_input"])
                for e in seen
                if e["type"] == "post_processor.finished"
            ]
            expected = [
                (pp["type"], pp["keeps_input"])
                for chain in build_plan["post_processors"]
                for pp in chain
            ]
            assert kept == expected, name
            kinds |= {kind for _, kind in made}
        assert kinds == {
            "local.dir",
            "docker.container",
            "docker.image",
            "docker.tag",
            "amazon.key_pair",
            "amazon.security_group",
            "amazon.instance",
            "amazon.image",
            "amazon.snapshot",
        }
        assert SECRET not in planned.stdout + built.stdout + built.stderr
        [shell] = plan["docker"]["provisioners"]
        assert shell["settings"]["inline"] == ["echo in-container <sensitive>"]
    finally:
        amis = {}
        for event in events:
            if event["type"] == "artifact" and event["builder_id"] == "mitchellh.amazonebs":
                region, ami = event["id"].split(":", 1)
                amis[region] = ami
        destroy_amis(aws, amis)
        for event in events:
            if (
                event["type"] == "artifact"
                and event["build"] == "docker"
                and not event.get("post_processor")
            ):
                docker_client.images.remove(event["id"], force=True)
