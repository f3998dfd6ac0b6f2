"""Packer 1.6.6's cache directory and file names, and what StepDownload plans.

The two names below were made by packer 1.6.6 itself (`packer build` of a qemu template
with PACKER_CACHE_DIR set): sha1 of the checksum as go-getter writes it, `.iso`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from builder.common.iso import ISOConfig, StepDownload, parse_checksum
from builder.common.iso.checksum import Checksum
from builder.common.iso.download import (
    DownloadError,
    cache_dir,
    cache_target,
    is_local,
    redacted,
)
from builder.common.run import BuildRun
from builder.ledger import Ledger

SHA = "9f1f68fd076d18196d66bc07fffdaeb0fc8e64c3d4f7a67f71e618402dd0faee"
PACKER_NAME = "656cc60b47f6a807d30fdae34da57e935d7e4edb"  # sha256:SHA, from packer 1.6.6
ZEROS_NAME = "8b3024a97a44f2d143047d1cdaabeb5aa98591d1"  # sha256:000…, from packer 1.6.6


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cache_dir_defaults_to_packer_cache_in_the_working_directory(cwd: Path) -> None:
    assert cache_dir() == str(cwd / "packer_cache")


def test_cache_dir_from_the_environment(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACKER_CACHE_DIR", "/var/cache/isos")
    assert cache_dir() == "/var/cache/isos"
    monkeypatch.setenv("PACKER_CACHE_DIR", "rel/cache")
    assert cache_dir() == str(cwd / "rel" / "cache")
    monkeypatch.setenv("PACKER_CACHE_DIR", "")
    assert cache_dir() == str(cwd / "packer_cache")


def test_named_by_the_checksum_as_packer_names_it(cwd: Path) -> None:
    url = "http://127.0.0.1:18765/a.iso"
    digest = Checksum("sha256", SHA)
    assert cache_target(url, digest) == str(cwd / "packer_cache" / f"{PACKER_NAME}.iso")
    zeros = Checksum("sha256", "0" * 64)
    assert os.path.basename(cache_target(url, zeros)) == f"{ZEROS_NAME}.iso"
    # every mirror of the same file shares the name; bare and upper-case forms too
    assert cache_target("http://other/b.iso", digest) == cache_target(url, digest)
    assert parse_checksum(SHA.upper()) == digest


def test_with_none_the_url_names_it(cwd: Path) -> None:
    url = "http://h/x.iso"
    name = hashlib.sha1(url.encode()).hexdigest()
    assert cache_target(url, None) == str(cwd / "packer_cache" / f"{name}.iso")
    assert cache_target(url, None, extension="img").endswith(f"{name}.img")
    assert cache_target(url, None, extension="") == str(cwd / "packer_cache" / name)


def test_iso_target_path(cwd: Path) -> None:
    digest = Checksum("sha256", SHA)
    # with an extension: the file itself
    assert cache_target("http://h/x.iso", digest, target_path="out/my.iso") == str(
        cwd / "out" / "my.iso"
    )
    # without one: a directory for the named file (the extension, else .iso)
    assert cache_target("http://h/x.iso", digest, target_path="/isos") == f"/isos/{PACKER_NAME}.iso"
    assert cache_target("http://h/x.iso", digest, target_path="/isos/", extension="img") == (
        f"/isos/{PACKER_NAME}.img"
    )
    assert cache_target("http://h/x.iso", digest, target_path="/a.d/isos", extension="") == (
        f"/a.d/isos/{PACKER_NAME}.iso"
    )


def test_local_sources() -> None:
    assert is_local("/srv/x.iso") and is_local("x.iso") and is_local("file:///srv/x.iso")
    assert is_local("C:/isos/x.iso")
    assert not is_local("http://h/x.iso") and not is_local("HTTPS://h/x.iso")


def test_passwords_in_urls_are_redacted() -> None:
    assert redacted("https://u:s3cret@h/x.iso") == "https://u:xxxxx@h/x.iso"
    assert redacted("https://u@h/x.iso") == "https://u@h/x.iso"
    assert redacted("/srv/x.iso") == "/srv/x.iso"


def test_the_error_lists_every_url() -> None:
    err = DownloadError("ISO", [("http://a/x.iso", "bad response code: 404"), ("b.iso", "x\ny")])
    assert str(err) == (
        "error downloading ISO:\n  * http://a/x.iso: bad response code: 404\n  * b.iso: x\n    y"
    )
    assert err.failures == [("http://a/x.iso", "bad response code: 404"), ("b.iso", "x\ny")]


# --------------------------------------------------------------------------- the step
def test_plan_names_the_part_file(cwd: Path) -> None:
    cfg = ISOConfig(iso_url="http://h/x.iso", iso_checksum=f"sha256:{SHA}")
    [creates] = StepDownload().plan(cfg, "qemu")
    assert creates.ref == "local.file"
    assert creates.name == str(cwd / "packer_cache" / f"{PACKER_NAME}.iso.part")
    assert f"kept in the cache as {cwd / 'packer_cache' / PACKER_NAME}.iso" in creates.what


def test_plan_of_a_checksum_file_is_known_at_run_time(cwd: Path) -> None:
    cfg = ISOConfig(iso_url="http://h/x.iso", iso_checksum="file:http://h/SHA256SUMS")
    [creates] = StepDownload().plan(cfg, "qemu")
    assert "(known at run time)" in creates.name


def test_plan_creates_nothing_for_local_files_or_skip_cache() -> None:
    local = ISOConfig(iso_url="/srv/x.iso", iso_checksum=SHA)
    skip = ISOConfig(iso_url="http://h/x.iso", iso_checksum=SHA, iso_skip_cache=True)
    assert StepDownload().plan(local, "q") == [] and StepDownload().plan(skip, "q") == []


@dataclass(kw_only=True)
class _Run(BuildRun[ISOConfig]):
    """A platform run with the ISO field, as the qemu run will have it (type-checked)."""

    iso_path: str = ""
    other: list[str] = field(default_factory=list)


def test_a_platform_run_satisfies_the_step(cwd: Path) -> None:
    from builder.components import PluginOptions
    from builder.multistep import CancelToken, Step
    from builder.template.funcs import RenderContext
    from builder.testing import RecordingSink
    from builder.ui import Ui

    iso = cwd / "x.iso"
    iso.write_bytes(b"data")
    cfg = ISOConfig(iso_url=str(iso), iso_checksum=f"md5:{hashlib.md5(b'data').hexdigest()}")
    render = RenderContext(user_vars={}, template_path=None, build_name="b", build_type="t")
    run = _Run(
        ui=Ui(RecordingSink(), "b"),
        cancel=CancelToken(),
        hook=None,  # type: ignore[arg-type]
        options=PluginOptions(build_name="b", build_type="t", render=render),
        resources=Ledger.memory().build("b"),
        config=cfg,
    )
    step: Step[_Run] = StepDownload()
    step.run(run)
    assert run.iso_path == str(iso)
    step.cleanup(run)
    assert run.iso_path == ""


def test_the_download_imports_without_pydantic_or_http() -> None:
    """`pybuild validate` pays for none of it; a download loads http.client when it runs."""
    import subprocess
    import sys

    code = (
        "import sys, builder.common.iso.download, builder.common.iso.checksum\n"
        "print(sorted(m for m in ('pydantic', 'http.client', 'ssl') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_environment_proxy_is_used_except_for_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Connections are only built here, never opened (no network in unit tests)."""
    import http.client

    from builder.common.iso.download import _connection

    monkeypatch.setenv("http_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("no_proxy", "internal.example")
    conn, target = _connection("http://u:pw@mirror.example/debian/x.iso?a=1")
    assert (conn.host, conn.port) == ("proxy.example", 3128)
    assert target == "http://mirror.example/debian/x.iso?a=1"  # absolute, no credentials
    tls, path = _connection("https://mirror.example/x.iso")
    assert isinstance(tls, http.client.HTTPSConnection)
    tunnel = getattr(tls, "_tunnel_host", None)  # http.client keeps the CONNECT target here
    assert (tls.host, tunnel, path) == ("proxy.example", "mirror.example", "/x.iso")
    for direct in ("http://127.0.0.1:8000/x.iso", "http://localhost/x.iso",
                   "http://internal.example/x.iso"):  # fmt: skip
        conn, target = _connection(direct)
        assert conn.host != "proxy.example" and target == "/x.iso"
