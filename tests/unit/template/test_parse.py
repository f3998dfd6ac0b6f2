"""JSON with positions: Python's syntax-error wording, Packer's refusals, a nesting limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.engine import load_template
from builder.errors import InterpolationError, TemplateError
from builder.template.funcs import RenderContext, render, render_obj
from builder.template.interpolate import parse as parse_go
from builder.template.parse import MAX_DEPTH, parse_json, walk_strings


def syntax_error(text: str) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        parse_json(text, "t.json")
    return info.value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "[1,]",
        '{"a": 1,}',
        '{"a" 1}',
        '{"a": }',
        "{1: 2}",
        "[1 2]",
        '{"a": 1} x',
        '"abc',
        '"\\x"',
        '"a\tb"',
        "[tru]",
        "-",
        "01",
        "[1, 2",
        '{"a": [1, 2}',
        '{\n  "builders": [\n    {"type": "null",}\n  ]\n}',
    ],
)
def test_syntax_errors_use_python_json_wording_and_offsets(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(text)
    exc = want.value
    err = syntax_error(text)
    assert err.message.startswith(f"Error parsing JSON: {exc.msg}\n")
    assert f"At line {exc.lineno}, column {exc.colno} (offset {exc.pos}):" in err.message
    assert (err.location.line, err.location.column) == (exc.lineno, exc.colno)


def test_values_and_positions_of_valid_json() -> None:
    text = '{"a": [1, 2.5, -3e2, true, false, null, "x\\n"],\n "b": {"c": {}, "d": []}}'
    value, positions = parse_json(text, "t.json")
    assert value == json.loads(text)
    assert positions.locate(("b", "d")).line == 2
    assert positions.locate(("a", 6)).column == text.index('"x') + 1


@pytest.mark.parametrize("word", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_as_packer_refuses_them(word: str) -> None:
    err = syntax_error('{"builders": [{"type": "null", "x": ' + word + "}]}")
    assert "Error parsing JSON: Expecting value" in err.message
    assert err.location.column == 37


def test_byte_order_mark_is_named() -> None:
    assert "byte order mark" in syntax_error('\ufeff{"builders": []}').message


def test_syntax_error_wins_over_an_earlier_duplicate_key() -> None:
    assert "Expecting ',' delimiter" in syntax_error('{"a": 1, "a": 2 "b": 3}').message


def test_long_line_is_clipped_around_the_error() -> None:
    text = '{"builders": [{"type": "null", "pad": "' + "x" * 20_000 + '", }]}'
    message = syntax_error(text).message
    assert len(message) < 400
    *_, context, caret = message.split("\n")
    assert context.startswith("...") and context[len(caret) - 1] == "}"


# --------------------------------------------------------------------------- nesting


PREFIX = '{"builders": [{"type": "null", "communicator": "none", "x": '


def nested(depth: int, kind: str = "list") -> str:
    """A template nested `depth` levels in all: the builder option `x` holds depth - 3 of them."""
    n = depth - 3  # the root object, `builders` and the builder object are the other three
    inner = "[" * n + "]" * n if kind == "list" else '{"k": ' * (n - 1) + "{}" + "}" * (n - 1)
    return PREFIX + inner + "}]}"


@pytest.mark.parametrize("kind", ["list", "object"])
def test_nesting_at_the_limit_parses_and_every_walk_copes(kind: str) -> None:
    text = nested(MAX_DEPTH, kind)
    value, positions = parse_json(text, "t.json")
    step: str | int = 0 if kind == "list" else "k"
    deepest = ("builders", 0, "x", *([step] * (MAX_DEPTH - 4)))
    # the innermost list's "[", or the innermost key's opening quote
    want = text.index("]") if kind == "list" else text.rindex('"k"') + 1
    assert positions.locate(deepest).column == want
    assert list(walk_strings(value)) == [
        (("builders", 0, "type"), "null"),
        (("builders", 0, "communicator"), "none"),
    ]
    assert render_obj(value, RenderContext()) == value


def test_walks_of_decoded_values_are_not_bound_by_python_recursion() -> None:
    value: object = "{{upper `end`}}"
    for _ in range(3_000):
        value = {"k": [value]}
    [(path, text)] = walk_strings(value)
    assert len(path) == 6_000 and text == "{{upper `end`}}"
    rendered = render_obj(value, RenderContext())
    for _ in range(3_000):
        assert isinstance(rendered, dict)
        [rendered] = rendered["k"]
    assert rendered == "END"


def test_one_level_too_deep_is_a_located_template_error() -> None:
    text = nested(MAX_DEPTH + 1)
    err = syntax_error(text)
    column = len(PREFIX) + MAX_DEPTH - 2  # the bracket that opens level MAX_DEPTH + 1
    assert text[column - 1] == "[" and text[column - 2] == "["
    assert (err.location.file, err.location.line, err.location.column) == ("t.json", 1, column)
    assert err.message == (
        f"nested too deeply at line 1, column {column}: "
        f"more than {MAX_DEPTH} levels of arrays and objects"
    )
    assert err.location.path == "builders[0].x[0][0][0][0][0]…"


def test_template_100000_deep_via_the_library(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(nested(100_000))
    with pytest.raises(TemplateError) as info:
        load_template(str(path))
    assert "nested too deeply" in info.value.message
    loc = info.value.location
    assert (loc.file, loc.line, loc.column) == (str(path), 1, len(PREFIX) + MAX_DEPTH - 2)


def test_template_100000_deep_via_the_cli(tmp_path: Path, cli) -> None:
    (tmp_path / "t.json").write_text(nested(100_000))
    r = cli("validate", "t.json")
    out = r.stdout + r.stderr
    assert r.returncode == 1
    assert "builders[0].x[0][0][0][0][0]…: nested too deeply at line 1, column " in out
    assert "(t.json:1)" in out
    assert "Traceback" not in out and "internal error" not in out


@pytest.mark.parametrize("kind", ["list", "object"])
def test_cli_validates_a_template_at_the_limit_without_internal_errors(
    tmp_path: Path, cli, kind: str
) -> None:
    """The limit leaves room for the engine's own recursive walk of a builder's config."""
    (tmp_path / "t.json").write_text(nested(MAX_DEPTH, kind))
    r = cli("validate", "t.json")
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "unknown option 'x'" in out
    assert "Traceback" not in out and "internal error" not in out


def test_deep_var_file_is_a_template_error(tmp_path: Path) -> None:
    from builder.template.variables import read_var_file

    path = tmp_path / "vars.json"
    path.write_text('{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(TemplateError, match="nested too deeply"):
        read_var_file(str(path))


# --------------------------------------------------------------------------- {{ }} nesting


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "{{" + "(" * n + "1" + ")" * n + "}}",
        lambda n: "{{if 1}}" * n + "x" + "{{end}}" * n,
        lambda n: "{{if 0}}" + "{{else if 0}}" * (n - 1) + "{{else}}x{{end}}",
    ],
    ids=["parentheses", "if", "else-if"],
)
def test_interpolation_nesting_has_a_limit_not_a_recursion_error(make) -> None:
    from builder.template.gotemplate.parser import MAX_NESTING

    assert render(make(MAX_NESTING), RenderContext()) in ("1", "x")
    for n in (MAX_NESTING + 1, 5_000):
        with pytest.raises(InterpolationError, match="nested too deeply: more than 100 levels"):
            parse_go(make(n))
