"""`merge_manifests`: the per-job manifests of a CI fan-out joined as one run writes them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import postprocessors.manifest as manifest_mod
from builder.artifact import Artifact
from builder.components import PluginOptions
from builder.errors import PybuildError
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui
from postprocessors.manifest import ManifestError, ManifestPostProcessor, merge_manifests

RUN = "3b32a68e-d938-dabb-2e54-1a10e37e2c17"
JOB_A = "aaaaaaaa-0000-0000-0000-000000000001"
JOB_B = "bbbbbbbb-0000-0000-0000-000000000002"
OLD = "11111111-2222-3333-4444-555555555555"
NOW = 1795653573


@pytest.fixture(autouse=True)
def _setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(manifest_mod.time, "time", lambda: NOW + 0.5)
    monkeypatch.setattr(manifest_mod, "LOCK_BACKOFF", 0.001)


def post_process(output: str, name: str, run_uuid: str, files: list[str] | None = None) -> None:
    """Let the real manifest post-processor record build `name` of run `run_uuid`."""
    render = RenderContext(user_vars={}, template_path=None, build_name=name, build_type="null")
    opts = PluginOptions(build_name=name, build_type="null", render=render, run_uuid=run_uuid)
    raw = {"output": output, "custom_data": {"job": "{{build_name}} <&>"}}
    pp = ManifestPostProcessor(ManifestPostProcessor.Config.model_validate(raw), opts)
    pp.prepare()
    pp.post_process(
        Ui(RecordingSink(), f"{name} (manifest)"), Artifact("null", "Null", files or ())
    )


def read(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def ids(path: str) -> list[tuple[str, str]]:
    return [(b["name"], b["packer_run_uuid"]) for b in read(path)["builds"]]


def leftovers() -> list[str]:
    return sorted(p.name for p in Path().iterdir() if p.name.endswith((".tmp", ".lock")))


def test_merged_file_is_byte_for_byte_what_one_run_writes() -> None:
    Path("disk.img").write_bytes(b"abc")
    post_process("full.json", "a", RUN, ["disk.img"])
    post_process("full.json", "b", RUN)
    post_process("a.json", "a", JOB_A, ["disk.img"])
    post_process("b.json", "b", JOB_B)
    assert merge_manifests("merged.json", ["a.json", "b.json"], run_id=RUN) == 2
    assert Path("merged.json").read_text() == Path("full.json").read_text()
    assert "\\u003c\\u0026\\u003e" in Path("merged.json").read_text()  # Go's escapes kept
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat("merged.json").st_mode & 0o777 == 0o664 & ~umask
    assert leftovers() == []


def test_without_run_id_ids_are_kept_and_the_last_input_wins() -> None:
    post_process("b.json", "b", JOB_B)
    post_process("a.json", "a", JOB_A)
    assert merge_manifests("m.json", ["b.json", "a.json"]) == 2
    assert ids("m.json") == [("b", JOB_B), ("a", JOB_A)]  # argument order
    assert read("m.json")["last_run_uuid"] == JOB_A
    assert list(read("m.json")) == ["builds", "last_run_uuid"]


def test_the_same_file_twice_is_taken_once() -> None:
    post_process("a.json", "a", JOB_A)
    post_process("b.json", "b", JOB_B)
    assert merge_manifests("m.json", ["a.json", "b.json", "a.json"]) == 2
    assert ids("m.json") == [("a", JOB_A), ("b", JOB_B)]
    assert read("m.json")["last_run_uuid"] == JOB_A  # still the last argument's


def test_shared_cache_history_is_taken_once_and_keeps_its_ids() -> None:
    post_process("cache.json", "a", OLD)
    post_process("cache.json", "b", OLD)
    Path("job-a.json").write_text(Path("cache.json").read_text())
    Path("job-b.json").write_text(Path("cache.json").read_text())
    post_process("job-a.json", "a", JOB_A)
    post_process("job-b.json", "b", JOB_B)
    assert merge_manifests("m.json", ["job-a.json", "job-b.json"], run_id=RUN) == 4
    assert ids("m.json") == [("a", OLD), ("b", OLD), ("a", RUN), ("b", RUN)]
    assert read("m.json")["last_run_uuid"] == RUN


def test_run_id_rewrites_only_each_inputs_own_run() -> None:
    post_process("a.json", "old", OLD)
    post_process("a.json", "a", JOB_A)
    post_process("b.json", "b", JOB_B)
    merge_manifests("m.json", ["a.json", "b.json"], run_id=RUN)
    assert ids("m.json") == [("old", OLD), ("a", RUN), ("b", RUN)]
    merge_manifests("m2.json", ["a.json", "b.json"], run_id="")  # empty means none
    assert ids("m2.json") == [("old", OLD), ("a", JOB_A), ("b", JOB_B)]


def test_no_own_run_is_guessed_without_a_last_run_uuid() -> None:
    Path("a.json").write_text(json.dumps({"builds": [{"name": "a"}]}))
    merge_manifests("m.json", ["a.json"], run_id=RUN)
    assert ids("m.json") == [("a", "")]
    assert read("m.json")["last_run_uuid"] == RUN


def test_records_are_read_as_packer_reads_them() -> None:
    record = {"name": "x", "extra": 1, "build_time": 5, "files": [{"name": "f", "more": 2}]}
    Path("a.json").write_text(json.dumps({"builds": [record], "other": True}))
    merge_manifests("m.json", ["a.json"])
    assert read("m.json") == {
        "builds": [
            {
                "name": "x",
                "builder_type": "",
                "build_time": 5,
                "files": [{"name": "f", "size": 0}],
                "artifact_id": "",
                "packer_run_uuid": "",
                "custom_data": None,
            }
        ],
        "last_run_uuid": "",
    }


def test_out_may_be_one_of_the_inputs() -> None:
    post_process("m.json", "a", JOB_A)
    post_process("b.json", "b", JOB_B)
    assert merge_manifests("m.json", ["m.json", "b.json"], run_id=RUN) == 2
    assert ids("m.json") == [("a", RUN), ("b", RUN)]
    assert leftovers() == []


def test_out_directories_are_created() -> None:
    post_process("a.json", "a", JOB_A)
    merge_manifests("reports/ci/m.json", ["a.json"])
    assert ids("reports/ci/m.json") == [("a", JOB_A)]


BAD_INPUTS = [
    (None, r"^bad\.json: no such manifest file$"),
    ("", r"^bad\.json: empty file, not a manifest$"),
    ('{\n  "builds": [\n    {"name": "a",}\n  ]\n}', r"^bad\.json:3:18: not JSON: Expecting "),
    ("[1, 2]", r'^bad\.json: not a manifest: expected an object with a "builds" list$'),
    ('{"last_run_uuid": "x"}', r'^bad\.json: not a manifest: expected an object with a "builds"'),
    ('{"builds": {"name": "a"}}', r'^bad\.json: not a manifest: expected an object with a "bu'),
    ('{"builds": [{}, "a"]}', r"^bad\.json: not a manifest: builds\[1\]: expected an object, "),
    ('{"builds": [{"name": 3}]}', r"builds\[0\]\.name: expected a string, found a number$"),
    ('{"builds": [{"build_time": "1"}]}', r"builds\[0\]\.build_time: expected an integer, "),
    ('{"builds": [{"files": "x"}]}', r"builds\[0\]\.files: expected an array, found a string$"),
    ('{"builds": [{"files": [1]}]}', r"builds\[0\]\.files\[0\]: expected an object, "),
    ('{"builds": [{"files": [{"size": true}]}]}', r"\.files\[0\]\.size: expected an integer, "),
    ('{"builds": [{"custom_data": {"k": 1}}]}', r"builds\[0\]\.custom_data\.k: expected a str"),
    ('{"builds": [], "last_run_uuid": 7}', r"bad\.json: not a manifest: last_run_uuid: expect"),
]


@pytest.mark.parametrize(("content", "message"), BAD_INPUTS)
def test_a_bad_input_is_an_error_naming_it_and_out_is_untouched(
    content: str | None, message: str
) -> None:
    post_process("good.json", "a", JOB_A)
    if content is not None:
        Path("bad.json").write_text(content)
    Path("m.json").write_text("previous")
    with pytest.raises(ManifestError, match=message) as info:
        merge_manifests("m.json", ["good.json", "bad.json"])
    assert isinstance(info.value, PybuildError)
    assert Path("m.json").read_text() == "previous"
    assert leftovers() == []


def test_not_utf8_and_unreadable_inputs_are_errors_naming_them() -> None:
    Path("latin1.json").write_bytes(b'{"builds": [\n  {"name": "\xc3\xa9caf\xe9"}]}')
    with pytest.raises(ManifestError, match=r"^latin1\.json:2:17: not JSON: invalid UTF-8$"):
        merge_manifests("m.json", ["latin1.json"])
    os.mkdir("dir.json")
    with pytest.raises(ManifestError, match=r"^dir\.json: cannot read: Is a directory$"):
        merge_manifests("m.json", ["dir.json"])
    assert not Path("m.json").exists()


def test_no_inputs_is_an_error() -> None:
    with pytest.raises(ManifestError, match="at least one input"):
        merge_manifests("m.json", [])


def test_a_failed_replace_leaves_out_alone_and_no_temp_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post_process("a.json", "a", JOB_A)
    Path("m.json").write_text("previous")

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(manifest_mod.os, "replace", fail)
    with pytest.raises(ManifestError, match=r"^m\.json: cannot write: No space left on device$"):
        merge_manifests("m.json", ["a.json"])
    assert Path("m.json").read_text() == "previous"
    assert leftovers() == []


def test_out_that_is_a_directory_is_an_error() -> None:
    post_process("a.json", "a", JOB_A)
    os.mkdir("m.json")
    with pytest.raises(ManifestError, match=r"^m\.json: cannot write: Is a directory$"):
        merge_manifests("m.json", ["a.json"])
    assert leftovers() == []


def test_a_stale_lock_on_out_is_taken_over_and_removed() -> None:
    post_process("a.json", "a", JOB_A)
    Path("m.json.lock").write_text("")
    merge_manifests("m.json", ["a.json"])
    assert ids("m.json") == [("a", JOB_A)]
    assert leftovers() == []
