"""HTTPConfig: Packer 1.6.6's options and defaults, pybuild's bind address, the checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from builder.common.http import HTTPConfig


def errors(**options: object) -> list[tuple[str, str]]:
    return [(e.location.path, e.message) for e in HTTPConfig.model_validate(options).check()]


def test_defaults() -> None:
    cfg = HTTPConfig()
    assert (cfg.http_directory, cfg.http_port_min, cfg.http_port_max) == ("", 8000, 9000)
    assert cfg.http_bind_address == "127.0.0.1"  # Packer 1.6.6 listens on 0.0.0.0
    assert cfg.check() == []


def test_zero_and_empty_mean_the_defaults_as_packer_prepare() -> None:
    cfg = HTTPConfig.model_validate(
        {"http_port_min": "0", "http_port_max": 0, "http_bind_address": ""}
    )
    assert (cfg.http_port_min, cfg.http_port_max, cfg.http_bind_address) == (
        8000,
        9000,
        "127.0.0.1",
    )


def test_values_arrive_as_strings() -> None:
    cfg = HTTPConfig.model_validate(
        {"http_port_min": "8100", "http_port_max": "8100", "http_bind_address": "0.0.0.0"}
    )
    assert (cfg.http_port_min, cfg.http_port_max, cfg.http_bind_address) == (
        8100,
        8100,
        "0.0.0.0",
    )
    assert cfg.check() == []


def test_min_above_max_is_an_error_at_http_port_min() -> None:
    assert errors(http_port_min=9100, http_port_max=9000) == [
        ("http_port_min", "http_port_min must be less than http_port_max")
    ]


def test_ports_out_of_range() -> None:
    assert errors(http_port_min=70000, http_port_max=70001) == [
        ("http_port_min", "http_port_min must be between 1 and 65535"),
        ("http_port_max", "http_port_max must be between 1 and 65535"),
    ]


def test_http_directory_must_be_a_directory(tmp_path: Path) -> None:
    missing, file = tmp_path / "nope", tmp_path / "file"
    file.write_text("x")
    assert errors(http_directory=str(missing)) == [
        ("http_directory", f"{str(missing)!r} does not exist")
    ]
    assert errors(http_directory=str(file)) == [
        ("http_directory", f"{str(file)!r} is not a directory")
    ]
    assert errors(http_directory=str(tmp_path)) == []


def test_http_interface_is_rejected_as_1_6_6_does() -> None:
    [err] = HTTPConfig.model_validate({"http_interface": "eth0"}).check()
    assert err.location.path == "http_interface"
    assert err.message == "either http_interface or http_bind_address can be specified"
    assert err.hint is not None and "http_bind_address" in err.hint


def test_http_content_is_not_an_option_of_1_6_6() -> None:
    with pytest.raises(ValidationError):
        HTTPConfig.model_validate({"http_content": {"/a": "b"}})
