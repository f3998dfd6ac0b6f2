"""HCL2 syntax: python-hcl2's lark tree turned into a small expression AST with positions.

python-hcl2 parses the files; its tree has a line and column on every node. Its gaps are
filled here: heredoc bodies (one token) and template files are scanned as templates by
`parse_template`, `%{if}`/`%{for}` directives (flat in the tree) are nested, strip markers
are applied, and an attribute set twice in one body is an error, as in HCL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from builder.errors import TemplateError
from builder.template.hcl2.values import parse_number


@dataclass(frozen=True)
class Pos:
    """Where a node starts: file, line, column (1-based)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line},{self.column}"


class SyntaxErr(TemplateError):
    """A template that does not parse."""


# --------------------------------------------------------------------------- nodes
@dataclass
class Node:
    pos: Pos


@dataclass
class Literal(Node):
    value: Any


@dataclass
class TemplatePart:
    pass


@dataclass
class LitPart(TemplatePart):
    text: str


@dataclass
class InterpPart(TemplatePart):
    expr: Node


@dataclass
class IfPart(TemplatePart):
    cond: Node
    then: list[TemplatePart]
    else_: list[TemplatePart]


@dataclass
class ForPart(TemplatePart):
    key: str | None
    value: str
    coll: Node
    body: list[TemplatePart]


@dataclass
class Template(Node):
    parts: list[TemplatePart]

    @property
    def single(self) -> Node | None:
        """`"${x}"` alone: HCL gives x's value itself, not its string."""
        if len(self.parts) == 1 and isinstance(self.parts[0], InterpPart):
            return self.parts[0].expr
        return None


@dataclass
class Variable(Node):
    name: str


@dataclass
class GetAttr(Node):
    obj: Node
    name: str


@dataclass
class Index(Node):
    obj: Node
    key: Node


@dataclass
class Splat(Node):
    """`obj[*].a[0]` (full) or `obj.*.a` (attribute-only): `each` applies to every member."""

    obj: Node
    each: list[tuple[str, Any]]  # ("attr", name) | ("index", Node)
    full: bool


@dataclass
class Call(Node):
    name: str
    args: list[Node]
    expand_last: bool = False


@dataclass
class Unary(Node):
    op: str
    operand: Node


@dataclass
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass
class Conditional(Node):
    cond: Node
    then: Node
    else_: Node


@dataclass
class TupleCons(Node):
    items: list[Node]


@dataclass
class ObjectCons(Node):
    items: list[tuple[Node, Node]]  # a bare identifier key is a Literal string


@dataclass
class ForExpr(Node):
    key_var: str | None
    value_var: str
    coll: Node
    key: Node | None  # set for an object for
    value: Node
    cond: Node | None
    group: bool = False


@dataclass
class Parens(Node):
    inner: Node


@dataclass
class Attribute:
    name: str
    expr: Node
    pos: Pos


@dataclass
class Block:
    type: str
    labels: list[str]
    body: Body
    pos: Pos
    label_pos: list[Pos] = field(default_factory=list)


@dataclass
class Body:
    attributes: dict[str, Attribute]
    blocks: list[Block]
    pos: Pos


# --------------------------------------------------------------------------- parsing
_OPS = {
    "PLUS": "+",
    "MINUS": "-",
    "ASTERISK": "*",
    "SLASH": "/",
    "PERCENT": "%",
    "DOUBLE_EQ": "==",
    "NEQ": "!=",
    "LT": "<",
    "GT": ">",
    "LEQ": "<=",
    "GEQ": ">=",
    "DOUBLE_AMP": "&&",
    "DOUBLE_PIPE": "||",
}
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.S)


def _lark() -> Any:
    from hcl2.api import _get_parser  # type: ignore[attr-defined]

    return _get_parser()


def parse_file(text: str, filename: str, *, cache: bool = True) -> Body:
    """A whole .pkr.hcl file; SyntaxErr (with line and column) if it does not parse.

    The result is kept in the user's cache directory by the text's digest, so validating
    an unchanged template again imports neither lark nor python-hcl2 (~150 ms).
    """
    key = _cache_key(text, filename) if cache else None
    if key is not None:
        found = _cache_get(key)
        if found is not None:
            return found
    tree = _parse(text, filename)
    body = _Builder(filename).body(tree.children[0])
    if key is not None:
        _cache_put(key, body)
    return body


