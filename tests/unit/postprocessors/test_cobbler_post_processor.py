"""The `cobbler` post-processor over FakeCobbler (a fake below the XML-RPC boundary): its
options' errors at `post-processors[N].field`, the registration and what the ledger says,
the checks that come before any change, the undo on failure, import, cleanup's handler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.cobbler.driver import COBBLER, CobblerSettings, owner_comment
from builder.engine import BuildResult, RunOptions, load_template, prepare, run
from builder.ledger import LeftResource
from builder.testing import RecordingSink
from tests.unit.postprocessors.test_cobbler_fakes import PASSWORD, FakeCobbler

MAC1, MAC2 = "52:54:00:00:00:01", "52:54:00:00:00:02"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCobbler]:
    monkeypatch.setenv("COBBLER_PASSWORD", PASSWORD)
    server = FakeCobbler()
    with COBBLER.override(server.factory):
        yield server


@pytest.fixture
def image(tmp_path: Path) -> list[str]:
    src = tmp_path / "image"
    src.mkdir()
    for name in ("vmlinuz", "initrd.img", "disk.raw"):
        (src / name).write_bytes(name.encode() * 100)
    return [str(src / n) for n in ("vmlinuz", "initrd.img", "disk.raw")]


def template(tmp_path: Path, files: list[str], **pp: Any) -> Path:
    data = {
        "builders": [{"type": "file", "content": "x", "target": str(tmp_path / "out.txt")}],
        "post-processors": [[{"type": "artifice", "files": files}, {"type": "cobbler", **pp}]],
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def errors(tmp_path: Path, **pp: Any) -> list[str]:
    data = {
        "builders": [{"type": "file", "content": "x", "target": str(tmp_path / "out.txt")}],
        "post-processors": [{"type": "cobbler", **pp}],
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data, indent=2))
    prepared = prepare(load_template(str(path)), RunOptions())
    return [str(e) for e in prepared.all_errors]


def build(
    tmp_path: Path, files: list[str], *, force: bool = False, **pp: Any
) -> tuple[BuildResult, RecordingSink]:
    opts = {"distro": {"name": "metal"}, "files_dir": str(tmp_path / "files"), **pp}
    prepared = prepare(
        load_template(str(template(tmp_path, files, **opts))), RunOptions(force=force)
    )
    assert not prepared.errors, prepared.all_errors
    sink = RecordingSink()
    return run(prepared, sink)["file"], sink


# ---------------------------------------------------------------------- options
def test_options_errors_are_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COBBLER_PASSWORD", raising=False)
    found = "\n".join(errors(
        tmp_path,
        url="ftp://x",
        distro={"kernel": "/k"},
        import_path="/mnt/tree",
        image_base_url="http://x/",
        systems=[{"name": "a", "mac": "52:54:00:00:00:0g"}, {"name": "a", "mac": MAC1},
                 {"name": "b", "mac": MAC1}],
    ))  # fmt: skip
    assert "post-processors[0].url: url must be an http or https URL, not 'ftp://x'" in found
    assert "post-processors[0].password: password must be set" in found
    assert "COBBLER_PASSWORD" in found
    assert "post-processors[0].distro.name: distro.name must be set" in found
    assert "post-processors[0].distro.kernel: distro.kernel cannot be set with import_path" in found
    assert "post-processors[0].image_base_url: image_base_url needs files_dir" in found
    assert "post-processors[0].systems[0].mac: invalid MAC address '52:54:00:00:00:0g'" in found
    assert "post-processors[0].systems[1].name: system 'a' is listed twice (systems[0])" in found
    assert "post-processors[0].systems[2].mac: MAC 52:54:00:00:00:01 is listed twice" in found
    assert "t.json:" in found


def test_unknown_options_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COBBLER_PASSWORD", "p")
    found = errors(tmp_path, distro={"name": "d", "kernal": "/k"})
    assert any("post-processors[0].distro.kernal" in e and "did you mean 'kernel'" in e
               for e in found), found  # fmt: skip


def test_a_valid_block_prepares_and_plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COBBLER_PASSWORD", "p")
    assert errors(tmp_path, distro={"name": "d"}, systems=[{"name": "n", "mac": MAC1}]) == []
    from postprocessors.cobbler import CobblerPostProcessor
    from postprocessors.cobbler_config import CobblerConfig

    pp = CobblerPostProcessor(
        CobblerConfig(distro={"name": "d"}, systems=[{"name": "n", "mac": MAC1}]),  # type: ignore[arg-type]
        _options(),
    )
    assert [(c.ref, c.name) for c in pp.plan_creates()] == [
        ("cobbler.distro", "d"), ("cobbler.profile", "d"), ("cobbler.system", "n")]  # fmt: skip


def _options() -> Any:
    from builder.components import PluginOptions
    from builder.template.funcs import RenderContext

    return PluginOptions("b", "file", RenderContext())


def test_the_password_is_a_secret() -> None:
    from postprocessors.cobbler_config import CobblerConfig

    assert ("password",) in CobblerConfig.secret_paths()
    assert CobblerConfig(password="hunter2").secrets() == ["hunter2"]


# ---------------------------------------------------------------------- registration
def test_registration_over_the_fake(fake: FakeCobbler, image: list[str], tmp_path: Path) -> None:
    result, _ = build(tmp_path, image, image_base_url="http://files/pb",
                      systems=[{"name": "n1", "mac": MAC1.upper()}])  # fmt: skip
    assert result.error is None, result.error
    art = result.artifacts[-1]
    objs = fake.objects
    assert objs["distro"]["metal"]["kernel"] == str(tmp_path / "files" / "metal" / "vmlinuz")
    assert objs["distro"]["metal"]["comment"].startswith("pybuild run ")
    assert objs["profile"]["metal"]["kernel_options"] == {
        "image_url": "http://files/pb/metal/metal.raw"
    }
    assert objs["system"]["n1"]["mac_address"] == MAC1 and objs["system"]["n1"]["netboot_enabled"]
    assert fake.syncs == 1
    assert art.state("boot_files") == [
        "images/metal/vmlinuz", "images/metal/initrd.img",
        f"pxelinux.cfg/01-{MAC1.replace(':', '-')}", f"grub/system/{MAC1}"]  # fmt: skip
    assert art.state("xmlrpc_calls") == art.state("xmlrpc_calls")  # counted by the driver
    # login, 2 valid, 1 MAC find, 3 gets, 2 child finds; 3 gets (replace); 3 adds; sync; tftpboot
    assert fake.log.count("login") == 1 and len(fake.log) == art.state("xmlrpc_calls")
    art.destroy()
    assert all(not objs[k] for k in objs)
    assert not (tmp_path / "files" / "metal").exists()


def test_without_files_dir_the_inputs_are_used_in_place_and_kept(
    fake: FakeCobbler, image: list[str], tmp_path: Path
) -> None:
    result, _ = build(tmp_path, image, files_dir="")
    assert result.error is None, result.error
    assert fake.objects["distro"]["metal"]["kernel"] == image[0]
    result.artifacts[-1].destroy()


def test_a_rerun_replaces_its_own_and_refuses_others_without_force(
    fake: FakeCobbler, image: list[str], tmp_path: Path
) -> None:
    assert build(tmp_path, image)[0].error is None
    assert build(tmp_path, image)[0].error is None  # its own: replaced
    fake.objects["distro"]["metal"]["comment"] = "made by hand"
    result, _ = build(tmp_path, image)
    assert "Cobbler already has a distro 'metal' that pybuild did not register" in str(result.error)
    assert fake.objects["distro"]["metal"]["comment"] == "made by hand"
    forced, _ = build(tmp_path, image, force=True)
    assert forced.error is None, forced.error
    assert fake.objects["distro"]["metal"]["comment"].startswith("pybuild run ")


def test_checks_come_before_any_change(fake: FakeCobbler, image: list[str], tmp_path: Path) -> None:
    fake.objects["system"]["other"] = {"name": "other", "mac_address": MAC2, "comment": ""}
    before = json.dumps(fake.objects, sort_keys=True)
    for pp, expected in (
        (
            {"distro": {"name": "metal", "arch": "amd65"}},
            "distro.arch: Cobbler knows no arch 'amd65'",
        ),
        ({"distro": {"name": "metal", "breed": "redhot"}}, "(did you mean 'redhat'?)"),
        (
            {"systems": [{"name": "n", "mac": MAC2}]},
            f"MAC {MAC2} already belongs to Cobbler system 'other'",
        ),
        ({"password": "wrong"}, "refused the login of 'cobbler': login failed"),
    ):
        result, _ = build(tmp_path, image, **pp)
        assert expected in str(result.error), (pp, result.error)
        assert json.dumps(fake.objects, sort_keys=True) == before
        assert not (tmp_path / "files" / "metal").exists() or not any(
            (tmp_path / "files" / "metal").iterdir()
        )
        assert not any(op.startswith(("add", "remove")) for op in fake.log), fake.log


def test_a_failure_half_way_is_undone(fake: FakeCobbler, image: list[str], tmp_path: Path) -> None:
    from builder.cobbler.driver import CobblerError

    fake.fail["add system n2"] = CobblerError("add system n2", "invalid ip", answered=True)
    result, sink = build(
        tmp_path, image, systems=[{"name": "n1", "mac": MAC1}, {"name": "n2", "mac": MAC2}]
    )
    assert "Cobbler at http://127.0.0.1:25151/ refused to add system n2: invalid ip" in str(
        result.error
    )
    assert all(not fake.objects[k] for k in fake.objects), fake.objects
    assert not list((tmp_path / "files").rglob("*.*"))


def test_cobbler_unreachable(fake: FakeCobbler, image: list[str], tmp_path: Path) -> None:
    fake.down = True
    result, _ = build(tmp_path, image)
    assert "cannot reach Cobbler at fake: Connection refused (is cobblerd running" in str(
        result.error
    )


def test_import_makes_the_trees_distro_ours(
    fake: FakeCobbler, image: list[str], tmp_path: Path
) -> None:
    fake.import_makes = ["tree-x86_64"]
    result, _ = build(tmp_path, image, files_dir="", import_path="/mnt/tree",
                      distro={"name": "tree"}, profile={"name": "tree-metal"})  # fmt: skip
    assert result.error is None, result.error
    assert fake.objects["distro"]["tree-x86_64"]["comment"].startswith("pybuild run ")
    assert fake.objects["profile"]["tree-metal"]["distro"] == "tree-x86_64"
    assert fake.log.count("task") == 2


# ---------------------------------------------------------------------- cleanup's handler
def test_cleanup_removes_only_its_own_runs_objects(fake: FakeCobbler, tmp_path: Path) -> None:
    from builder.cobbler.resources import HANDLER

    fake.objects["distro"]["mine"] = {"name": "mine", "comment": owner_comment("run1")}
    fake.objects["distro"]["later"] = {"name": "later", "comment": owner_comment("run2")}
    copied = tmp_path / "files" / "mine" / "vmlinuz"
    copied.parent.mkdir(parents=True)
    copied.write_text("k")

    def left(kind: str, name: str) -> LeftResource:
        return LeftResource("run1", "b#1", "b", "cobbler", kind, name=name, state="creating")

    with HANDLER.open({"url": "http://127.0.0.1:25151/", "username": "cobbler"}, None) as remover:
        assert remover.remove(left("distro", "mine")) is True
        assert remover.remove(left("distro", "later")) is False  # another run's now
        assert remover.remove(left("distro", "gone")) is False
        assert remover.remove(left("file", str(copied))) is True
    assert list(fake.objects["distro"]) == ["later"]
    assert not copied.parent.exists()


def test_cleanup_without_a_password_says_how(
    fake: FakeCobbler, monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder.cobbler.resources import HANDLER
    from builder.errors import PybuildError

    monkeypatch.delenv("COBBLER_PASSWORD")
    with HANDLER.open({"username": "cobbler"}, None) as remover:
        with pytest.raises(PybuildError, match="set COBBLER_PASSWORD"):
            remover.remove(LeftResource("r", "b#1", "b", "cobbler", "distro", name="d"))
    assert CobblerSettings.from_record({"url": "u", "password": "x"}, {}).password == ""


def test_the_metal_example_prepares(monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/metal: the qemu ISO build chained to cobbler (no ISO or Cobbler needed)."""
    monkeypatch.setenv("COBBLER_PASSWORD", "secret")
    root = Path(__file__).resolve().parents[3]
    loaded = load_template(
        str(root / "examples" / "metal" / "template.json"),
        variables={
            "iso_url": "/x.iso",
            "iso_checksum": "none",
            "deploy_kernel": "/k",
            "deploy_initrd": "/i",
        },  # fmt: skip
    )
    prepared = prepare(loaded, RunOptions())
    assert not prepared.all_errors, prepared.all_errors
    (build,) = prepared.builds
    (chain,) = build.chains
    pp = chain[0].plugin
    refs = [c.ref for c in pp.plan_creates()]
    assert refs == ["cobbler.distro", "cobbler.profile", "cobbler.system", "cobbler.file"]
    cfg = pp.config
    assert cfg.password == "secret" and cfg.systems[0].mac == "52:54:00:12:34:56"  # type: ignore[attr-defined]
