"""The file provisioner, against FakeCommunicator: Packer's trailing-slash rules."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from builder.components import PluginOptions
from builder.errors import BuildCancelled, BuildError, ConfigErrors
from builder.events import Progress, Say
from builder.template.funcs import RenderContext
from builder.testing import FakeCommunicator, RecordingSink
from builder.ui import Ui
from provisioners.file import FileConfig, FileProvisioner

BUILD_DATA = {"ID": "c0ffee"}


def options() -> PluginOptions:
    ctx = RenderContext(user_vars={"dir": "up"}, build_name="web", build_type="docker")
    return PluginOptions(build_name="web", build_type="docker", render=ctx)


def make(**raw: Any) -> FileProvisioner:
    prov = FileProvisioner(FileConfig.model_validate(raw), options())
    prov.prepare()
    return prov


def run(prov: FileProvisioner, fake: FakeCommunicator) -> RecordingSink:
    sink = RecordingSink()
    prov.provision(Ui(sink, "web"), fake, dict(BUILD_DATA))
    return sink


def prepare_errors(**raw: Any) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        make(**raw)
    return [e.render() for e in info.value.errors]


@pytest.fixture(autouse=True)
def _tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("src/sub").mkdir(parents=True)
    Path("src/a.txt").write_text("A")
    Path("src/sub/b.txt").write_text("B")
    Path("one.txt").write_text("one")
    Path("two.txt").write_text("two")


@pytest.fixture
def fake() -> FakeCommunicator:
    return FakeCommunicator(dirs=("/", "/tmp", "/up1", "/up2", "/dst"))


# --------------------------------------------------------------------------- config checks
def test_missing_sources_are_named_by_option_path() -> None:
    errors = prepare_errors(sources=["one.txt", "gone.txt"], source="nope", destination="/x")
    assert errors[0].startswith(
        "sources[1]: Bad source 'gone.txt': stat gone.txt: no such file or directory; "
    )
    assert 'set "generated": true' in errors[0]
    assert errors[1].startswith("source: Bad source 'nope': ")


def test_generated_and_download_skip_the_local_check() -> None:
    make(source="later.txt", destination="/x", generated=True)
    make(source="/remote/only", destination="x", direction="download")


def test_required_options_and_direction() -> None:
    assert prepare_errors() == ["Source must be specified.", "Destination must be specified."]
    assert prepare_errors(source="one.txt", destination="/x", direction="sideways") == [
        "direction: Direction must be one of: download, upload."
    ]
    assert FileConfig.deferred == {"destination"}


# --------------------------------------------------------------------------- upload
def test_file_to_a_file_path_keeps_its_mode(fake: FakeCommunicator) -> None:
    os.chmod("one.txt", 0o750)
    sink = run(make(source="one.txt", destination="/dst/renamed.txt"), fake)
    assert sink.texts(Say) == ["Uploading one.txt => /dst/renamed.txt"]
    assert fake.read("/dst/renamed.txt") == b"one"
    assert fake.files["/dst/renamed.txt"].mode == 0o750


def test_file_to_a_trailing_slash_lands_inside(fake: FakeCommunicator) -> None:
    run(make(sources=["one.txt", "two.txt"], source="src/a.txt", destination="/dst/"), fake)
    assert sorted(fake.files) == ["/dst/a.txt", "/dst/one.txt", "/dst/two.txt"]
    assert [t.src for t in fake.transfers] == ["one.txt", "two.txt", "src/a.txt"]


def test_directory_without_slash_is_created_inside(fake: FakeCommunicator) -> None:
    run(make(source="src", destination="/up1"), fake)
    assert sorted(fake.files) == ["/up1/src/a.txt", "/up1/src/sub/b.txt"]


def test_directory_with_slash_copies_its_contents(fake: FakeCommunicator) -> None:
    run(make(source="src/", destination="/up2"), fake)
    assert sorted(fake.files) == ["/up2/a.txt", "/up2/sub/b.txt"]


def test_destination_rendered_at_run_time(fake: FakeCommunicator) -> None:
    fake.mkdir("/up/c0ffee")
    sink = run(make(source="one.txt", destination="/{{user `dir`}}/{{build `ID`}}/"), fake)
    assert sink.texts(Say) == ["Uploading one.txt => /up/c0ffee/"]
    assert fake.read("/up/c0ffee/one.txt") == b"one"


def test_file_onto_a_directory_hints_at_the_slash(fake: FakeCommunicator) -> None:
    with pytest.raises(BuildError) as info:
        run(make(source="one.txt", destination="/dst"), fake)
    assert str(info.value).startswith("Upload failed: Error restoring file")
    assert str(info.value).endswith("destination is a folder without a trailing slash.")


def test_missing_remote_directory(fake: FakeCommunicator) -> None:
    with pytest.raises(BuildError, match="^Upload failed: /nowhere/x: No such file"):
        run(make(source="one.txt", destination="/nowhere/x"), fake)


def test_generated_file_missing_at_run_time(fake: FakeCommunicator) -> None:
    prov = make(source="later.txt", destination="/dst/", generated=True)
    with pytest.raises(BuildError, match="^Upload failed: .*later.txt"):
        run(prov, fake)
    Path("later.txt").write_text("made")
    run(prov, fake)
    assert fake.read("/dst/later.txt") == b"made"


def test_progress_is_reported(fake: FakeCommunicator) -> None:
    sink = run(make(sources=["one.txt", "src"], destination="/up1/"), fake)
    progress = [(e.name, e.done, e.total) for e in sink.events if isinstance(e, Progress)]
    assert progress == [("one.txt", 0, 3), ("one.txt", 3, 3), ("src", 0, 2), ("src", 2, 2)]


# --------------------------------------------------------------------------- download
@pytest.fixture
def machine(fake: FakeCommunicator) -> FakeCommunicator:
    fake.write("/var/log/app.log", "log")
    fake.write("/var/log/old.log", "old")
    fake.write("/var/log/sub/deep.txt", "deep")
    fake.write("/etc/hostname", "box")
    return fake


def test_download_file_to_a_path_creates_parents(machine: FakeCommunicator) -> None:
    sink = run(
        make(source="/etc/hostname", destination="out/a/name", direction="download"), machine
    )
    assert sink.texts(Say) == ["Downloading /etc/hostname => out/a/name"]
    assert Path("out/a/name").read_text() == "box"
    assert stat.S_IMODE(os.stat("out/a").st_mode) & 0o700 == 0o700


def test_download_file_to_a_trailing_slash(machine: FakeCommunicator) -> None:
    run(
        make(
            sources=["/etc/hostname", "/var/log/app.log"], destination="got/", direction="download"
        ),
        machine,
    )
    assert sorted(p.name for p in Path("got").iterdir()) == ["app.log", "hostname"]


def test_download_directory_contents(machine: FakeCommunicator) -> None:
    run(make(source="/var/log/", destination="logs", direction="download"), machine)
    assert Path("logs/app.log").read_text() == "log"
    assert Path("logs/sub/deep.txt").read_text() == "deep"


def test_download_glob_then_more_sources(machine: FakeCommunicator) -> None:
    prov = make(sources=["/var/log/*.log", "/etc/hostname"], destination="g/", direction="download")
    run(prov, machine)
    assert sorted(p.name for p in Path("g").iterdir()) == ["app.log", "hostname", "old.log"]
    assert [t.kind for t in machine.transfers] == ["download_dir", "download"]


def test_download_missing_file(machine: FakeCommunicator) -> None:
    with pytest.raises(BuildError, match="^Download failed: /nope: No such file"):
        run(make(source="/nope", destination="x", direction="download"), machine)


# --------------------------------------------------------------------------- cancel
def test_cancelled_before_the_transfer(fake: FakeCommunicator) -> None:
    prov = make(sources=["one.txt", "two.txt"], destination="/dst/")
    prov.options.cancel.cancel()
    with pytest.raises(BuildCancelled):
        run(prov, fake)
    assert fake.transfers == []


def test_cancel_raised_by_the_communicator_is_not_wrapped(fake: FakeCommunicator) -> None:
    fake.fail_next(1, BuildCancelled())
    with pytest.raises(BuildCancelled):
        run(make(source="one.txt", destination="/dst/"), fake)


def test_needs_a_communicator() -> None:
    with pytest.raises(BuildError, match="needs a communicator"):
        make(source="one.txt", destination="/x").provision(Ui(RecordingSink(), "w"), None, {})