CACHE_FORMAT = "1"  # bump when the nodes above change shape


def _cache_dir() -> str:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pybuild", "hcl2")


def _cache_key(text: str, filename: str) -> str:
    import hashlib
    from importlib.metadata import PackageNotFoundError, version

    try:
        parser = version("python-hcl2")
    except PackageNotFoundError:
        parser = "?"
    seed = "\0".join((CACHE_FORMAT, parser, filename, text))
    return hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()


def _cache_get(key: str) -> Body | None:
    import os
    import pickle

    try:
        with open(os.path.join(_cache_dir(), key), "rb") as fh:
            found = pickle.load(fh)
    except Exception:  # noqa: BLE001 - a missing or unreadable entry is parsed again
        return None
    return found if isinstance(found, Body) else None


def _cache_put(key: str, body: Body) -> None:
    import os
    import pickle
    import tempfile

    directory = _cache_dir()
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(body, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, os.path.join(directory, key))
    except OSError:
        return  # no cache: the next run parses again


def parse_expression(text: str, filename: str, line: int = 1, column: int = 1) -> Node:
    """One expression (a -var value, a template's `${...}`), positioned at line:column."""
    tree = _parse(f"x = (\n{text}\n)", filename)
    attr = next(c for c in tree.children[0].children if _rule(c) == "attribute")
    expr = _Builder(filename, line_offset=line - 2, first_column=column).expr(attr.children[-1])
    return expr.inner if isinstance(expr, Parens) else expr


def _parse(text: str, filename: str) -> Any:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

    try:
        return _lark().parse(text + "\n")
    except UnexpectedCharacters as exc:
        at = exc.pos_in_stream or 0
        ch = text[at] if at < len(text) else "end of file"
        raise _syntax(filename, exc.line, exc.column, f"unexpected character {ch!r}") from None
    except UnexpectedEOF:
        lines = text.splitlines() or [""]
        raise _syntax(filename, len(lines), len(lines[-1]) + 1, "unexpected end of file") from None
    except UnexpectedInput as exc:
        tok = getattr(exc, "token", None)
        shown = "end of file" if tok is None or tok.type == "$END" else repr(str(tok).strip())
        if shown == "''":
            shown = "newline"
        raise _syntax(filename, exc.line, exc.column, f"unexpected {shown}") from None


def _syntax(filename: str, line: int, column: int, message: str) -> SyntaxErr:
    from builder.errors import Location

    line, column = max(line, 1), max(column, 1)
    return SyntaxErr(f"Invalid HCL syntax: {message}", Location(filename, "", line, column))


def _rule(node: Any) -> str:
    return str(node.data) if hasattr(node, "data") else ""


def _kids(node: Any) -> list[Any]:
    """Children without comments and newlines."""
    return [c for c in node.children if _rule(c) != "new_line_or_comment"]


def _trees(node: Any) -> list[Any]:
    return [c for c in _kids(node) if hasattr(c, "data")]


def unescape(text: str, filename: str = "", pos: Pos | None = None) -> str:
    """A quoted string's escapes: \\n \\r \\t \\" \\\\ \\uNNNN \\UNNNNNNNN."""
    if "\\" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        s = m.group(1)
        if s[0] in "uU" and len(s) > 1:
            return chr(int(s[1:], 16))
        if s in _ESCAPES:
            return _ESCAPES[s]
        where = pos or Pos(filename, 1, 1)
        raise _syntax(where.file, where.line, where.column, f"invalid escape sequence \\{s}")

    return _ESCAPE.sub(one, text)


