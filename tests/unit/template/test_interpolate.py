"""The Go text/template engine: syntax, semantics, printing and error messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from builder.errors import InterpolationError
from builder.template.interpolate import Deferred, go_sprintf, parse


def run(
    text: str, data: Any = None, funcs: dict[str, Any] | None = None, defer: bool = False
) -> str:
    return parse(text).execute(funcs or {}, data, defer_fields=defer)


def error(text: str, data: Any = None, funcs: dict[str, Any] | None = None) -> str:
    with pytest.raises(InterpolationError) as info:
        run(text, data, funcs)
    return info.value.message


FUNCS = {
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "join": lambda sep, *parts: sep.join(parts),
    "replace": lambda old, new, n, s: s.replace(old, new, n),
}


# --- text, actions, literals ---


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("plain", "plain"),
        ("a{{`raw`}}b", "arawb"),
        ('{{"x\\ty\\u00e9\\x41\\101"}}', "x\tyéAA"),
        ("{{ 42 }}|{{ -7 }}|{{ 0x1F }}|{{ 017 }}|{{ 1_000 }}", "42|-7|31|15|1000"),
        (
            "{{ 1.5 }}|{{ 1e6 }}|{{ 123456.0 }}|{{ 0.0001 }}|{{ 0.00001 }}",
            "1.5|1e+06|123456|0.0001|1e-05",
        ),
        ("{{ 'a' }}", "97"),
        ("{{ true }}/{{ false }}", "true/false"),
        ("{{/* a comment */}}x", "x"),
        ("a  {{- /* trimmed */ -}}  b", "ab"),
        ("a \n {{- `x` -}} \n b", "axb"),
        ("a {{`x`}} b", "a x b"),
        ("{{ 3 -}} 4", "34"),
    ],
)
def test_literals_and_text(text: str, out: str) -> None:
    assert run(text) == out


def test_newlines_allowed_inside_actions() -> None:
    assert run('{{ join\n  "-"\n  "a" "b" }}', funcs=FUNCS) == "a-b"


# --- calls, pipelines, parentheses ---


def test_piped_value_is_the_last_argument() -> None:
    assert run('{{ "my-build-x" | replace "-" "/" 1 }}', funcs=FUNCS) == "my/build-x"
    assert run('{{ "A" | lower | printf "%s-%s" "x" }}', funcs=FUNCS) == "x-a"


def test_nested_parentheses() -> None:
    out = run('{{ join "," (upper (lower "Ab")) (printf "%d" (len "abc")) }}', funcs=FUNCS)
    assert out == "AB,3"


def test_niladic_function_as_argument() -> None:
    assert run("{{ upper name }}", funcs={**FUNCS, "name": lambda: "web"}) == "WEB"


def test_user_funcs_override_builtins() -> None:
    assert run('{{ len "abc" }}', funcs={"len": lambda s: "custom"}) == "custom"


# --- fields, dot, variables ---


@dataclass
class Obj:
    Name: str
    Tags: dict[str, str]

    def Greet(self, who: str) -> str:  # noqa: N802 - template method names are Go style
        return f"hi {who} from {self.Name}"


def test_fields_on_mappings_and_objects() -> None:
    data = {"Vars": "A=1", "Nested": {"Inner": "deep"}, "Obj": Obj("o", {"k": "v"})}
    assert run("{{.Vars}} {{.Nested.Inner}} {{.Obj.Name}} {{.Obj.Tags.k}}", data) == "A=1 deep o v"
    assert run('{{ .Obj.Greet "bob" }}', data) == "hi bob from o"
    assert run('{{ "ann" | .Obj.Greet }}', data) == "hi ann from o"


def test_missing_map_key_prints_no_value() -> None:
    assert run("[{{ .Nope }}]", {"Vars": "x"}) == "[<no value>]"
    assert run("[{{ .Nope.Deeper }}]", {}) == "[<no value>]"


def test_unknown_attribute_is_an_error() -> None:
    msg = error("{{ .Nope }}", Obj("o", {}))
    assert (
        msg
        == 'template: root:1:3: executing "root" at <.Nope>: can\'t evaluate field Nope in type Obj'
    )


def test_dot_and_dollar() -> None:
    assert run("{{ . }}", "hello") == "hello"
    assert run("{{ with .A }}{{ . }}/{{ $.B }}{{ end }}", {"A": "a", "B": "b"}) == "a/b"


def test_variables_declare_assign_and_scope() -> None:
    text = "{{ $x := `a` }}{{ if true }}{{ $x = `b` }}{{ $y := `c` }}{{ $y }}{{ end }}{{ $x }}"
    assert run(text) == "cb"
    assert error("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}") == (
        'template: root:1: undefined variable "$y"'
    )


def test_chain_on_parenthesised_value() -> None:
    assert run("{{ (index .L 0).Name }}", {"L": [{"Name": "n"}]}) == "n"


# --- control structures ---


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("{{ if .A }}yes{{ else }}no{{ end }}", "yes"),
        ("{{ if .Z }}yes{{ else }}no{{ end }}", "no"),
        ("{{ if .Z }}1{{ else if .A }}2{{ else }}3{{ end }}", "2"),
        ("{{ if .Z }}1{{ else if .Empty }}2{{ else }}3{{ end }}", "3"),
        ("{{ with .A }}<{{ . }}>{{ else }}none{{ end }}", "<x>"),
        ("{{ with .Empty }}<{{ . }}>{{ else }}none{{ end }}", "none"),
        ("{{ range .L }}[{{ . }}]{{ end }}", "[a][b]"),
        ("{{ range $i, $e := .L }}{{ $i }}={{ $e }};{{ end }}", "0=a;1=b;"),
        ("{{ range $e := .L }}{{ $e }}{{ end }}", "ab"),
        ("{{ range $k, $v := .M }}{{ $k }}:{{ $v }} {{ end }}", "a:1 b:2 "),
        ("{{ range .None }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ range .EmptyList }}x{{ else }}empty{{ end }}", "empty"),
    ],
)
def test_control(text: str, out: str) -> None:
    data = {"A": "x", "Z": 0, "Empty": "", "L": ["a", "b"], "M": {"b": 2, "a": 1}, "EmptyList": []}
    data["None"] = None
    assert run(text, data) == out


@pytest.mark.parametrize(
    ("value", "truthy"),
    [("", False), ("0", True), (0, False), (1, True), (0.0, False), ([], False), ([0], True)]
    + [({}, False), ({"a": 1}, True), (None, False), (False, False), (True, True)],
)
def test_go_truthiness(value: Any, truthy: bool) -> None:
    assert run("{{ if .V }}t{{ else }}f{{ end }}", {"V": value}) == ("t" if truthy else "f")


# --- builtins ---


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ('{{ and "a" "b" }}|{{ and "" "b" }}|{{ or "" "b" }}|{{ or "" 0 }}', "b||b|0"),
        ("{{ not 0 }}|{{ not `x` }}", "true|false"),
        ('{{ len "héllo" }}|{{ len .L }}|{{ len .M }}', "6|2|2"),
        ("{{ index .L 1 }}|{{ index .M `a` }}|{{ index .N 1 0 }}", "b|1|c"),
        ('{{ slice "abcdef" 1 3 }}|{{ slice .L 1 }}', "bc|[b]"),
        ('{{ eq 1 1 }}|{{ eq "a" "b" "a" }}|{{ ne 1 2 }}', "true|true|true"),
        ("{{ lt 1 2 }}|{{ le 2 2 }}|{{ gt 1 2 }}|{{ ge `b` `a` }}", "true|true|false|true"),
        ('{{ print "a" "b" 1 2 }}|{{ print 1 "x" }}', "ab1 2|1x"),
        ('{{ println "a" 1 }}', "a 1\n"),
        ('{{ html `<a href="x">&\'` }}', "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"),
        ('{{ js `it\'s "<b>"` }}', 'it\\\'s \\"\\x3Cb\\x3E\\"'),
        ("{{ urlquery `a b&c=d/é` }}", "a+b%26c%3Dd%2F%C3%A9"),
        ("{{ .L }}|{{ .M }}", "[a b]|map[a:1 b:2]"),
        ("{{ call .F `x` }}", "called x"),
    ],
)
def test_builtins(text: str, out: str) -> None:
    data = {
        "L": ["a", "b"],
        "M": {"a": 1, "b": 2},
        "N": [["a"], ["c"]],
        "F": lambda s: f"called {s}",
    }
    assert run(text, data) == out


def test_and_or_short_circuit() -> None:
    boom = {"boom": lambda: (_ for _ in ()).throw(ValueError("must not run"))}
    assert run("{{ and 0 boom }}|{{ or 1 boom }}", funcs=boom) == "0|1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ eq 1 `a` }}", "error calling eq: incompatible types for comparison"),
        ("{{ lt true false }}", "error calling lt: invalid type for comparison"),
        ("{{ index .L 5 }}", "error calling index: index out of range: 5"),
        ("{{ len 3 }}", "error calling len: len of type int"),
    ],
)
def test_builtin_errors(text: str, message: str) -> None:
    assert error(text, {"L": ["a"]}).endswith(message)


@pytest.mark.parametrize(
    ("fmt", "args", "out"),
    [
        ("%s-%d", ("a", 5), "a-5"),
        ("%v %v %v %v", ("s", 1, True, None), "s 1 true <nil>"),
        ("%q", ('a"b\n',), '"a\\"b\\n"'),
        ("%x %X %x", (255, 255, "hi"), "ff FF 6869"),
        ("%5s|%-5s|%.2s", ("ab", "ab", "abc"), "   ab|ab   |ab"),
        ("%05d|%+d|%3d", (42, 42, 7), "00042|+42|  7"),
        (
            "%f|%.2f|%8.3f|%e",
            (3.14159, 3.14159, 3.14159, 1500.0),
            "3.141590|3.14|   3.142|1.500000e+03",
        ),
        ("%t %%", (True,), "true %"),
        ("%d", ("x",), "%!d(string=x)"),
        ("%s %s", ("a",), "a %!s(MISSING)"),
        ("%s", ("a", 1), "a%!(EXTRA int=1)"),
        ("%[2]s %[1]s", ("a", "b"), "b a"),
        ("%v", (["a", 1],), "[a 1]"),
        ("%o %b %c", (8, 5, 65), "10 101 A"),
    ],
)
def test_printf(fmt: str, args: tuple[Any, ...], out: str) -> None:
    assert go_sprintf(fmt, *args) == out


def test_printf_in_template() -> None:
    assert run('{{ printf "%s:%03d" "n" 7 }}') == "n:007"


# --- function errors ---


def test_function_exception_becomes_error_calling() -> None:
    def bad(_: str) -> str:
        raise ValueError("nope")

    msg = error("x\n  {{ bad `HOME` }}", funcs={"bad": bad})
    assert msg == 'template: root:2:5: executing "root" at <bad `HOME`>: error calling bad: nope'


def test_interpolation_error_subclass_keeps_its_type() -> None:
    class Special(InterpolationError):
        pass

    def raiser() -> str:
        raise Special("special")

    with pytest.raises(Special) as info:
        run("{{ raiser }}", funcs={"raiser": raiser})
    assert info.value.message.endswith("error calling raiser: special")


def test_wrong_number_of_args() -> None:
    msg = error('{{ lower "a" "b" }}', funcs=FUNCS)
    assert msg.endswith("wrong number of args for lower: want 1 got 2")


def test_long_context_is_truncated() -> None:
    def bad(*_: Any) -> str:
        raise ValueError("x")

    msg = error('{{ bad "aaaaaaaaaaaaaaaaaaaaaaaaaaaa" }}', funcs={"bad": bad})
    assert '<bad "aaaaaaaaaaaaaaa...>' in msg


# --- parse errors ---


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ foo }}", 'template: root:1: function "foo" not defined'),
        ("a\nb\n{{ foo `x` }}", 'template: root:3: function "foo" not defined'),
        ('{{ lower "a" } }}', 'template: root:1: unexpected "}" in operand'),
        ("{{ lower `a`", "template: root:1: unclosed action"),
        ("{{ if true }}x", "template: root:1: unexpected EOF"),
        ("x{{ end }}", "template: root:1: unexpected {{end}}"),
        ("{{ else }}", "template: root:1: unexpected {{else}}"),
        ("{{ $x }}", 'template: root:1: undefined variable "$x"'),
        ('{{ "abc }}', "template: root:1: unterminated quoted string"),
        ("{{ `abc }}", "template: root:1: unterminated raw quoted string"),
        ("{{ (lower `a` }}", "template: root:1: unclosed left paren"),
        ("{{ lower `a`) }}", "template: root:1: unexpected right paren U+0029 ')'"),
        ("{{ }}", "template: root:1: missing value for command"),
        ("{{ `a` | `b` }}", "template: root:1: non executable command in pipeline stage 2"),
        ("{{ 3x }}", 'template: root:1: bad number syntax: "3x"'),
        ("{{/* open }}", "template: root:1: unclosed comment"),
        ("{{ .A.}}", "template: root:1: unexpected <.> in operand"),
        ("{{ nil }}", 'template: root:1:3: executing "root" at <nil>: nil is not a command'),
        ("{{ `a` `b` }}", "can't give argument to non-function `a`"),
        ("{{ template `x` }}", "template: root:1: {{template}} is not supported by pybuild"),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    assert message in error(text, funcs=FUNCS)


def test_undefined_function_in_untaken_branch_still_fails() -> None:
    assert 'function "nope" not defined' in error("{{ if false }}{{ nope }}{{ end }}")


# --- deferral ---


def test_fields_on_missing_data_render_back_to_themselves() -> None:
    assert run("a {{ .HTTPIP }}:{{.HTTPPort}} {{ .A.B }}", defer=True) == (
        "a {{.HTTPIP}}:{{.HTTPPort}} {{.A.B}}"
    )


def test_actions_using_deferred_values_are_reemitted() -> None:
    text = '{{ .Name | lower }} {{ printf "%s" . }} {{- " x" }}'
    assert run(text, funcs=FUNCS, defer=True) == '{{ .Name | lower }} {{ printf "%s" . }} x'


def test_control_on_deferred_value_is_reemitted_whole() -> None:
    text = "<{{ if .X }}a{{ else if .Y }}b{{ end }}>"
    assert run(text, defer=True) == text
    text = "{{ if false }}a{{ else if .Y }}b{{ else }}c{{ end }}"
    assert run(text, defer=True) == "{{if .Y }}b{{ else }}c{{ end }}"


def test_deferred_value_from_function() -> None:
    funcs = {**FUNCS, "later": lambda: Deferred("{{ later }}")}
    assert run("{{ later }}|{{ later | lower }}", funcs=funcs) == "{{ later }}|{{ later | lower }}"
    assert run("{{ if later }}x{{ end }}", funcs=funcs) == "{{ if later }}x{{ end }}"


def test_parse_is_cached() -> None:
    parse.cache_clear()
    parse("{{ 1 }}")
    parse("{{ 1 }}")
    assert parse.cache_info().hits == 1
