"""`pybuild manifest merge`: a CI fan-out's job manifests read like one full run's manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, write_template

TEMPLATE = {
    "builders": [
        {"type": "null", "name": "a", "communicator": "none"},
        {"type": "null", "name": "b", "communicator": "none"},
    ],
    "post-processors": [{"type": "manifest"}],
}
MANIFEST = "packer-manifest.json"
RUN_ID = "ci-pipeline-4711"


def build_in(directory: Path, *args: str) -> Path:
    """Run `pybuild build ARGS t.json` in its own directory; return the manifest it wrote."""
    directory.mkdir()
    write_template(directory, TEMPLATE)
    proc = run_cli("build", "-color=false", *args, "t.json", cwd=directory)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return directory / MANIFEST


@pytest.fixture
def fan_out(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The manifests of jobs `-only=a` and `-only=b`, and of one run of both builds."""
    return (
        build_in(tmp_path / "job-a", "-only=a"),
        build_in(tmp_path / "job-b", "-only=b"),
        build_in(tmp_path / "full"),
    )


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def comparable(manifest: dict[str, Any]) -> list[list[tuple[str, Any]]]:
    """Entries by name, keys in file order, with build_time and run id blanked."""
    entries = []
    for entry in sorted(manifest["builds"], key=lambda e: e["name"]):
        assert isinstance(entry["build_time"], int) and entry["build_time"] > 0
        entries.append(
            [(k, "-" if k in ("build_time", "packer_run_uuid") else v) for k, v in entry.items()]
        )
    return entries


def merge(tmp_path: Path, *args: str) -> tuple[int, str]:
    proc = run_cli("manifest", *args, cwd=tmp_path)
    return proc.returncode, proc.stdout + proc.stderr


def test_merged_job_manifests_equal_the_full_runs(
    tmp_path: Path, fan_out: tuple[Path, Path, Path]
) -> None:
    job_a, job_b, full = fan_out
    rc, output = merge(tmp_path, "merge", "merged.json", str(job_a), str(job_b))
    assert rc == 0, output
    assert "Merged 2 build(s) from 2 manifest(s) into merged.json" in output
    merged = read(tmp_path / "merged.json")
    assert list(merged) == list(read(full)) == ["builds", "last_run_uuid"]
    assert comparable(merged) == comparable(read(full))
    assert [e["name"] for e in merged["builds"]] == ["a", "b"]  # argument order
    assert merged["builds"][0]["packer_run_uuid"] == read(job_a)["last_run_uuid"]
    assert merged["builds"][1]["packer_run_uuid"] == read(job_b)["last_run_uuid"]
    assert merged["last_run_uuid"] == read(job_b)["last_run_uuid"]  # the last input's


def test_with_run_id_the_merge_reads_as_one_run(
    tmp_path: Path, fan_out: tuple[Path, Path, Path]
) -> None:
    job_a, job_b, full = fan_out
    # the same manifest twice (a re-run job uploading it again) is taken once
    args = ("merge", "merged.json", str(job_b), str(job_a), str(job_b))
    rc, output = merge(tmp_path, f"-run-id={RUN_ID}", *args)
    assert rc == 0, output
    assert "Merged 2 build(s) from 3 manifest(s) into merged.json" in output
    merged = read(tmp_path / "merged.json")
    assert comparable(merged) == comparable(read(full))
    assert [e["packer_run_uuid"] for e in merged["builds"]] == [RUN_ID, RUN_ID]
    assert merged["last_run_uuid"] == RUN_ID
    # the text is the manifest post-processor's format: 2-space indent, no final newline
    text = (tmp_path / "merged.json").read_text()
    assert text.startswith('{\n  "builds": [\n    {\n      "name": "b",\n') and text[-1] == "}"


def test_run_id_after_merge_as_the_usage_line_shows(
    tmp_path: Path, fan_out: tuple[Path, Path, Path]
) -> None:
    job_a, job_b, _ = fan_out
    rc, output = merge(
        tmp_path, "merge", f"-run-id={RUN_ID}", "merged.json", str(job_a), str(job_b)
    )
    assert rc == 0, output
    assert read(tmp_path / "merged.json")["last_run_uuid"] == RUN_ID


def test_out_may_be_an_input(tmp_path: Path, fan_out: tuple[Path, Path, Path]) -> None:
    job_a, job_b, _ = fan_out
    rc, output = merge(tmp_path, f"-run-id={RUN_ID}", "merge", str(job_a), str(job_a), str(job_b))
    assert rc == 0, output
    assert [(e["name"], e["packer_run_uuid"]) for e in read(job_a)["builds"]] == [
        ("a", RUN_ID),
        ("b", RUN_ID),
    ]
    assert sorted(p.name for p in job_a.parent.iterdir()) == [MANIFEST, "t.json"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "the only manifest subcommand is merge"),
        (("split", "out.json", "in.json"), "the only manifest subcommand is merge"),
        (("merge",), "needs an output file and at least one input manifest"),
        (("merge", "out.json"), "needs an output file and at least one input manifest"),
    ],
)
def test_usage_errors_exit_1_with_a_message(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    rc, output = merge(tmp_path, *args)
    assert rc == 1
    assert message in output
    assert "Usage: pybuild manifest merge [options] OUT IN..." in output
    assert not (tmp_path / "out.json").exists()


def test_bad_inputs_are_errors_naming_the_file_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"builds": [\n  {"name": "a"\n]}')
    (tmp_path / "other.json").write_text('{"artifacts": []}')
    cases = {
        "missing.json": "Error: missing.json: no such manifest file",
        "broken.json": "Error: broken.json:3:1: not JSON: Expecting ',' delimiter",
        "other.json": 'Error: other.json: not a manifest: expected an object with a "builds" list',
    }
    for name, message in cases.items():
        rc, output = merge(tmp_path, "merge", "out.json", name)
        assert rc == 1
        assert message in output
        assert "Traceback" not in output and "internal error" not in output
    assert not (tmp_path / "out.json").exists()
