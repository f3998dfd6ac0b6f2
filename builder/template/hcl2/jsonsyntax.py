"""HCL's JSON syntax (*.pkr.json) read into the same Body the native syntax gives.

JSON has no syntax for blocks, so which properties are blocks comes from Packer's schema:
`{"source": {"docker": {"app": {...}}}}` is the block `source "docker" "app" {...}`, at every
label level an object (or an array of objects) whose keys are the labels. Plugin bodies
(sources, provisioners, post-processors, data sources) are read as attributes: a nested
block given in JSON is an object or a list of objects, which the config models validate
alike. Strings are HCL templates (`"${var.x}"`); a variable's `type` string is an
expression (`"list(string)"`), as in Packer. Keys named "//" are comments.

Every node carries the line and column of its JSON value, from a small position-tracking
parser (the standard library's json reports no positions).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from builder.template.hcl2 import syntax as s


# --------------------------------------------------------------------------- JSON with positions
@dataclass
class JValue:
    pos: s.Pos
    value: Any  # str, int, float, bool, None; list[JValue]; list[tuple[str, s.Pos, JValue]]
    kind: str  # "string" | "number" | "bool" | "null" | "array" | "object"


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_STRING_END = re.compile(r'(?:[^"\\]|\\.)*"', re.DOTALL)


class _Reader:
    def __init__(self, text: str, filename: str) -> None:
        self.text, self.file, self.i = text, filename, 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def pos(self, i: int) -> s.Pos:
        import bisect

        line = bisect.bisect_right(self.line_starts, i)
        return s.Pos(self.file, line, i - self.line_starts[line - 1] + 1)

    def ws(self) -> None:
        m = _WS.match(self.text, self.i)
        self.i = m.end() if m else self.i

    def value(self) -> JValue:
        self.ws()
        at, ch = self.i, self.text[self.i : self.i + 1]
        if ch == "{":
            self.i += 1
            items: list[tuple[str, s.Pos, JValue]] = []
            self.ws()
            if self.text.startswith("}", self.i):
                self.i += 1
                return JValue(self.pos(at), items, "object")
            while True:
                self.ws()
                key_pos = self.pos(self.i)
                key = self.string()
                self.ws()
                self.i += 1  # ":" (the text was checked by json.loads)
                items.append((key, key_pos, self.value()))
                self.ws()
                self.i += 1
                if self.text[self.i - 1] == "}":
                    return JValue(self.pos(at), items, "object")
        if ch == "[":
            self.i += 1
            elems: list[JValue] = []
            self.ws()
            if self.text.startswith("]", self.i):
                self.i += 1
                return JValue(self.pos(at), elems, "array")
            while True:
                elems.append(self.value())
                self.ws()
                self.i += 1
                if self.text[self.i - 1] == "]":
                    return JValue(self.pos(at), elems, "array")
        if ch == '"':
            return JValue(self.pos(at), self.string(), "string")
        for word, val in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, at):
                self.i += len(word)
                return JValue(self.pos(at), val, "null" if val is None else "bool")
        m = _NUMBER.match(self.text, at)
        assert m is not None
        self.i = m.end()
        return JValue(self.pos(at), json.loads(m.group()), "number")

    def string(self) -> str:
        m = _STRING_END.match(self.text, self.i + 1)
        assert m is not None
        raw = self.text[self.i : m.end()]
        self.i = m.end()
        return str(json.loads(raw))


def parse_json(text: str, filename: str) -> JValue:
    """The JSON document with positions; a syntax error names file, line and column."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        from builder.errors import Location

        raise JsonSyntaxError(
            f"Invalid JSON: {exc.msg}", Location(filename, "", exc.lineno, exc.colno)
        ) from None
    return _Reader(text, filename).value()


# --------------------------------------------------------------------------- JSON -> Body
# block type -> (labels, the schema of its body); a body schema maps its block types so,
# None: every property is an attribute (plugin bodies)
Schema = dict[str, tuple[int, "Schema | None"]]
VARIABLE: Schema = {"validation": (0, None)}
BUILD: Schema = {
    "source": (1, None),
    "provisioner": (1, None),
    "error-cleanup-provisioner": (1, None),
    "post-processor": (1, None),
    "post-processors": (0, {"post-processor": (1, None)}),
}
ROOT: Schema = {
    "packer": (0, {"required_plugins": (0, None)}),
    "source": (2, None),
    "variable": (1, VARIABLE),
    "variables": (0, None),
    "locals": (0, None),
    "local": (1, None),
    "data": (2, None),
    "build": (0, BUILD),
}