class _Builder:
    """Lark tree -> nodes; line_offset/first_column place a re-parsed snippet."""

    def __init__(self, filename: str, line_offset: int = 0, first_column: int = 1):
        self.file, self.dl, self.c0 = filename, line_offset, first_column

    def pos(self, node: Any) -> Pos:
        if hasattr(node, "meta"):
            if node.meta.empty:
                return Pos(self.file, 1 + self.dl, 1)
            line, col = node.meta.line, node.meta.column
        else:
            line, col = node.line or 1, node.column or 1
        if self.dl and line == 2:
            col += self.c0 - 1
        return Pos(self.file, line + self.dl, col)

    # ---- structure
    def body(self, tree: Any) -> Body:
        attrs: dict[str, Attribute] = {}
        blocks: list[Block] = []
        for c in _trees(tree):
            if c.data == "attribute":
                kids = _kids(c)
                name = self.name(kids[0])
                attr = Attribute(name, self.expr(kids[-1]), self.pos(c))
                if name in attrs:
                    first = attrs[name].pos
                    raise _syntax(
                        self.file,
                        attr.pos.line,
                        attr.pos.column,
                        f'attribute redefined: the argument "{name}" was already set at '
                        f"{first.file}:{first.line},{first.column}; each argument may be set "
                        "only once",
                    )
                attrs[name] = attr
            elif c.data == "block":
                blocks.append(self.block(c))
        return Body(attrs, blocks, self.pos(tree))

    def block(self, tree: Any) -> Block:
        kids = _kids(tree)
        head = [k for k in kids if hasattr(k, "data") and k.data != "body"]
        body = next(k for k in kids if _rule(k) == "body")
        labels, label_pos = [], []
        for h in head[1:]:
            labels.append(self.string_literal(h) if h.data == "string" else self.name(h))
            label_pos.append(self.pos(h))
        return Block(self.name(head[0]), labels, self.body(body), self.pos(tree), label_pos)

    def name(self, tree: Any) -> str:
        return str(tree.children[0])

    def string_literal(self, tree: Any) -> str:
        parts = self.string_parts(tree)
        if any(not isinstance(p, LitPart) for p in parts):
            p = self.pos(tree)
            raise _syntax(self.file, p.line, p.column, "a block label cannot hold a template")
        return "".join(p.text for p in parts if isinstance(p, LitPart))

    # ---- expressions
    def expr(self, tree: Any) -> Node:
        rule = _rule(tree)
        method = getattr(self, "x_" + rule, None)
        if method is None:
            p = self.pos(tree)
            raise _syntax(self.file, p.line, p.column, f"unsupported expression ({rule})")
        return method(tree)  # type: ignore[no-any-return]

    def x_expr_term(self, t: Any) -> Node:
        kids = _kids(t)
        if len(kids) == 1:
            return self.expr(kids[0])
        inner = next(k for k in kids if hasattr(k, "data"))
        return Parens(self.pos(t), self.expr(inner))

    def x_int_lit(self, t: Any) -> Node:
        return Literal(self.pos(t), int(str(t.children[0])))

    def x_float_lit(self, t: Any) -> Node:
        return Literal(self.pos(t), parse_number(str(t.children[0])))

    def x_literal_value(self, t: Any) -> Node:
        word = str(t.children[0])
        return Literal(self.pos(t), {"true": True, "false": False, "null": None}[word])

    def x_identifier(self, t: Any) -> Node:
        return Variable(self.pos(t), str(t.children[0]))

    def x_string(self, t: Any) -> Node:
        return Template(self.pos(t), self.string_parts(t))

    def x_template_string(self, t: Any) -> Node:
        raw = str(t.children[0])[2:-2]  # \"...\" inside a directive of a quoted string
        return Literal(self.pos(t), unescape(raw, self.file, self.pos(t)))

    def x_heredoc_template(self, t: Any) -> Node:
        return self.heredoc(t, trim=False)

    def x_heredoc_template_trim(self, t: Any) -> Node:
        return self.heredoc(t, trim=True)

    def heredoc(self, t: Any, trim: bool) -> Node:
        tok = t.children[0]
        text = str(tok)
        first_nl = text.index("\n")
        body = text[first_nl + 1 :]
        body = body[: body.rstrip("\r\n").rfind("\n") + 1] if "\n" in body.rstrip("\r\n") else ""
        if trim:
            body = _dedent(body)
        p = self.pos(t)
        parts = parse_template_parts(body, self.file, p.line + 1, 1)
        return Template(p, parts)

    def x_tuple(self, t: Any) -> Node:
        return TupleCons(self.pos(t), [self.expr(k) for k in _trees(t)])

    def x_object(self, t: Any) -> Node:
        items = []
        for elem in _trees(t):
            kids = _kids(elem)
            key_tree, value_tree = kids[0], kids[-1]
            items.append((self.object_key(key_tree), self.expr(value_tree)))
        return ObjectCons(self.pos(t), items)

    def object_key(self, t: Any) -> Node:
        inner = _kids(t)[0]
        if _rule(inner) == "keyword":
            return Literal(self.pos(inner), str(inner.children[0]))
        node = self.expr(inner)
        if isinstance(node, Variable):  # a bare name is the key itself
            return Literal(node.pos, node.name)
        if isinstance(node, Literal) and isinstance(node.value, bool | type(None)):
            return Literal(node.pos, str(_rule_word(inner)))
        return node

    def x_function_call(self, t: Any) -> Node:
        kids = _kids(t)
        names = [str(k.children[0]) for k in kids if _rule(k) == "identifier"]
        args_tree = next((k for k in kids if _rule(k) == "arguments"), None)
        args: list[Node] = []
        expand = False
        if args_tree is not None:
            for a in _kids(args_tree):
                if hasattr(a, "data"):
                    args.append(self.expr(a))
                elif a.type == "ELLIPSIS":
                    expand = True
        return Call(self.pos(t), "::".join(names), args, expand)

    def x_index_expr_term(self, t: Any) -> Node:
        obj, idx = _trees(t)
        return Index(self.pos(idx), self.expr(obj), self.index_key(idx))

    def index_key(self, idx: Any) -> Node:
        if idx.data == "short_index":
            tok = [k for k in _kids(idx) if not hasattr(k, "data")][-1]
            return Literal(self.pos(idx), int(str(tok)))
        return self.expr(_trees(idx)[0])

    def x_get_attr_expr_term(self, t: Any) -> Node:
        obj, attr = _trees(t)
        return GetAttr(self.pos(attr), self.expr(obj), self.attr_name(attr))

    def attr_name(self, attr: Any) -> str:
        return str(_trees(attr)[0].children[0])

    def x_attr_splat_expr_term(self, t: Any) -> Node:
        return self.splat(t, full=False)

    def x_full_splat_expr_term(self, t: Any) -> Node:
        return self.splat(t, full=True)

    def splat(self, t: Any, full: bool) -> Node:
        obj, sp = _trees(t)
        each: list[tuple[str, Any]] = []
        for k in _trees(sp):
            if k.data == "get_attr":
                each.append(("attr", self.attr_name(k)))
            else:
                each.append(("index", self.index_key(k)))
        return Splat(self.pos(sp), self.expr(obj), each, full)

    def x_unary_op(self, t: Any) -> Node:
        op, operand = _kids(t)
        return Unary(self.pos(t), str(op).strip(), self.expr(operand))

    def x_binary_op(self, t: Any) -> Node:
        left, term = _trees(t)[:2]
        op_tree, right = _trees(term)[:2]
        tok = op_tree.children[0]
        return Binary(self.pos(op_tree), _OPS[tok.type], self.expr(left), self.expr(right))

    def x_conditional(self, t: Any) -> Node:
        cond, a, b = _trees(t)
        return Conditional(self.pos(t), self.expr(cond), self.expr(a), self.expr(b))

    def for_intro(self, intro: Any) -> tuple[str | None, str, Node]:
        names = [str(k.children[0]) for k in _trees(intro) if k.data == "identifier"]
        coll = [k for k in _trees(intro) if k.data != "identifier"][0]
        key = names[0] if len(names) == 2 else None
        return key, names[-1], self.expr(coll)

    def x_for_tuple_expr(self, t: Any) -> Node:
        trees = _trees(t)
        key, value, coll = self.for_intro(trees[0])
        cond = next((self.expr(_trees(k)[0]) for k in trees if k.data == "for_cond"), None)
        return ForExpr(self.pos(t), key, value, coll, None, self.expr(trees[1]), cond)

    def x_for_object_expr(self, t: Any) -> Node:
        trees = _trees(t)
        key, value, coll = self.for_intro(trees[0])
        cond = next((self.expr(_trees(k)[0]) for k in trees if k.data == "for_cond"), None)
        group = any(not hasattr(k, "data") and k.type == "ELLIPSIS" for k in t.children)
        return ForExpr(
            self.pos(t), key, value, coll, self.expr(trees[1]), self.expr(trees[2]), cond, group
        )

    # ---- templates in quoted strings
    def string_parts(self, t: Any) -> list[TemplatePart]:
        flat: list[Any] = []
        for part in _trees(t):
            child = part.children[0]
            if not hasattr(child, "data"):
                text = str(child)
                if child.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                    flat.append(LitPart(text[1:]))
                else:
                    flat.append(LitPart(unescape(text, self.file, self.pos(child))))
                continue
            flat.append(self.directive(child))
        return _nest(flat, self.file, self.pos(t))

    def directive(self, d: Any) -> _Directive:
        kids = d.children
        strips = [i for i, k in enumerate(kids) if getattr(k, "type", "") == "STRIP_MARKER"]
        exprs = [k for k in kids if hasattr(k, "data")]
        left = bool(strips) and strips[0] == 1
        right = bool(strips) and strips[-1] == len(kids) - 2
        p = self.pos(d)
        if d.data == "interpolation":
            return _Directive("interp", p, left, right, expr=self.expr(exprs[0]))
        if d.data == "template_if_start":
            return _Directive("if", p, left, right, expr=self.expr(exprs[0]))
        if d.data == "template_for_start":
            names = [str(k.children[0]) for k in exprs if k.data == "identifier"]
            coll = [k for k in exprs if k.data != "identifier"][0]
            return _Directive("for", p, left, right, expr=self.expr(coll), names=names)
        kind = {"template_else": "else", "template_endif": "endif", "template_endfor": "endfor"}
        return _Directive(kind[d.data], p, left, right)


