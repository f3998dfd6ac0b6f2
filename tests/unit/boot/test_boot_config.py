"""Boot options: Packer 1.6.6's defaults, the key interval rules, and the validate-time check."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from builder.common.boot.config import (
    DEFAULT_KEY_INTERVAL,
    KEY_INTERVAL_ENV,
    BootConfig,
    VNCConfig,
    key_interval,
    mask_actions,
)
from builder.components import Builder
from builder.config import PluginConfig
from builder.engine import load_template, prepare


def errors_of(config: PluginConfig) -> list[tuple[str, str, str | None]]:
    return [(e.location.path, e.message, e.hint) for e in config.check()]


def test_defaults() -> None:
    cfg = VNCConfig()
    assert cfg.boot_command == [] and cfg.boot_wait == 10.0
    assert cfg.boot_keygroup_interval == 0.0 and cfg.boot_key_interval == 0.0
    assert cfg.disable_vnc is False
    assert BootConfig.deferred == frozenset({"boot_command"})
    assert "boot_key_interval" not in BootConfig.model_fields  # VNC only, as in 1.6.6


@pytest.mark.parametrize(
    ("value", "seconds"), [("0s", 10.0), ("0", 10.0), ("-1s", -1.0), ("1m30s", 90.0), ("5s", 5.0)]
)
def test_boot_wait_zero_is_the_default_and_negative_is_none(value: str, seconds: float) -> None:
    assert VNCConfig.model_validate({"boot_wait": value}).boot_wait == seconds


def test_boot_command_string_splits_on_commas_as_packer_does() -> None:
    cfg = BootConfig.model_validate({"boot_command": "a,b<enter>"})
    assert cfg.boot_command == ["a", "b<enter>"]
    assert cfg.flat_boot_command() == "ab<enter>"


@pytest.mark.parametrize(
    ("configured", "env", "expected"),
    [
        (0.0, None, DEFAULT_KEY_INTERVAL),
        (0.0, "10ms", 0.01),
        (0.0, "0", 0.0),
        (0.0, "-5ms", 0.0),
        (0.0, "", DEFAULT_KEY_INTERVAL),
        (0.0, "5", DEFAULT_KEY_INTERVAL),  # Go: missing unit, ignored
        (0.0, "fast", DEFAULT_KEY_INTERVAL),
        (0.0, " 10ms", DEFAULT_KEY_INTERVAL),
        (0.02, "10ms", 0.02),  # a positive option wins
        (-1.0, "10ms", 0.01),
    ],
)
def test_key_interval(configured: float, env: str | None, expected: float) -> None:
    environ = {} if env is None else {KEY_INTERVAL_ENV: env}
    assert key_interval(configured, environ) == pytest.approx(expected)


def test_typing_interval_per_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_INTERVAL_ENV, raising=False)
    both = {"boot_keygroup_interval": "1s"}
    assert VNCConfig.model_validate({**both, "boot_key_interval": "5ms"}).typing_interval() == 0.005
    assert VNCConfig.model_validate(both).typing_interval() == DEFAULT_KEY_INTERVAL
    assert BootConfig.model_validate(both).typing_interval() == 1.0
    monkeypatch.setenv(KEY_INTERVAL_ENV, "20ms")
    assert VNCConfig().typing_interval() == 0.02


def test_check_locates_each_problem_at_its_string() -> None:
    cfg = VNCConfig.model_validate(
        {
            "boot_command": [
                "<esc><wait>",
                "linux <entre>",
                "<ent",  # a key may span two strings: Packer joins them first
                "er><wait-1s>",
                "<WAIT5> ok",
            ]
        }
    )
    assert errors_of(cfg) == [
        (
            "boot_command[1]",
            "unknown key '<entre>' (it would be typed as text)",
            "did you mean '<enter>'?",
        ),
        ("boot_command[3]", "Expecting a positive wait value. Got -1s", None),
        ("boot_command[4]", "invalid wait '<WAIT5>'", "did you mean '<wait5>'?"),
    ]


def test_check_leaves_template_actions_for_run_time() -> None:
    cfg = VNCConfig.model_validate(
        {
            "boot_command": [
                "url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/{{ .Name }}.cfg<enter>",
                "<wait{{ user `pause` }}>",
                '{{ "}}<entre>" }}',  # a string inside an action is not keys
                "<entre>{{ .HTTPIP }}",
            ]
        }
    )
    assert [(path, hint) for path, _, hint in errors_of(cfg)] == [
        ("boot_command[3]", "did you mean '<enter>'?")
    ]


def test_mask_actions_keeps_offsets() -> None:
    masked, origin = mask_actions("a{{ .X }}<b>{{ `}}` }}c{{ unterminated")
    assert masked == "a\ue000<b>\ue000c{{ unterminated"
    assert [origin[i] for i in (0, 1, 2, 5, 6)] == [0, 1, 9, 12, 22]


def test_disable_vnc_with_a_boot_command() -> None:
    cfg = VNCConfig.model_validate({"disable_vnc": True, "boot_command": ["<enter>"]})
    assert errors_of(cfg) == [
        ("disable_vnc", "A boot command cannot be used when vnc is disabled.", None)
    ]
    assert errors_of(VNCConfig.model_validate({"disable_vnc": True})) == []


class _BootTestConfig(VNCConfig):
    pass


class _BootTestBuilder(Builder):
    """A builder whose config is the boot block alone, to run the engine's validate path."""

    Config: ClassVar[type[PluginConfig]] = _BootTestConfig

    def run(self, ui: Any, hook: Any, cancel: Any) -> None:
        raise AssertionError("only prepared")


def test_validate_reports_template_paths_and_lines_and_keeps_the_command_raw(
    plugins: Callable[[str, str, type[Any]], None], template: Callable[..., Path]
) -> None:
    plugins("builder", "boot-test", _BootTestBuilder)
    doc: dict[str, Any] = {
        "variables": {"pause": "5s"},
        "builders": [
            {
                "type": "boot-test",
                "boot_wait": "-1s",
                "boot_command": ["<esc><wait{{user `pause`}}>", "ks=http://{{ .HTTPIP }}/<entre>"],
            }
        ],
    }
    path = template(doc)
    lines = path.read_text().splitlines()
    prepared = prepare(load_template(str(path)))
    (error,) = prepared.errors["boot-test"].errors
    assert error.location.path == "builders[0].boot_command[1]"
    assert error.location.line == next(i + 1 for i, t in enumerate(lines) if "<entre>" in t)
    assert error.hint == "did you mean '<enter>'?"
    doc["builders"][0]["boot_command"][1] = "ks=http://{{ .HTTPIP }}/<enter>"
    prepared = prepare(load_template(str(template(json.dumps(doc)))))
    (build,) = prepared.builds
    config = build.builder.config
    assert isinstance(config, _BootTestConfig)
    assert config.boot_command == [
        "<esc><wait{{user `pause`}}>",
        "ks=http://{{ .HTTPIP }}/<enter>",
    ]
    assert config.boot_wait == -1.0