class JsonSyntaxError(s.SyntaxErr):
    """A *.pkr.json file whose structure is not the HCL JSON of Packer's blocks."""


JSON_FORMAT = "json1"  # bump when the conversion changes


def parse_json_file(text: str, filename: str, *, cache: bool = True) -> s.Body:
    """A *.pkr.json file as the Body the native syntax would give.

    Kept in the same cache as the native syntax's (its strings' templates need lark).
    """
    key = s._cache_key(JSON_FORMAT + "\0" + text, filename) if cache else None
    if key is not None:
        found = s._cache_get(key)
        if found is not None:
            return found
    doc = parse_json(text, filename)
    if doc.kind != "object":
        raise _error(doc.pos, "", "the root of a *.pkr.json file must be a JSON object")
    body = _Converter(filename).body(doc, ROOT, "", ())
    if key is not None:
        s._cache_put(key, body)
    return body


def _error(pos: s.Pos, where: str, message: str) -> JsonSyntaxError:
    from builder.errors import Location

    return JsonSyntaxError(
        f"Invalid HCL JSON: {message}", Location(pos.file, where, pos.line, pos.column)
    )


def _join(where: str, part: str) -> str:
    return f"{where}.{part}" if where else part


class _Converter:
    def __init__(self, filename: str) -> None:
        self.file = filename

    def body(
        self, obj: JValue, schema: Schema | None, where: str, block_path: tuple[str, ...]
    ) -> s.Body:
        if obj.kind != "object":
            raise _error(obj.pos, where, f"expected a JSON object for the body of {where}")
        attributes: dict[str, s.Attribute] = {}
        blocks: list[s.Block] = []
        for key, key_pos, value in obj.value:
            if key == "//":
                continue
            if schema is not None and key in schema:
                labels, inner = schema[key]
                blocks.extend(self.blocks(key, labels, inner, value, [], [], _join(where, key)))
                continue
            if key in attributes:
                first = attributes[key].pos
                raise _error(
                    key_pos,
                    _join(where, key),
                    f'Duplicate argument "{key}"; first set at {first.file}:{first.line}',
                )
            expr = self.expr(value)
            if block_path == ("variable",) and key == "type" and value.kind == "string":
                expr = s.parse_expression(
                    value.value, self.file, value.pos.line, value.pos.column + 1
                )
            attributes[key] = s.Attribute(key, expr, key_pos)
        return s.Body(attributes, blocks, obj.pos)

    def blocks(
        self,
        btype: str,
        labels_left: int,
        schema: Schema | None,
        value: JValue,
        labels: list[str],
        label_pos: list[s.Pos],
        where: str,
    ) -> list[s.Block]:
        """Blocks of a type: at each label level an object keyed by label, or an array of them."""
        if value.kind == "array":
            out: list[s.Block] = []
            for item in value.value:
                out.extend(self.blocks(btype, labels_left, schema, item, labels, label_pos, where))
            return out
        if value.kind != "object":
            want = "labels" if labels_left else "body"
            raise _error(
                value.pos,
                where,
                f'a "{btype}" block is a JSON object (of its {want}) or an array of them, '
                f"not a {value.kind}",
            )
        if labels_left == 0:
            body = self.body(value, schema, where, (btype,))
            pos = label_pos[0] if label_pos else value.pos
            return [s.Block(btype, list(labels), body, pos, list(label_pos))]
        out = []
        for key, key_pos, inner in value.value:
            if key == "//":
                continue
            out.extend(
                self.blocks(
                    btype,
                    labels_left - 1,
                    schema,
                    inner,
                    [*labels, key],
                    [*label_pos, key_pos],
                    _join(where, key),
                )
            )
        return out

    def expr(self, v: JValue) -> s.Node:
        if v.kind == "string":
            return s.parse_template(v.value, self.file, v.pos.line, v.pos.column + 1)
        if v.kind == "array":
            return s.TupleCons(v.pos, [self.expr(x) for x in v.value])
        if v.kind == "object":
            items: list[tuple[s.Node, s.Node]] = []
            for key, key_pos, inner in v.value:
                items.append(
                    (
                        s.parse_template(key, self.file, key_pos.line, key_pos.column + 1),
                        self.expr(inner),
                    )
                )
            return s.ObjectCons(v.pos, items)
        return s.Literal(v.pos, v.value)