def _rule_word(t: Any) -> str:
    while hasattr(t, "children") and t.children:
        t = t.children[0]
    return str(t)


def _dedent(body: str) -> str:
    """`<<-` heredocs: remove the smallest indentation of the non-blank lines."""
    lines = body.split("\n")
    indents = [len(ln) - len(ln.lstrip(" \t")) for ln in lines if ln.strip()]
    cut = min(indents, default=0)
    return "\n".join(ln[cut:] for ln in lines)


@dataclass
class _Directive:
    kind: str  # interp | if | else | endif | for | endfor
    pos: Pos
    strip_left: bool
    strip_right: bool
    expr: Node | None = None
    names: list[str] = field(default_factory=list)


def _nest(flat: list[Any], filename: str, where: Pos) -> list[TemplatePart]:
    """Flat literals and directives -> nested parts; strip markers trim the literals beside."""
    for i, item in enumerate(flat):
        if not isinstance(item, _Directive):
            continue
        if item.strip_left and i > 0 and isinstance(flat[i - 1], LitPart):
            flat[i - 1] = LitPart(flat[i - 1].text.rstrip(" \t\r\n"))
        if item.strip_right and i + 1 < len(flat) and isinstance(flat[i + 1], LitPart):
            flat[i + 1] = LitPart(flat[i + 1].text.lstrip(" \t\r\n"))
    root: list[TemplatePart] = []
    stack: list[tuple[_Directive, list[TemplatePart], list[TemplatePart] | None]] = []
    out = root
    for item in flat:
        if isinstance(item, LitPart):
            if item.text:
                out.append(item)
            continue
        d = item
        if d.kind == "interp":
            assert d.expr is not None
            out.append(InterpPart(d.expr))
        elif d.kind in ("if", "for"):
            body: list[TemplatePart] = []
            stack.append((d, body, None))
            out = body
        elif d.kind == "else":
            if not stack or stack[-1][0].kind != "if" or stack[-1][2] is not None:
                raise _syntax(filename, d.pos.line, d.pos.column, "%{else} without %{if}")
            else_body: list[TemplatePart] = []
            stack[-1] = (stack[-1][0], stack[-1][1], else_body)
            out = else_body
        else:
            want = "if" if d.kind == "endif" else "for"
            if not stack or stack[-1][0].kind != want:
                raise _syntax(
                    filename, d.pos.line, d.pos.column, f"%{{{d.kind}}} without %{{{want}}}"
                )
            opened, then, else_ = stack.pop()
            assert opened.expr is not None
            part: TemplatePart
            if want == "if":
                part = IfPart(opened.expr, then, else_ or [])
            else:
                names = opened.names
                part = ForPart(names[0] if len(names) == 2 else None, names[-1], opened.expr, then)
            out = (
                stack[-1][2]
                if stack and stack[-1][2] is not None
                else (stack[-1][1] if stack else root)
            )
            out.append(part)
    if stack:
        d = stack[-1][0]
        raise _syntax(filename, d.pos.line, d.pos.column, f"unclosed %{{{d.kind}}}")
    return root


