"""Packer's template functions and the render helpers."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from builder.errors import InterpolationError
from builder.template.funcs import (
    RenderContext,
    UnknownUserVariable,
    clean_resource_name,
    has_template,
    render,
    render_obj,
    render_until_stable,
)

TS = 1700000000  # 2023-11-14T22:13:20Z, a Tuesday
EARLY = 1704445200  # 2024-01-05T09:00:00Z, a single-digit day, morning


def ctx(**kw: object) -> RenderContext:
    base: dict[str, object] = {"timestamp": TS, "user_vars": {"a": "x-y-z", "name": "web"}}
    base.update(kw)
    return RenderContext(**base)  # type: ignore[arg-type]


def fails(text: str, context: RenderContext | None = None) -> str:
    with pytest.raises(InterpolationError) as info:
        render(text, context or ctx())
    return info.value.message


# --- user and env ---


def test_user_variables() -> None:
    assert render('{{user `name`}}-{{ user "a" }}', ctx()) == "web-x-y-z"
    assert render("[{{user `missing`}}]", ctx()) == "[]"


def test_strict_user_raises_unknown_user_variable() -> None:
    with pytest.raises(UnknownUserVariable) as info:
        render("{{user `later`}}", ctx(strict_user=True))
    assert info.value.name == "later"
    assert info.value.message.endswith("error calling user: variable later not set")


def test_env_disallowed_outside_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYB_TEST", "val")
    assert fails("{{env `PYB_TEST`}}") == (
        'template: root:1:2: executing "root" at <env `PYB_TEST`>: '
        "error calling env: env vars are not allowed here"
    )
    assert render("{{env `PYB_TEST`}}|{{env `PYB_UNSET`}}", ctx(env_allowed=True)) == "val|"


# --- time ---


def test_timestamp_and_default_start_time() -> None:
    assert render("{{timestamp}}", ctx()) == str(TS)
    assert abs(int(render("{{timestamp}}", RenderContext())) - time.time()) < 3600


@pytest.mark.parametrize(
    ("layout", "ts", "out"),
    [
        (None, TS, "2023-11-14T22:13:20Z"),
        ("2006-01-02", TS, "2023-11-14"),
        ("Jan _2 15:04:05.000 MST", TS, "Nov 14 22:13:20.000 UTC"),
        ("Jan _2 15:04:05.000 MST", EARLY, "Jan  5 09:00:00.000 UTC"),
        ("Monday, January 2 2006 3:04PM", TS, "Tuesday, November 14 2023 10:13PM"),
        ("Mon 02/01/06 03:04:05 pm", EARLY, "Fri 05/01/24 09:00:00 am"),
        ("20060102150405", TS, "20231114221320"),
        ("-0700|-07:00|-07|Z0700|Z07:00", TS, "+0000|+00:00|+00|Z|Z"),
        ("05.999|.000000", TS, "20|.000000"),
        ("002 __2", EARLY, "005   5"),
        ("Janet _2006", TS, "Janet _2023"),  # "Jan" before a lowercase letter is literal
    ],
)
def test_isotime_layouts(layout: str | None, ts: int, out: str) -> None:
    text = "{{isotime}}" if layout is None else f'{{{{isotime "{layout}"}}}}'
    assert render(text, ctx(timestamp=ts)) == out


def test_isotime_too_many_args() -> None:
    assert fails('{{isotime "a" "b"}}').endswith(
        "error calling isotime: too many values, 1 needed: [a b]"
    )


def test_strftime() -> None:
    out = render('{{strftime "%Y-%m-%d %H:%M:%S %a %b %Z %z %j %%"}}', ctx())
    assert out == "2023-11-14 22:13:20 Tue Nov UTC +0000 318 %"


def test_uuid_is_time_ordered() -> None:
    out = render("{{uuid}}", ctx())
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out)
    assert abs(int(out[:8], 16) - int(time.time())) < 5
    assert render("{{uuid}}", ctx()) != out


# --- paths, build facts ---


def test_pwd_and_template_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert render("{{pwd}}", ctx()) == str(tmp_path)
    tpl = tmp_path / "sub" / "t.json"
    assert render("{{template_dir}}", ctx(template_path=str(tpl))) == str(tmp_path / "sub")
    assert fails("{{template_dir}}").endswith(
        "error calling template_dir: template path not available"
    )


def test_build_name_and_type() -> None:
    c = ctx(build_name="my-build-x", build_type="null")
    assert render("{{build_name}}/{{build_type}}/{{packer_version}}", c) == "my-build-x/null/1.6.6"
    assert render('{{ build_name | replace "-" "/" 1 }}', c) == "my/build-x"
    assert fails("{{build_name}}").endswith("error calling build_name: build_name not available")
    assert fails("{{build_type}}").endswith("error calling build_type: build_type not available")


def test_build_data_deferred_then_resolved() -> None:
    text = 'id={{ build `ID` }} host={{build "Host"}}'
    first = render(text, ctx())
    assert first == "id={{ build `ID` }} host={{ build `Host` }}"
    assert render_until_stable(first, ctx()) == first
    assert render(first, ctx(build_data={"ID": "Null", "Host": "h"})) == "id=Null host=h"
    assert fails("{{ build `Nope` }}", ctx(build_data={"ID": "x"})).endswith(
        "error calling build: loaded data, but no Nope key"
    )


def test_build_used_inside_a_pipeline_is_deferred_whole() -> None:
    text = "{{ build `ID` | lower }}"
    assert render(text, ctx()) == text
    assert render(text, ctx(build_data={"ID": "ABC"})) == "abc"


def test_dot_fields_deferred_without_data_and_resolved_with_it() -> None:
    text = "{{ .Vars }} {{ .Path }}"
    assert render(text, ctx()) == "{{.Vars}} {{.Path}}"
    assert render(text, ctx(data={"Vars": "A=1"})) == "A=1 <no value>"


# --- string functions ---


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ('{{split (user "a") "-" 0}}', "x"),
        ('{{split "a-b-c" "-" 2}}', "c"),
        ('{{ replace "-" "_" -1 "a-b-c" }}', "a_b_c"),
        ('{{ replace "-" "_" 1 "a-b-c" }}', "a_b-c"),
        ('{{ replace_all "-" "_" "a-b-c" }}', "a_b_c"),
        ('{{ lower "AbC" }}{{ upper "AbC" }}', "abcABC"),
        ('{{ "My Image: v1.0!" | clean_resource_name }}', "My Image- v1.0-"),
        ('{{ clean_ami_name "a,b" }}{{ clean_image_name "c{d}" }}', "a-bc-d-"),
        ('{{ isotime "2006-01-02T15:04:05Z07:00" | clean_resource_name }}', "2023-11-14T22-13-20Z"),
    ],
)
def test_string_functions(text: str, out: str) -> None:
    assert render(text, ctx()) == out


def test_clean_resource_name_rule() -> None:
    assert clean_resource_name("A-z0_9()[] ./'@") == "A-z0_9()[] ./'@"
    assert clean_resource_name("a:b*c#é") == "a-b-c---"


def test_split_out_of_range_names_the_count() -> None:
    assert fails('{{split "a-b" "-" 5}}').endswith(
        "error calling split: the substring 5 was unavailable using the separator value, -, "
        "only 2 values were found"
    )


def test_split_index_must_be_int() -> None:
    assert fails('{{split "a-b" "-" "1"}}').endswith(
        "wrong type for value; expected int; got string"
    )


# --- deprecated and unsupported ---


def test_sed_is_deprecated() -> None:
    assert "sed is deprecated" in fails('{{ sed "s/a/b/" "a" }}')


@pytest.mark.parametrize("call", ["consul_key `k`", "vault `p` `k`", "aws_secretsmanager `s`"])
def test_remote_secret_functions(call: str) -> None:
    name = call.split()[0]
    assert "only allowed in the variables section" in fails(f"{{{{ {call} }}}}")
    assert f"{name} is not supported by pybuild" in fails(
        f"{{{{ {call} }}}}", ctx(env_allowed=True)
    )


def test_unknown_function_fails_at_parse() -> None:
    assert fails("{{ nope }}") == 'template: root:1: function "nope" not defined'


# --- context and helpers ---


def test_extra_funcs_add_and_override() -> None:
    c = ctx(extra_funcs={"shout": lambda s: s.upper() + "!", "lower": lambda s: "overridden"})
    assert render('{{ shout "hi" }} {{ lower "X" }}', c) == "HI! overridden"


def test_with_returns_a_changed_copy() -> None:
    c = ctx()
    assert render("{{user `name`}}", c) == "web"
    d = c.with_(user_vars={"name": "db"}, build_name="b")
    assert render("{{user `name`}} {{build_name}}", d) == "db b"
    assert render("{{user `name`}}", c) == "web"
    assert c.build_name is None


def test_render_fast_path_and_has_template() -> None:
    s = "no templates here"
    assert render(s, ctx()) is s
    assert not has_template(s)
    assert has_template("a {{ x }}")


def test_render_until_stable() -> None:
    c = ctx(user_vars={"a": "{{user `b`}}", "b": "{{user `c`}}", "c": "end"})
    assert render("{{user `a`}}", c) == "{{user `b`}}"
    assert render_until_stable("{{user `a`}}", c) == "end"
    loop = ctx(user_vars={"a": "{{user `a`}}x"})
    assert render_until_stable("{{user `a`}}", loop, max_passes=3) == "{{user `a`}}xxx"


def test_render_until_stable_stops_on_error() -> None:
    c = ctx(user_vars={"a": "{{env `X`}}"})
    with pytest.raises(InterpolationError):
        render_until_stable("{{user `a`}}", c)


def test_render_obj() -> None:
    value = {"{{user `name`}}": ["{{ user `name` }}", 1, {"k": "{{upper `x`}}"}], "n": None}
    assert render_obj(value, ctx()) == {"{{user `name`}}": ["web", 1, {"k": "X"}], "n": None}
