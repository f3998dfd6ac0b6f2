"""ISOConfig: Packer 1.6.6's defaults and checks, each error located by the engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from builder.common.iso.config import NONE_WARNING, ISOConfig
from builder.components import Builder
from builder.config import PluginConfig
from builder.engine import load_template, prepare

SHA = "9f1f68fd076d18196d66bc07fffdaeb0fc8e64c3d4f7a67f71e618402dd0faee"


class _ISOBuilderConfig(ISOConfig):
    """A builder block with only the ISO options (the qemu builder adds its own)."""


class _ISOBuilder(Builder):
    """Registered for these tests only: prepared, never run."""

    Config: ClassVar[type[PluginConfig]] = _ISOBuilderConfig

    def warnings(self) -> list[str]:
        assert isinstance(self.config, ISOConfig)
        return self.config.iso_warnings()

    def run(self, ui: Any, hook: Any, cancel: Any) -> None:
        raise AssertionError("only prepared")


Errors = list[tuple[str, str, str | None]]


@pytest.fixture
def errors_of(
    plugins: Callable[[str, str, type[Any]], None], tmp_path: Path
) -> Callable[[dict[str, Any]], Errors]:
    plugins("builder", "iso-test", _ISOBuilder)

    def check(block: dict[str, Any]) -> Errors:
        path = tmp_path / "t.json"
        text = json.dumps({"builders": [{"type": "iso-test", **block}]}, indent=2)
        path.write_text(text)
        prepared = prepare(load_template(str(path)))
        lines = text.splitlines()
        out: Errors = []
        for e in prepared.all_errors:
            assert e.location.file == str(path)
            key, _, index = e.location.path.split(".")[-1].rstrip("]").partition("[")
            # the line of the option's key (its item's), or of the block when it is absent
            want = next((i + 1 for i, t in enumerate(lines) if f'"{key}"' in t), 3)
            want += int(index) + 1 if index else 0
            assert e.location.line == want, (e.location, want)
            out.append((e.location.path, e.message, e.hint))
        return out

    return check


def test_defaults() -> None:
    cfg = ISOConfig.model_validate({"iso_url": "http://h/x.iso", "iso_checksum": "none"})
    assert cfg.iso_target_extension == "iso"
    assert cfg.iso_target_path == "" and cfg.iso_skip_cache is False
    assert cfg.urls == ["http://h/x.iso"]


def test_extension_is_lower_case_and_empty_means_iso() -> None:
    assert ISOConfig(iso_target_extension="ISO").iso_target_extension == "iso"
    assert ISOConfig(iso_target_extension="").iso_target_extension == "iso"
    assert ISOConfig(iso_target_extension="Img").iso_target_extension == "img"


def test_iso_urls_keep_their_order_and_split_on_commas() -> None:
    cfg = ISOConfig.model_validate({"iso_urls": "http://a/x.iso,http://b/x.iso"})
    assert cfg.urls == ["http://a/x.iso", "http://b/x.iso"]
    assert ISOConfig(iso_skip_cache="true").iso_skip_cache is True  # type: ignore[arg-type]


def test_a_valid_block(errors_of: Callable[[dict[str, Any]], Errors]) -> None:
    assert errors_of({"iso_url": "http://h/x.iso", "iso_checksum": f"sha256:{SHA}"}) == []
    assert errors_of({"iso_urls": ["/srv/x.iso", "file:///x.iso"], "iso_checksum": SHA}) == []
    assert errors_of({"iso_url": "x.iso", "iso_checksum": "file:http://h/SHA256SUMS"}) == []


def test_checksum_errors_are_located(errors_of: Callable[[dict[str, Any]], Errors]) -> None:
    errs = errors_of({"iso_url": "http://h/x.iso", "iso_checksum": "sha256:abcd"})
    assert errs == [
        (
            "builders[0].iso_checksum",
            'invalid checksum: a sha256 checksum has 64 hex digits, this one has 4 in "sha256:abcd"',
            None,
        )
    ]
    [(path, message, hint)] = errors_of({"iso_url": "http://h/x.iso", "iso_checksum": ""})
    assert (path, message) == ("builders[0].iso_checksum", "A checksum must be specified")
    assert hint is not None and "none" in hint
    [(_, message, _)] = errors_of({"iso_url": "http://h/x.iso", "iso_checksum": "foo:ab"})
    assert message == 'unsupported checksum type: foo in "foo:ab"'


def test_one_of_iso_url_and_iso_urls(errors_of: Callable[[dict[str, Any]], Errors]) -> None:
    assert errors_of({"iso_checksum": "none"}) == [
        ("builders[0].iso_url", "One of iso_url or iso_urls must be specified", None)
    ]
    both = errors_of({"iso_url": "a.iso", "iso_urls": ["b.iso"], "iso_checksum": "none"})
    assert both == [
        ("builders[0].iso_urls", "Only one of iso_url or iso_urls must be specified", None)
    ]


def test_unsupported_schemes_are_located(errors_of: Callable[[dict[str, Any]], Errors]) -> None:
    errs = errors_of(
        {"iso_urls": ["http://h/x.iso", "ftp://h/x.iso", "http:///x.iso"], "iso_checksum": SHA}
    )
    assert [(p, m) for p, m, _ in errs] == [
        (
            "builders[0].iso_urls[1]",
            "unsupported URL scheme 'ftp' in 'ftp://h/x.iso': pybuild downloads http, https "
            "and file URLs and local paths",
        ),
        ("builders[0].iso_urls[2]", "the URL 'http:///x.iso' has no host"),
    ]


def test_removed_checksum_options_say_what_to_write(
    errors_of: Callable[[dict[str, Any]], Errors],
) -> None:
    errs = errors_of(
        {"iso_url": "http://h/x.iso", "iso_checksum": SHA, "iso_checksum_type": "sha256"}
    )
    assert errs == [
        (
            "builders[0].iso_checksum_type",
            "Deprecated configuration key: 'iso_checksum_type'. Packer 1.6 removed it",
            f'write the checksum as "iso_checksum": "sha256:{SHA}"',
        )
    ]
    [(_, _, hint)] = errors_of(
        {"iso_url": "h.iso", "iso_checksum": f"sha256:{SHA}", "iso_checksum_type": "sha256"}
    )
    assert hint == f'write the checksum as "iso_checksum": "sha256:{SHA}"'  # already typed
    [(path, _, hint)] = errors_of(
        {"iso_url": "http://h/x.iso", "iso_checksum": "none", "iso_checksum_url": "http://h/S"}
    )
    assert path == "builders[0].iso_checksum_url"
    assert hint == 'write the checksum as "iso_checksum": "file:http://h/S"'


def test_none_warns_as_packer_does(
    plugins: Callable[[str, str, type[Any]], None], tmp_path: Path
) -> None:
    plugins("builder", "iso-test", _ISOBuilder)
    path = tmp_path / "t.json"
    block = {"type": "iso-test", "iso_url": "http://h/x.iso", "iso_checksum": "none"}
    path.write_text(json.dumps({"builders": [block]}))
    [build] = prepare(load_template(str(path))).builds
    assert build.warnings == [NONE_WARNING]
    assert NONE_WARNING == (
        "A checksum of 'none' was specified. Since ISO files are so big,\n"
        "a checksum is highly recommended."
    )
