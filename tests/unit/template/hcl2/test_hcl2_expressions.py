"""HCL2 expressions and functions: each form, with the value HCL gives it."""

from __future__ import annotations

import pytest

from builder.template.hcl2.console import EvalError, evaluate_text
from builder.template.hcl2.values import HclSet

NAMES = {
    "var": {
        "l": [{"id": "a", "n": 1}, {"id": "b", "n": 2}],
        "m": {"x": "1", "y": "2"},
        "s": "hello",
        "n": 3,
        "nul": None,
    },
}

CASES = [
    # literals and arithmetic with HCL's precedence
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 / 4", 2.5),
    ("7 % 3", 1),
    ("-var.n + 1", -2),
    ('"5" + 1', 6),
    ("1 == 1.0", True),
    ('1 == "1"', False),
    ("!true || false && true", False),
    ("3 > 2 && 2 >= 2", True),
    ('var.n > 2 ? "big" : "small"', "big"),
    ("null", None),
    # templates
    ('"${var.s}-${var.n}"', "hello-3"),
    ('"${var.n}"', 3),  # a lone interpolation keeps its type
    ('"$${literal} %%{x}"', "${literal} %{x}"),
    ('"a%{ if var.n > 1 }yes%{ else }no%{ endif }"', "ayes"),
    ('"%{ for x in ["a", "b"] }[${x}]%{ endfor }"', "[a][b]"),
    ('"x \\u00e9\\t\\"q\\""', 'x é\t"q"'),
    # traversal, index, splat
    ("var.l[1].id", "b"),
    ("var.l.0.n", 1),
    ('var.m["y"]', "2"),
    ("var.l[*].id", ["a", "b"]),
    ("var.l.*.n", [1, 2]),
    ("var.nul[*]", []),
    ("var.s[*]", ["hello"]),
    # constructors and for expressions
    ('{ a = 1, "b" = 2 }', {"a": 1, "b": 2}),
    ("{ (var.s) = 1 }", {"hello": 1}),
    ("[for x in var.l : x.id if x.n > 1]", ["b"]),
    ("{for k, v in var.m : v => k}", {"1": "x", "2": "y"}),
    ("{for x in var.l : x.n > 1 => x.id...}", {"false": ["a"], "true": ["b"]}),
    ('[for i, x in ["p", "q"] : "${i}${x}"]', ["0p", "1q"]),
    # functions the issue lists first
    ('upper("a") == "A" && lower("B") == "b"', True),
    ('contains(["a", "b"], "b")', True),
    ('substr("hello world", 1, 4)', "ello"),
    ('substr("hello", -3, -1)', "llo"),
    ('split(",", "a,b,,c")', ["a", "b", "", "c"]),
    ('join("-", ["a", "b"], ["c"])', "a-b-c"),
    ('coalesce("", null, "x")', "x"),
    ("concat([1], [2, 3])", [1, 2, 3]),
    ("merge({a = 1}, {b = 2}, {a = 3})", {"a": 3, "b": 2}),
    ('lookup({a = 1}, "b", "d")', "d"),
    ('length("héllo") + length([1, 2]) + length({a = 1})', 8),
    ('replace("a-b-c", "-", "+")', "a+b+c"),
    ('regex_replace("img-123", "[0-9]+", "n")', "img-n"),
    ('regex_replace("a1b2", "([a-z])([0-9])", "$2$1")', "1a2b"),
    ('trimspace("  x \\n")', "x"),
    ('format("%s-%03d-%.2f-%v-%t", "a", 7, 1.5, 2, true)', "a-007-1.50-2-true"),
    ('format("%q %%", "x")', '"x" %'),
    ('formatdate("YYYY-MM-DD hh:mm:ss ZZZ", "2021-03-04T05:06:07Z")', "2021-03-04 05:06:07 UTC"),
    (
        'formatdate("DD MMM YYYY \'at\' h:mm AA", "2021-03-04T15:06:07+01:00")',
        "04 Mar 2021 at 15:06 PM",
    ),
    ('sha256("abc")', "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ('md5("abc")', "900150983cd24fb0d6963f7d28e17f72"),
    ('base64encode("hi")', "aGk="),
    ('base64decode("aGk=")', "hi"),
    ('jsonencode({b = [1, "x", true], a = null})', '{"a":null,"b":[1,"x",true]}'),
    ('jsondecode("{\\"a\\": [1, 2.5]}")', {"a": [1, 2.5]}),
    ("yamlencode({a = [1, 2]})", "a:\n- 1\n- 2\n"),
    ('try(var.m.nope, "fallback")', "fallback"),
    ("can(var.m.nope)", False),
    ("can(var.m.x)", True),
    ('cidrhost("10.0.0.0/16", 5)', "10.0.0.5"),
    ('cidrnetmask("10.0.0.0/12")', "255.240.0.0"),
    ('cidrsubnet("10.1.0.0/16", 8, 2)', "10.1.2.0/24"),
    ('cidrsubnets("10.0.0.0/8", 8, 4, 8)', ["10.0.0.0/16", "10.16.0.0/12", "10.32.0.0/16"]),
    ("keys({b = 1, a = 2})", ["a", "b"]),
    ("values({b = 1, a = 2})", [2, 1]),
    ("flatten([[1, [2]], 3])", [1, 2, 3]),
    ("distinct([1, 2, 1])", [1, 2]),
    ("element([1, 2, 3], 4)", 2),
    ("range(3)", [0, 1, 2]),
    ("max(1, 5, 3) + min(4, 2)", 7),
    ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
    ('abspath("/a/../b")', "/b"),
    ('basename("/a/b.txt")', "b.txt"),
    ('convert(["a", 1], list(string))', ["a", "1"]),
    ('tolist(toset(["b", "a", "b"]))', ["b", "a"]),
    ('parseint("ff", 16)', 255),
    ('title("hello world")', "Hello World"),
    ('chomp("x\\n\\n")', "x"),
    ('indent(2, "a\\nb")', "a\n  b"),
    ('trimprefix("pre-x", "pre-")', "x"),
    ('uuidv5("dns", "example.com")', "cfbff0d1-9375-5685-968c-48ce8b15ae17"),
    ('formatlist("%s=%d", ["a", "b"], [1, 2])', ["a=1", "b=2"]),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_expression_value(text: str, expected: object) -> None:
    value = evaluate_text(text, NAMES)
    assert value == expected
    assert type(value) is type(expected) or isinstance(value, HclSet)


def test_timestamp_and_uuid_have_their_shapes() -> None:
    import re

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", evaluate_text("timestamp()"))
    assert re.fullmatch(r"[0-9a-f-]{36}", evaluate_text("uuidv4()"))
    assert re.fullmatch(r"\d{8}", evaluate_text('legacy_isotime("20060102")'))


def test_heredoc_templates_with_strip_markers(tmp_path) -> None:
    from builder.template.hcl2.evaluate import Evaluator, Scope
    from builder.template.hcl2.syntax import parse_file

    body = parse_file(
        "x = <<-EOT\n    a ${var.s}\n    %{~ for i in [1, 2] ~}\n    <${i}>\n    %{~ endfor ~}\n\n    end\n    EOT\n",
        "h.pkr.hcl",
    )
    value = Evaluator().eval(body.attributes["x"].expr, Scope(NAMES, {}))
    assert value == "a hello<1><2>end\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "var.m.nope",
            'Unsupported attribute: This object does not have an attribute named "nope".',
        ),
        ("var.l[5]", "The given key does not identify an element"),
        ('"a" + 1', "a number is required, got string"),
        ("nosuch(1)", 'There is no function named "nosuch".'),
        ('vault("a", "b")', "pybuild does not support"),
        ('"x${var.l}"', "Cannot include the given value in a string template"),
        ("undefined.x", 'There is no variable named "undefined".'),
        ("{for x in [1, 1] : x => x}", 'Two different items produced the key "1"'),
        ('env("HOME")', "can only be used in the default value of a variable"),
    ],
)
def test_expression_errors(text: str, message: str) -> None:
    with pytest.raises(EvalError) as caught:
        evaluate_text(text, NAMES)
    err = caught.value
    full = f"{err.summary}: {err.message}" if err.summary else err.message
    assert message in full
    assert err.pos is not None and err.pos.line == 1
