"""The plugin config contract (issue 8), checked over every registered plugin.

- every option whose name says it holds a password, secret, token or private key is `Secret`;
- a value given to a `Secret` option never shows in a real build's output or debug log;
- `@config_check` methods of every level of a config hierarchy run once each, and
  `Plugin.prepare()` raises all their errors together, located by the engine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, get_args

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from builder.components import Builder, PluginOptions
from builder.config import PluginConfig, config_check, is_secret_field, option_error
from builder.engine import load_template, prepare
from builder.errors import ConfigErrors, TemplateError
from builder.plugins import registry
from builder.template.funcs import RenderContext

KINDS = ("builder", "provisioner", "post-processor")

# A name part saying the option holds a secret value. `private_key_file` is excluded here
# because it is always a path (`ssh_private_key_file`, `ssh_bastion_private_key_file`): the
# key's text never goes in the template, and the file's name is not a secret.
SECRET_NAME = re.compile(
    r"(?:^|_)(?:password|passwd|passphrase|secret|token|private_key(?!_file)|api_key"
    r"|access_key|mfa_code|credentials?)(?:_|$)"
)

# Names that match SECRET_NAME but hold no secret; each says why.
NOT_SECRET = {
    # amazon: how long to wait for the Windows administrator password to be ready (a duration)
    "windows_password_timeout": "a duration, not the password",
    # amazon: the path of the AWS shared credentials file; the keys stay in that file
    "shared_credentials_file": "a file path, not the credentials",
    # amazon: a switch that skips the STS credentials check
    "skip_credential_validation": "a boolean switch",
    # qemu: whether qemu's VNC server asks for the (generated, secret-marked) password
    "vnc_use_password": "a boolean switch",
}


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models inside an annotation (`Block`, `Block | None`, `list[Block]`…)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _models(arg)


def _fields(
    model: type[BaseModel], prefix: tuple[str, ...] = (), seen: frozenset[type] = frozenset()
) -> Iterator[tuple[tuple[str, ...], FieldInfo]]:
    """Every field of `model` and of the blocks nested in it, with its option path."""
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        yield path, info
        if is_secret_field(info):
            continue
        for inner in _models(info.annotation):
            if inner not in seen and inner is not model:
                yield from _fields(inner, path, seen | {model})


def _says_secret(path: tuple[str, ...], info: FieldInfo) -> bool:
    names = {path[-1], info.alias or path[-1]}
    return any(SECRET_NAME.search(n) and n not in NOT_SECRET for n in names)


PLUGINS = [(kind, name) for kind in KINDS for name in registry.names(kind)]


@pytest.mark.parametrize(("kind", "name"), PLUGINS, ids=[f"{k}:{n}" for k, n in PLUGINS])
def test_secret_options_are_marked_secret(kind: str, name: str) -> None:
    config = registry.load(kind, name).Config
    unmarked = [
        ".".join(path)
        for path, info in _fields(config)
        if _says_secret(path, info) and not is_secret_field(info)
    ]
    assert unmarked == [], (
        f"{kind} '{name}' ({config.__qualname__}): options named like secrets are not "
        f"typed builder.config.Secret: {', '.join(unmarked)} "
        "(mark them Secret, or add them to NOT_SECRET saying why they hold no secret)"
    )


@pytest.mark.parametrize(("kind", "name"), PLUGINS, ids=[f"{k}:{n}" for k, n in PLUGINS])
def test_no_hand_listed_secret_fields(kind: str, name: str) -> None:
    config = registry.load(kind, name).Config
    listed = [k.__qualname__ for k in config.__mro__ if "secret_fields" in vars(k)]
    assert listed == [], f"{kind} '{name}': secret_fields still listed by hand in {listed}"


def test_allow_list_entries_match_the_pattern() -> None:
    """An entry that the pattern would not flag anyway is dead weight: drop it."""
    assert [n for n in NOT_SECRET if not SECRET_NAME.search(n)] == []


def test_the_pattern_flags_the_usual_secret_names() -> None:
    flagged = [
        "ssh_password",
        "winrm_password",
        "login_password",
        "aws_secret_key",
        "secret_key",
        "aws_token",
        "token",
        "access_key",
        "mfa_code",
        "ssh_private_key",
        "api_key",
    ]
    assert [n for n in flagged if not SECRET_NAME.search(n)] == []
    ignored = ["ssh_private_key_file", "temporary_key_pair_name", "ssh_keypair_name", "kms_key_id"]
    assert [n for n in ignored if SECRET_NAME.search(n)] == []


# --------------------------------------------------------------------------- no leak in a build
SECRET = "Zq9-hunter2-s3cret"


def _leak_template(with_secret: bool) -> dict[str, Any]:
    builder: dict[str, Any] = {"type": "null", "communicator": "none"}
    if with_secret:
        builder["ssh_password"] = SECRET  # a Secret option: its value is masked everywhere
    return {
        "builders": [builder],
        "provisioners": [
            {
                "type": "shell-local",
                "environment_vars": [f"PW={SECRET}"],
                # the value reaches the output, stderr and the build's error message
                "inline": ["echo pw=$PW", f"echo {SECRET} >&2", "exit 3"],
            }
        ],
    }


def _build(cli: Callable[..., Any], tmp_path: Path, *flags: str) -> str:
    env = {
        "PYBUILD_LOG": "1",  # the debug log (stderr) must be masked as well
        "TMPDIR": str(tmp_path),
        "PYBUILD_STATE_DIR": str(tmp_path / "state"),
    }
    proc = cli("build", *flags, "t.json", env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return str(proc.stdout + proc.stderr)


@pytest.mark.parametrize("flags", [(), ("-machine-readable",)], ids=["human", "machine"])
def test_a_secret_option_never_shows_in_build_output(
    cli: Callable[..., Any], template: Callable[..., Path], tmp_path: Path, flags: tuple[str, ...]
) -> None:
    template(_leak_template(with_secret=False))
    control = _build(cli, tmp_path, *flags)
    assert SECRET in control  # without the Secret option nothing masks it: the check is real
    template(_leak_template(with_secret=True))
    out = _build(cli, tmp_path, *flags)
    assert SECRET not in out
    assert "pw=<sensitive>" in out
    assert "[DEBUG]" in out and "non-zero exit status: 3" in out
    state = tmp_path / "state"
    recorded = [p for p in state.rglob("*") if p.is_file()] if state.exists() else []
    assert [p for p in recorded if SECRET in p.read_text(errors="replace")] == []


# --------------------------------------------------------------------------- @config_check
CALLS: list[str] = []


class _Block(BaseModel):
    name: str = ""


class _BaseConfig(PluginConfig):
    items: list[str] = []

    @config_check
    def check_items(self) -> list[TemplateError]:
        CALLS.append("base")
        return [option_error("base: the second item is bad", "items", 1)]

    @config_check
    def check_shared(self) -> list[TemplateError]:
        CALLS.append("base-shared")  # overridden below: must never run
        return [option_error("never", "items")]


class _ChildConfig(_BaseConfig):
    block: _Block = _Block()

    @config_check
    def check_block(self) -> list[TemplateError]:
        CALLS.append("child")
        return [option_error("child: bad name", "block", "name", hint="try another name")]

    @config_check
    def check_shared(self) -> list[TemplateError]:
        CALLS.append("child-shared")
        return []


class _ContractBuilder(Builder):
    Config: ClassVar[type[PluginConfig]] = _ChildConfig
    seen_state: ClassVar[str] = "busy"

    def check(self) -> list[TemplateError]:
        return [option_error(f"plugin: the host is {self.seen_state}", "items")]

    def run(self, ui: Any, hook: Any, cancel: Any) -> None:
        raise AssertionError("only prepared, never run")


def _options() -> PluginOptions:
    ctx = RenderContext(user_vars={}, template_path=None, build_name="b", build_type="t")
    return PluginOptions(build_name="b", build_type="t", render=ctx)


def test_config_checks_of_every_level_run_once_and_raise_together() -> None:
    CALLS.clear()
    plugin = _ContractBuilder(_ChildConfig(items=["ok", "bad"]), _options())
    with pytest.raises(ConfigErrors) as info:
        plugin.prepare()
    assert CALLS == ["base", "child-shared", "child"]  # base class first, each once
    assert [(e.message, e.location.keys, e.hint) for e in info.value.errors] == [
        ("base: the second item is bad", ("items", 1), None),
        ("child: bad name", ("block", "name"), "try another name"),
        ("plugin: the host is busy", ("items",), None),
    ]


TEMPLATE_LINES = [
    "{",
    '  "builders": [',
    "    {",
    '      "type": "contract-test",',
    '      "items": [',
    '        "ok",',
    '        "bad"',
    "      ],",
    '      "block": {',
    '        "name": "x"',
    "      }",
    "    }",
    "  ],",
    '  "provisioners": [',
    "    {",
    '      "type": "shell",',
    '      "inline": ["true"],',
    '      "environment_vars": [',
    '        "OK=1",',
    '        "NOEQ"',
    "      ]",
    "    }",
    "  ]",
    "}",
]


def _line(needle: str) -> int:
    (found,) = [i + 1 for i, text in enumerate(TEMPLATE_LINES) if needle in text]
    return found


def test_engine_rebases_check_errors_to_template_paths_and_lines(
    plugins: Callable[[str, str, type[Any]], None], template: Callable[..., Path]
) -> None:
    plugins("builder", "contract-test", _ContractBuilder)
    path = template("\n".join(TEMPLATE_LINES) + "\n")
    json.loads(path.read_text())  # the fixture is valid JSON
    CALLS.clear()
    prepared = prepare(load_template(str(path)))
    assert CALLS == ["base", "child-shared", "child"]
    assert prepared.builds == []
    errors = prepared.errors["contract-test"].errors
    assert [(e.location.path, e.location.line, e.message) for e in errors] == [
        ("builders[0].items[1]", _line('"bad"'), "base: the second item is bad"),
        ("builders[0].block.name", _line('"name"'), "child: bad name"),
        ("builders[0].items", _line('"items"'), "plugin: the host is busy"),
        (
            "provisioners[0].environment_vars[1]",
            _line('"NOEQ"'),
            "Environment variable not in format 'key=value': NOEQ",
        ),
    ]
    assert {e.location.file for e in errors} == {str(path)}
    assert errors[1].hint == "try another name"
    assert errors[0].render().startswith("builders[0].items[1]: base: the second item is bad")