# --------------------------------------------------------------------------- template text
_DIRECTIVE = re.compile(r"\s*(if|else|endif|for|endfor)\b(.*)$", re.S)
_FOR_HEAD = re.compile(r"\s*([A-Za-z_][\w-]*)\s*(?:,\s*([A-Za-z_][\w-]*)\s*)?in\b(.*)$", re.S)


def parse_template(text: str, filename: str, line: int = 1, column: int = 1) -> Template:
    """A template from text (a heredoc body, a templatefile file)."""
    return Template(Pos(filename, line, column), parse_template_parts(text, filename, line, column))


def parse_template_parts(text: str, filename: str, line: int, column: int) -> list[TemplatePart]:
    flat: list[Any] = []
    lit: list[str] = []
    i, n = 0, len(text)

    def here(at: int) -> Pos:
        before = text[:at]
        nl = before.count("\n")
        col = at - (before.rfind("\n") + 1) + (column if nl == 0 else 1)
        return Pos(filename, line + nl, col)

    while i < n:
        c = text[i]
        if c in "$%" and text.startswith(c + c + "{", i):
            lit.append(c + "{")
            i += 3
            continue
        if c in "$%" and text.startswith(c + "{", i):
            start = i + 2
            end = _closing_brace(text, start, filename, here(i))
            inner = text[start:end]
            left = inner.startswith("~")
            right = inner.endswith("~") and len(inner) > (1 if left else 0)
            body = inner[1 if left else 0 : len(inner) - 1 if right else len(inner)]
            at = here(start + (1 if left else 0))
            flat.append(LitPart("".join(lit)))
            lit = []
            flat.append(_text_directive(c, body, filename, at, left, right))
            i = end + 1
            continue
        lit.append(c)
        i += 1
    flat.append(LitPart("".join(lit)))
    return _nest(flat, filename, Pos(filename, line, column))


