"""User variables: precedence, required, references between variables, env, files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.errors import ConfigErrors, TemplateError, VariableError
from builder.template.template import parse_template
from builder.template.variables import parse_var_flag, read_var_file, resolve_variables


def tpl(variables: dict[str, object]) -> object:
    return parse_template(
        json.dumps({"variables": variables, "builders": [{"type": "null"}]}), "t.json"
    )


def test_precedence_defaults_then_files_in_order_then_cli(tmp_path: Path) -> None:
    f1, f2 = tmp_path / "a.json", tmp_path / "b.json"
    f1.write_text('{"a": "file1", "b": "file1", "c": "file1"}')
    f2.write_text('{"b": "file2", "c": "file2"}')
    out = resolve_variables(
        tpl({"a": "d", "b": "d", "c": "d", "z": "d"}), {"c": "cli"}, [str(f1), str(f2)]
    )
    assert out == {"a": "file1", "b": "file2", "c": "cli", "z": "d"}


def test_required_variable_missing_names_it_with_its_line() -> None:
    with pytest.raises(ConfigErrors) as info:
        resolve_variables(tpl({"req": None, "ok": "x"}))
    assert "variables.req: required variable not set: req" in str(info.value)
    assert resolve_variables(tpl({"req": None}), {"req": ""}) == {"req": ""}


def test_variables_referring_to_variables_in_any_order() -> None:
    out = resolve_variables(tpl({"a": "{{user `b`}}-a", "b": "{{user `c`}}-b", "c": "c"}))
    assert out["a"] == "c-b-a"


def test_cli_values_are_rendered_too() -> None:
    out = resolve_variables(tpl({"b": "bee"}), {"a": "{{user `b`}}!"})
    assert out["a"] == "bee!"


def test_unresolvable_reference_is_an_error() -> None:
    with pytest.raises(
        ConfigErrors, match="cannot resolve variable 'a'.*'missing', which is not defined"
    ):
        resolve_variables(tpl({"a": "{{user `missing`}}"}))


def test_env_only_inside_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYB_TEST_X", "from-env")
    assert resolve_variables(tpl({"a": "{{env `PYB_TEST_X`}}"}))["a"] == "from-env"


def test_var_flag_parsing() -> None:
    assert parse_var_flag("a=b=c") == ("a", "b=c")
    with pytest.raises(VariableError, match="no '='"):
        parse_var_flag("novalue")


def test_var_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(VariableError, match="variable file not found: .*nope.json"):
        read_var_file(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,\n "b": "x"')
    with pytest.raises(TemplateError, match="bad.json"):
        read_var_file(str(bad))
    num = tmp_path / "num.json"
    num.write_text('{\n "a": 1\n}')
    with pytest.raises(
        ConfigErrors, match=r"a: expected a string, got 1; quote the value \(.*num.json:2\)"
    ):
        read_var_file(str(num))


def chain(n: int) -> dict[str, object]:
    """v0 -> v1 -> ... -> v{n-1} = "end", declared in order."""
    variables: dict[str, object] = {f"v{i}": f"{{{{user `v{i + 1}`}}}}" for i in range(n - 1)}
    variables[f"v{n - 1}"] = "end"
    return variables


def test_chain_of_200_resolves_to_end_everywhere() -> None:
    """Packer 1.6.6 gives up after 100 passes and leaves "" here; the docs promise "end"."""
    out = resolve_variables(tpl(chain(200)))
    assert len(out) == 200 and set(out.values()) == {"end"}


@pytest.mark.parametrize("n", [3_000, 20_000])
def test_long_chains_resolve(n: int) -> None:
    out = resolve_variables(tpl(chain(n)))
    assert out["v0"] == out[f"v{n // 2}"] == "end" and len(out) == n


def test_chain_declared_backwards_resolves_too() -> None:
    out = resolve_variables(tpl(dict(reversed(chain(500).items()))))
    assert set(out.values()) == {"end"}


def test_reference_computed_at_render_time() -> None:
    out = resolve_variables(tpl({"a": "{{user (user `which`)}}!", "which": "b", "b": "bee"}))
    assert out["a"] == "bee!"


def test_cycle_is_reported_once_naming_the_loop_at_its_variable() -> None:
    t = parse_template(
        '{"variables": {\n "b": "{{user `c`}}",\n "a": "x{{user `b`}}",\n'
        ' "c": "{{user `a`}}",\n "d": "{{user `b`}}", "ok": "fine"},\n'
        ' "builders": [{"type": "null"}]}',
        "t.json",
    )
    with pytest.raises(ConfigErrors) as info:
        resolve_variables(t)
    [err] = info.value.errors
    assert err.render() == "variables.a: variables a -> b -> c -> a form a cycle (t.json:3)"


def test_self_reference_is_a_cycle_of_one() -> None:
    with pytest.raises(ConfigErrors) as info:
        resolve_variables(tpl({"s": "x{{user `s`}}", "t": "{{user `s`}}"}))
    [err] = info.value.errors
    assert err.render().startswith("variables.s: variable 's' refers to itself (t.json:")


def test_undefined_reference_reported_once_at_its_root_cause() -> None:
    with pytest.raises(ConfigErrors) as info:
        resolve_variables(tpl({"a": "{{user `b`}}", "b": "{{user `c`}}", "c": "{{user `zz`}}"}))
    [err] = info.value.errors
    assert (
        err.message
        == "cannot resolve variable 'c': it refers to variable 'zz', which is not defined"
    )


def test_cycle_through_a_cli_value_is_located_at_the_flag() -> None:
    with pytest.raises(ConfigErrors) as info:
        resolve_variables(tpl({"b": "{{user `a`}}"}), {"a": "{{user `b`}}"})
    [err] = info.value.errors
    assert err.message == "variables a -> b -> a form a cycle" and err.location.path == "-var"
