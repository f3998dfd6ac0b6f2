"""manifest post-processor: file shape, appending, -force, locking, custom data."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

import postprocessors.manifest as manifest_mod
from builder.artifact import Artifact
from builder.components import PluginOptions
from builder.errors import PostProcessorError
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui
from postprocessors.manifest import ManifestPostProcessor

RUN_UUID = "3b32a68e-d938-dabb-2e54-1a10e37e2c17"
OTHER_UUID = "11111111-2222-3333-4444-555555555555"
NOW = 1795653573


def options(*, run_uuid: str = RUN_UUID, force: bool = False, name: str = "e") -> PluginOptions:
    ctx = RenderContext(
        user_vars={"who": "me"}, template_path=None, build_name=name, build_type="docker"
    )
    return PluginOptions(
        build_name=name, build_type="docker", render=ctx, run_uuid=run_uuid, force=force
    )


def run(
    raw: dict[str, Any] | None = None, artifact: Artifact | None = None, **opts: Any
) -> tuple[Any, RecordingSink]:
    pp = ManifestPostProcessor(
        ManifestPostProcessor.Config.model_validate(raw or {}), options(**opts)
    )
    pp.prepare()
    sink = RecordingSink()
    art = artifact or Artifact("packer.docker", "Container", ["image.tar"])
    return pp.post_process(Ui(sink, "e (manifest)"), art), sink


@pytest.fixture(autouse=True)
def _setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(manifest_mod.time, "time", lambda: NOW + 0.75)
    monkeypatch.setattr(manifest_mod, "LOCK_BACKOFF", 0.001)


def test_writes_packers_exact_shape(tmp_path: Path) -> None:
    Path("image.tar").write_bytes(b"")
    (out, keep, force_keep), sink = run()
    text = Path("packer-manifest.json").read_text()
    assert text == (
        "{\n"
        '  "builds": [\n'
        "    {\n"
        '      "name": "e",\n'
        '      "builder_type": "docker",\n'
        '      "build_time": 1795653573,\n'
        '      "files": [\n'
        "        {\n"
        '          "name": "image.tar",\n'
        '          "size": 0\n'
        "        }\n"
        "      ],\n"
        '      "artifact_id": "Container",\n'
        f'      "packer_run_uuid": "{RUN_UUID}",\n'
        '      "custom_data": null\n'
        "    }\n"
        "  ],\n"
        f'  "last_run_uuid": "{RUN_UUID}"\n'
        "}"
    )
    assert (keep, force_keep) == (True, True)
    assert out.id == "Container" and out.files == ["image.tar"]
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat("packer-manifest.json").st_mode & 0o777 == 0o664 & ~umask
    assert not Path("packer-manifest.json.lock").exists()
    assert sink.events == []


def test_returns_the_same_artifact() -> None:
    art = Artifact("fnoeding.null", "Null")
    (out, _, _), _ = run(artifact=art)
    assert out is art


def test_no_files_gives_null_and_sizes_come_from_stat() -> None:
    run(artifact=Artifact("fnoeding.null", "Null"))
    Path("data.bin").write_bytes(b"x" * 123)
    run(artifact=Artifact("x", "id", ["data.bin", "missing.bin"]))
    builds = json.loads(Path("packer-manifest.json").read_text())["builds"]
    assert builds[0]["files"] is None
    assert builds[1]["files"] == [
        {"name": "data.bin", "size": 123},
        {"name": "missing.bin", "size": 0},
    ]


def test_strip_path_and_strip_time() -> None:
    os.makedirs("out/deep")
    Path("out/deep/disk.img").write_bytes(b"abc")
    run({"strip_path": True, "strip_time": "true"}, Artifact("x", "i", ["out/deep/disk.img"]))
    build = json.loads(Path("packer-manifest.json").read_text())["builds"][0]
    assert list(build) == [
        "name",
        "builder_type",
        "files",
        "artifact_id",
        "packer_run_uuid",
        "custom_data",
    ]
    assert build["files"] == [{"name": "disk.img", "size": 3}]


def test_appends_across_runs_and_sets_last_run_uuid() -> None:
    run(run_uuid=OTHER_UUID, name="first")
    run(name="second")
    data = json.loads(Path("packer-manifest.json").read_text())
    assert [b["name"] for b in data["builds"]] == ["first", "second"]
    assert [b["packer_run_uuid"] for b in data["builds"]] == [OTHER_UUID, RUN_UUID]
    assert data["last_run_uuid"] == RUN_UUID
    assert list(data) == ["builds", "last_run_uuid"]


def test_force_resets_a_file_from_another_run() -> None:
    run(run_uuid=OTHER_UUID, name="old")
    run(force=True, name="new")
    run(force=True, name="newer")  # same run: appended, not reset
    data = json.loads(Path("packer-manifest.json").read_text())
    assert [b["name"] for b in data["builds"]] == ["new", "newer"]
    assert data["last_run_uuid"] == RUN_UUID


def test_invalid_json_is_an_error_naming_the_file() -> None:
    Path("m.json").write_text("{not json")
    with pytest.raises(PostProcessorError, match=r"Unable to parse content from m\.json"):
        run({"output": "m.json"})
    assert Path("m.json").read_text() == "{not json"
    assert not Path("m.json.lock").exists()


def test_empty_existing_file_is_fine_and_foreign_keys_are_normalised() -> None:
    Path("m.json").write_text(
        json.dumps({"builds": [{"name": "x", "extra": 1, "build_time": 5}], "other": True})
    )
    run({"output": "m.json"})
    data = json.loads(Path("m.json").read_text())
    assert data["builds"][0] == {
        "name": "x",
        "builder_type": "",
        "build_time": 5,
        "files": None,
        "artifact_id": "",
        "packer_run_uuid": "",
        "custom_data": None,
    }
    assert list(data) == ["builds", "last_run_uuid"]
    Path("empty.json").write_text("")
    run({"output": "empty.json"})
    assert len(json.loads(Path("empty.json").read_text())["builds"]) == 1


def test_output_directories_are_created() -> None:
    run({"output": "reports/a/b/manifest.json"})
    assert json.loads(Path("reports/a/b/manifest.json").read_text())["builds"][0]["name"] == "e"


def test_stale_lock_is_taken_over_and_removed() -> None:
    Path("packer-manifest.json.lock").write_text("")
    run()
    assert Path("packer-manifest.json").exists()
    assert not Path("packer-manifest.json.lock").exists()


def test_custom_data_is_rendered_with_generated_data() -> None:
    art = Artifact(
        "mitchellh.amazonebs",
        "us-east-1:ami-1",
        state={"generated_data": {"SourceAMIName": "ubuntu-22.04", "ID": "i-123"}},
    )
    raw = {
        "custom_data": {
            "source": "{{ build `SourceAMIName` }}",
            "dot": "{{ .ID }}",
            "user": "{{user `who`}}-{{build_name}}",
            "html": "<a & b>",
        }
    }
    run(raw, art)
    text = Path("packer-manifest.json").read_text()
    custom = json.loads(text)["builds"][0]["custom_data"]
    assert custom == {"source": "ubuntu-22.04", "dot": "i-123", "user": "me-e", "html": "<a & b>"}
    assert list(custom) == ["source", "dot", "user", "html"]
    assert '"\\u003ca \\u0026 b\\u003e"' in text  # Go's HTML-safe escaping


def test_concurrent_builds_all_land_in_the_file() -> None:
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            run(name=f"b{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    names = sorted(
        b["name"] for b in json.loads(Path("packer-manifest.json").read_text())["builds"]
    )
    assert names == [f"b{i}" for i in range(8)]


def test_empty_output_means_default() -> None:
    run({"output": ""})
    assert Path("packer-manifest.json").exists()


def test_build_key_the_builder_did_not_provide_reads_no_value_like_packer() -> None:
    run({"custom_data": {"k": "{{build `ID`}}-{{build_name}}"}}, Artifact("x", "", ["a"]))
    custom = json.loads(Path("packer-manifest.json").read_text())["builds"][0]["custom_data"]
    assert custom == {"k": "<no value>-e"}