def _text_directive(
    kind: str, body: str, filename: str, at: Pos, left: bool, right: bool
) -> _Directive:
    if kind == "$":
        return _Directive(
            "interp", at, left, right, parse_expression(body, filename, at.line, at.column)
        )
    m = _DIRECTIVE.match(body)
    if not m:
        raise _syntax(
            filename, at.line, at.column, f"invalid template directive %{{{body.strip()}}}"
        )
    word, rest = m.group(1), m.group(2)
    if word == "if":
        return _Directive(
            "if", at, left, right, parse_expression(rest, filename, at.line, at.column)
        )
    if word == "for":
        f = _FOR_HEAD.match(rest)
        if not f:
            raise _syntax(filename, at.line, at.column, "invalid %{for} directive")
        names = [x for x in (f.group(1), f.group(2)) if x]
        coll = parse_expression(f.group(3), filename, at.line, at.column)
        return _Directive("for", at, left, right, coll, names)
    if rest.strip():
        raise _syntax(filename, at.line, at.column, f"unexpected text after %{{{word}}}")
    return _Directive(word, at, left, right)


def _closing_brace(text: str, start: int, filename: str, at: Pos) -> int:
    """The index of the `}` closing a `${` or `%{` opened before start (strings skipped)."""
    depth, i, n = 0, start, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = _string_end(text, i + 1, filename, at)
        elif c in "([{":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise _syntax(filename, at.line, at.column, "unclosed template interpolation")


def _string_end(text: str, i: int, filename: str, at: Pos) -> int:
    """The index of the `"` ending a quoted string that starts at i (templates inside)."""
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i
        if c in "$%" and text.startswith(c + "{", i) and not text.startswith(c + c, i - 1):
            i = _closing_brace(text, i + 2, filename, at) + 1
            continue
        i += 1
    raise _syntax(filename, at.line, at.column, "unterminated string")
