"""`pybuild build -json` and PYBUILD_EVENTS: a real run's stream, checked against the schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from builder.events import Progress, Say
from builder.render.jsonlines import JSONLinesSink, rfc3339

SCHEMA = Path(__file__).parents[2] / "builder" / "schemas" / "events-v1.schema.json"

TEMPLATE = {
    "variables": {"token": "s3cr3t-t0ken-value"},
    "sensitive-variables": ["token"],
    "builders": [
        {"type": "null", "name": "a", "communicator": "none"},
        {"type": "file", "name": "f", "target": "out.txt", "content": "x"},
        {"type": "null", "name": "broken", "communicator": "none"},
    ],
    "provisioners": [
        {"type": "shell-local", "inline": ["echo token={{user `token`}}"], "except": ["broken"]},
        {"type": "shell-local", "inline": ["exit 3"], "only": ["broken"], "max_retries": 1},
    ],
    "post-processors": [[{"type": "manifest"}, {"type": "checksum", "keep_input_artifact": True}]],
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_a_real_run_streams_valid_events_on_stdout(
    cli: Callable[..., Any], template: Callable[..., Path], validator: Any
) -> None:
    template(TEMPLATE)
    proc = cli("build", "-json", "t.json")
    assert proc.returncode == 1, proc.stderr  # `broken` fails, the others build
    events = lines(proc.stdout)  # stdout is JSON lines only
    for event in events:
        validator.validate(event)
    run_ids = {e["run"] for e in events}
    assert len(run_ids) == 1 and run_ids != {""}
    types = [e["type"] for e in events]
    assert types[0] == "run.started" and types[-1] == "run.finished"
    assert events[0]["builds"] == ["a", "broken", "f"]  # sorted, as packer orders builds
    by_build = {b: [e for e in events if e["build"] == b] for b in ("a", "f", "broken")}

    a = by_build["a"]
    assert [e["type"] for e in a if e["type"].startswith(("build.", "step.started"))] == [
        "build.started",
        "step.started",
        "step.started",
        "build.finished",
    ]
    [started] = [e for e in a if e["type"] == "provisioner.started"]
    [output] = [e for e in a if e["type"] == "message" and "token=" in e["text"]]
    assert output["provisioner"] == 0 and output["step"] == "StepProvision"
    assert output["text"].endswith("token=<sensitive>")
    [pp] = [e for e in a if e["type"] == "post_processor.finished" and e["index"] == 1]
    assert pp["post_processor"] == "checksum" and pp["kept_input"] is True and pp["outcome"] == "ok"

    f = by_build["f"]
    assert [e["type"] for e in f if e["type"].startswith("resource.")] == [
        "resource.creating",
        "resource.created",
        "resource.kept",
    ]
    assert {e["resource"] for e in f if e["type"].startswith("resource.")} == {"local.file"}

    broken = by_build["broken"]
    [failed] = [e for e in broken if e["type"] == "provisioner.finished"]
    assert (
        failed["outcome"] == "failed"
        and failed["attempts"] == 2
        and "exit status" in (failed["error"] + json.dumps(broken))
    )
    [finished] = [e for e in broken if e["type"] == "build.finished"]
    assert finished["outcome"] == "failed" and finished["artifacts"] == []
    summary = events[-1]
    assert set(summary["artifacts"]) == {"a", "f"} and set(summary["errors"]) == {"broken"}
    assert "s3cr3t-t0ken-value" not in proc.stdout + proc.stderr


def test_pybuild_events_writes_the_same_stream_beside_the_text(
    cli: Callable[..., Any], template: Callable[..., Path], tmp_path: Path, validator: Any
) -> None:
    template({"builders": [{"type": "null", "communicator": "none"}]})
    proc = cli("build", "t.json", env={"PYBUILD_EVENTS": str(tmp_path / "events.jsonl")})
    assert proc.returncode == 0, proc.stdout
    assert "Build 'null' finished" in proc.stdout  # the human output is unchanged
    events = lines((tmp_path / "events.jsonl").read_text())
    for event in events:
        validator.validate(event)
    assert [e["type"] for e in events][-2:] == ["build.finished", "run.finished"]


def test_json_keeps_stdout_clean_when_the_template_is_broken(
    cli: Callable[..., Any], template: Callable[..., Path]
) -> None:
    template('{"builders": [{"type": "null", "communicator": "none", "bogus": 1}]}')
    proc = cli("build", "-json", "t.json")
    assert proc.returncode == 1
    assert "bogus" in proc.stderr
    for line in proc.stdout.splitlines():
        json.loads(line)


def test_an_unwritable_events_file_is_a_clear_error(
    cli: Callable[..., Any], template: Callable[..., Path], tmp_path: Path
) -> None:
    template({"builders": [{"type": "null", "communicator": "none"}]})
    proc = cli("build", "t.json", env={"PYBUILD_EVENTS": str(tmp_path / "no" / "such" / "x")})
    assert proc.returncode == 1
    assert "PYBUILD_EVENTS: cannot write" in proc.stdout and "Traceback" not in proc.stderr


class Stream:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


def test_progress_is_thinned_to_about_once_a_second_and_keeps_the_end() -> None:
    out = Stream()
    sink = JSONLinesSink(out, "r")  # type: ignore[arg-type]
    for i, at in enumerate([0.0, 0.2, 0.5, 1.1, 1.3, 1.4]):
        sink.emit(Progress("b", "iso", i, 5, at=at))
    sink.emit(Say("b", "done", at=2.0))
    got = lines(out.text)
    assert [(e["type"], e.get("done")) for e in got] == [
        ("progress", 0),
        ("progress", 3),
        ("progress", 5),
        ("message", None),
    ]


def test_time_is_rfc3339_utc_with_milliseconds() -> None:
    assert rfc3339(0.0) == "1970-01-01T00:00:00.000Z"
    assert rfc3339(1796220895.1234) == "2026-12-02T14:14:55.123Z"


def test_timeline_flag_writes_the_picture_of_the_run(
    cli: Callable[..., Any], template: Callable[..., Path], tmp_path: Path
) -> None:
    import xml.etree.ElementTree as ET

    template({"builders": [{"type": "null", "name": "lane-a", "communicator": "none"}]})
    proc = cli("build", "-timeline=run.svg", "t.json")
    assert proc.returncode == 0, proc.stdout
    root = ET.parse(tmp_path / "run.svg").getroot()
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "lane-a" in texts
    bad = cli("build", "-timeline=run.png", "t.json")
    assert bad.returncode == 1 and "must end in .svg or .html" in bad.stdout
