"""A Go text/template subset (lexer, parser, executor) for Packer's {{ }} language.

Parsing is cached per text; function names are checked against the caller's function
map at execution time, reported with Go's parse-error wording.
"""

from __future__ import annotations

import functools
import inspect
import math
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple, NoReturn

from builder.errors import InterpolationError

__all__ = [
    "BUILTINS",
    "ArgTypeError",
    "Deferred",
    "Template",
    "format_value",
    "go_quote",
    "go_sprint",
    "go_sprintf",
    "parse",
    "truth",
    "type_name",
    "want_int",
    "want_str",
]

NAME = "root"
_SPACE = " \t\r\n"
_KEYWORDS = frozenset({"block", "define", "else", "end", "if", "range", "template", "with"})
_TERMINATORS = frozenset(" \t\r\n.,|:()=}")
_OPERAND_START = frozenset(
    {"bool", "char", "dot", "field", "ident", "number", "nil", "raw", "string", "var", "lparen"}
)


class Deferred(str):
    """Text standing for a value known only later; printed verbatim, defers any action using it."""


class ArgTypeError(InterpolationError):
    """A function argument of the wrong Go type (reported without 'error calling')."""

    def __init__(self, expected: str, value: Any):
        super().__init__(f"wrong type for value; expected {expected}; got {type_name(value)}")


class _NoData:
    """The dot when no data is given: fields on it are deferred to a later render."""


_NO_DATA = _NoData()
_MISSING = object()


class _Defer(Exception):
    """Raised when an action needs a deferred value; the action is re-emitted as source."""


# --------------------------------------------------------------------------------------
# Lexer


class Token(NamedTuple):
    """One lexical item: kind, source text and offset."""

    kind: str
    val: str
    pos: int


def _tok_str(tok: Token) -> str:
    """Go's item.String(): how a token is named in parse errors."""
    if tok.kind == "eof":
        return "EOF"
    if tok.kind in ("keyword", "dot", "nil"):
        return f"<{tok.val}>"
    if len(tok.val) > 10:
        return go_quote(tok.val[:10]) + "..."
    return go_quote(tok.val)


def _unicode_name(c: str) -> str:
    """Go's %#U: U+0024 '$'."""
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"


def _right_delim(text: str, pos: int) -> tuple[int, bool]:
    """Length of the right delimiter at pos (0 if none) and whether it trims."""
    if text.startswith("}}", pos):
        return 2, False
    if pos < len(text) and text[pos] in _SPACE and text.startswith("-}}", pos + 1):
        return 4, True
    return 0, False


def _lex(text: str) -> list[Token]:
    """Split a template into tokens; a lexical error becomes an 'error' token."""
    toks: list[Token] = []
    n, pos, trim = len(text), 0, False
    while True:
        i = text.find("{{", pos)
        stop = n if i < 0 else i
        ltrim = 0 <= i and i + 3 < n and text[i + 2] == "-" and text[i + 3] in _SPACE
        start, end = pos, stop
        if trim:
            while start < end and text[start] in _SPACE:
                start += 1
        if ltrim:
            while end > start and text[end - 1] in _SPACE:
                end -= 1
        if end > start:
            toks.append(Token("text", text[start:end], start))
        if i < 0:
            break
        inner = i + (4 if ltrim else 2)
        toks.append(Token("left", text[i:inner], i))
        if text.startswith("/*", inner):
            pos, trim = _lex_comment(text, inner, toks)
        else:
            pos, trim = _lex_action(text, inner, toks)
        if pos < 0:
            break
    toks.append(Token("eof", "", n))
    return toks


def _lex_error(toks: list[Token], msg: str, pos: int) -> tuple[int, bool]:
    toks.append(Token("error", msg, pos))
    return -1, False


def _lex_comment(text: str, pos: int, toks: list[Token]) -> tuple[int, bool]:
    j = text.find("*/", pos + 2)
    if j < 0:
        return _lex_error(toks, "unclosed comment", pos)
    size, trim = _right_delim(text, j + 2)
    if not size:
        return _lex_error(toks, "comment ends before closing delimiter", j + 2)
    toks.pop()
    return j + 2 + size, trim


def _scan_alnum(text: str, j: int) -> int:
    while j < len(text) and (text[j] == "_" or text[j].isalnum()):
        j += 1
    return j


def _at_terminator(text: str, j: int) -> bool:
    return j >= len(text) or text[j] in _TERMINATORS


def _scan_quote(text: str, pos: int) -> int:
    """End offset of the quoted literal starting at pos, or -1 if unterminated."""
    q, j, n = text[pos], pos + 1, len(text)
    if q == "`":
        k = text.find("`", j)
        return k + 1 if k >= 0 else -1
    while j < n:
        c = text[j]
        if c == "\\":
            if j + 1 >= n or text[j + 1] == "\n":
                return -1
            j += 2
            continue
        if c == "\n":
            return -1
        if c == q:
            return j + 1
        j += 1
    return -1


def _scan_number(text: str, pos: int) -> tuple[int, bool]:
    """Go's scanNumber: end offset and whether the syntax is acceptable."""
    n, j = len(text), pos

    def run(chars: str) -> None:
        nonlocal j
        while j < n and text[j] in chars:
            j += 1

    if j < n and text[j] in "+-":
        j += 1
    digits = "0123456789_"
    if j < n and text[j] == "0":
        j += 1
        if j < n and text[j] in "xX":
            j, digits = j + 1, "0123456789abcdefABCDEF_"
        elif j < n and text[j] in "oO":
            j, digits = j + 1, "01234567_"
        elif j < n and text[j] in "bB":
            j, digits = j + 1, "01_"
    run(digits)
    if j < n and text[j] == ".":
        j += 1
        run(digits)
    exp = "eE" if len(digits) == 11 else "pP" if len(digits) == 23 else ""
    if exp and j < n and text[j] in exp:
        j += 1
        run("+-")
        run("0123456789_")
    if j < n and text[j] == "i":
        j += 1
    if j < n and (text[j] == "_" or text[j].isalnum()):
        return j + 1, False
    return j, True


def _lex_action(text: str, pos: int, toks: list[Token]) -> tuple[int, bool]:
    """Tokens of one action up to and including its right delimiter."""
    n, depth = len(text), 0
    simple = {"=": "assign", "|": "pipe"}
    while True:
        size, trim = _right_delim(text, pos)
        if size:
            if depth:
                return _lex_error(toks, "unclosed left paren", pos)
            toks.append(Token("right", text[pos : pos + size], pos))
            return pos + size, trim
        if pos >= n:
            return _lex_error(toks, "unclosed action", pos)
        c = text[pos]
        kind, end = "", pos + 1
        if c in _SPACE:
            while end < n and text[end] in _SPACE and not _right_delim(text, end)[1]:
                end += 1
            kind = "space"
        elif c in simple:
            kind = simple[c]
        elif c == ":":
            if not text.startswith(":=", pos):
                return _lex_error(toks, "expected :=", pos)
            kind, end = "declare", pos + 2
        elif c in "\"'`":
            end = _scan_quote(text, pos)
            if end < 0:
                what = {"`": "raw quoted string", '"': "quoted string", "'": "character constant"}
                return _lex_error(toks, f"unterminated {what[c]}", pos)
            kind = {"`": "raw", '"': "string", "'": "char"}[c]
        elif c in "$." and not (c == "." and pos + 1 < n and "0" <= text[pos + 1] <= "9"):
            end = _scan_alnum(text, pos + 1)
            kind = "var" if c == "$" else "dot" if end == pos + 1 else "field"
        elif c in "+-." or "0" <= c <= "9":
            end, ok = _scan_number(text, pos)
            if not ok:
                return _lex_error(toks, f"bad number syntax: {go_quote(text[pos:end])}", pos)
            kind = "number"
        elif c == "_" or c.isalnum():
            end = _scan_alnum(text, pos)
            word = text[pos:end]
            kind = (
                "keyword"
                if word in _KEYWORDS
                else "nil"
                if word == "nil"
                else "bool"
                if word in ("true", "false")
                else "ident"
            )
        elif c == "(":
            kind, depth = "lparen", depth + 1
        elif c == ")":
            kind, depth = "rparen", depth - 1
            if depth < 0:
                return _lex_error(toks, f"unexpected right paren {_unicode_name(c)}", pos)
        elif c.isascii() and c.isprintable():
            kind = "punct"
        else:
            return _lex_error(toks, f"unrecognized character in action: {_unicode_name(c)}", pos)
        if kind in ("var", "dot", "field", "ident", "keyword", "nil", "bool"):
            if not _at_terminator(text, end):
                return _lex_error(toks, f"bad character {_unicode_name(text[end])}", end)
        toks.append(Token(kind, text[pos:end], pos))
        pos = end


# --------------------------------------------------------------------------------------
# Parse tree


@dataclass(slots=True, eq=False)
class Node:
    """A parse-tree node; pos is the offset of its first token."""

    pos: int


@dataclass(slots=True, eq=False)
class Text(Node):
    text: str


@dataclass(slots=True, eq=False)
class Dot(Node):
    def __str__(self) -> str:
        return "."


@dataclass(slots=True, eq=False)
class Nil(Node):
    def __str__(self) -> str:
        return "nil"


@dataclass(slots=True, eq=False)
class Literal(Node):
    """A bool, number or string constant; src is its spelling."""

    src: str
    value: Any

    def __str__(self) -> str:
        return self.src


@dataclass(slots=True, eq=False)
class Field(Node):
    idents: list[str]

    def __str__(self) -> str:
        return "".join("." + i for i in self.idents)


@dataclass(slots=True, eq=False)
class Variable(Node):
    idents: list[str]

    def __str__(self) -> str:
        return ".".join(self.idents)


@dataclass(slots=True, eq=False)
class Identifier(Node):
    name: str

    def __str__(self) -> str:
        return self.name


def _arg_str(node: Node) -> str:
    return f"({node})" if isinstance(node, Pipe) else str(node)


@dataclass(slots=True, eq=False)
class Chain(Node):
    """A term followed by fields: (x).Field.Other."""

    node: Node
    fields: list[str]

    def __str__(self) -> str:
        return _arg_str(self.node) + "".join("." + f for f in self.fields)


@dataclass(slots=True, eq=False)
class Command(Node):
    args: list[Node]

    def __str__(self) -> str:
        return " ".join(_arg_str(a) for a in self.args)


@dataclass(slots=True, eq=False)
class Pipe(Node):
    decls: list[str]
    is_assign: bool
    cmds: list[Command]

    def __str__(self) -> str:
        head = ", ".join(self.decls) + (" = " if self.is_assign else " := ") if self.decls else ""
        return head + " | ".join(str(c) for c in self.cmds)


@dataclass(slots=True, eq=False)
class Action(Node):
    """{{pipeline}}; src is the inner text, used when the action is deferred."""

    pipe: Pipe
    src: str

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclass(slots=True, eq=False)
class Control(Node):
    """{{if}}, {{with}} or {{range}} with optional else; src is its whole source text."""

    kind: str
    pipe: Pipe
    body: list[Node]
    else_body: list[Node] | None
    src: str = ""
    end: int = 0

    def __str__(self) -> str:
        return "{{" + f"{self.kind} {self.pipe}" + "}}"


@dataclass(slots=True, eq=False)
class _End(Node):
    end: int

    def __str__(self) -> str:
        return "{{end}}"


@dataclass(slots=True, eq=False)
class _Else(Node):
    def __str__(self) -> str:
        return "{{else}}"


# --------------------------------------------------------------------------------------
# Parser


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


class _Parser:
    """Go's text/template/parse, recursive descent over the token list."""

    def __init__(self, text: str):
        self.text = text
        self.toks = _lex(text)
        self.i = 0
        self.vars = ["$"]
        self.idents: dict[str, int] = {}

    def error(self, msg: str, tok: Token | None = None) -> NoReturn:
        pos = (tok or self.toks[min(self.i, len(self.toks)) - 1]).pos
        raise InterpolationError(f"template: {NAME}:{_line_of(self.text, pos)}: {msg}")

    def next(self) -> Token:
        tok = self.toks[min(self.i, len(self.toks) - 1)]
        self.i += 1
        if tok.kind == "error":
            self.error(tok.val, tok)
        return tok

    def peek(self) -> Token:
        return self.toks[min(self.i, len(self.toks) - 1)]

    def peek_non_space(self) -> Token:
        while self.peek().kind == "space":
            self.i += 1
        return self.peek()

    def next_non_space(self) -> Token:
        self.peek_non_space()
        return self.next()

    def unexpected(self, tok: Token, context: str) -> NoReturn:
        self.error(f"unexpected {_tok_str(tok)} in {context}", tok)

    def parse(self) -> list[Node]:
        root: list[Node] = []
        while self.peek().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, (_End, _Else)):
                self.error(f"unexpected {node}")
            root.append(node)
        return root

    def text_or_action(self) -> Node:
        tok = self.next_non_space()
        if tok.kind == "text":
            return Text(tok.pos, tok.val)
        if tok.kind == "left":
            return self.action(tok)
        self.unexpected(tok, "input")

    def action(self, left: Token) -> Node:
        tok = self.next_non_space()
        if tok.kind == "keyword":
            if tok.val == "else":
                return self.else_control()
            if tok.val == "end":
                right = self.expect("right", "end")
                return _End(tok.pos, right.pos + len(right.val))
            if tok.val in ("if", "with", "range"):
                return self.control(tok, left.pos, "")
            self.error(f"{{{{{tok.val}}}}} is not supported by pybuild", tok)
        self.i -= 1
        first = self.peek()
        pipe = self.pipeline("command", "right")
        right = self.toks[self.i - 1]
        return Action(first.pos, pipe, self.text[left.pos + len(left.val) : right.pos])

    def expect(self, kind: str, context: str) -> Token:
        tok = self.next_non_space()
        if tok.kind != kind:
            self.unexpected(tok, context)
        return tok

    def else_control(self) -> Node:
        peek = self.peek_non_space()
        if peek.kind == "keyword" and peek.val in ("if", "with"):
            return _Else(peek.pos)
        return _Else(self.expect("right", "else").pos)

    def control(self, kw: Token, start: int, prefix: str) -> Control:
        mark = len(self.vars)
        pipe = self.pipeline(kw.val, "right")
        body, nxt = self.item_list()
        else_body: list[Node] | None = None
        if isinstance(nxt, _Else):
            peek = self.peek()
            if kw.val != "range" and peek.kind == "keyword" and peek.val == kw.val:
                self.next()
                inner = self.control(peek, peek.pos, "{{")
                else_body, end = [inner], inner.end
            else:
                else_body, nxt = self.item_list()
                if not isinstance(nxt, _End):
                    self.error(f"expected end; found {nxt}")
                end = nxt.end
        else:
            end = nxt.end  # type: ignore[attr-defined]
        del self.vars[mark:]
        node = Control(pipe.pos, kw.val, pipe, body, else_body)
        node.src, node.end = prefix + self.text[start:end], end
        return node

    def item_list(self) -> tuple[list[Node], Node]:
        nodes: list[Node] = []
        while self.peek_non_space().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, (_End, _Else)):
                return nodes, node
            nodes.append(node)
        self.error("unexpected EOF", self.peek())

    def pipeline(self, context: str, end: str) -> Pipe:
        start = self.peek_non_space()
        decls: list[str] = []
        is_assign = False
        while (v := self.peek_non_space()).kind == "var":
            mark = self.i
            self.next()
            nxt = self.peek_non_space()
            if nxt.kind in ("assign", "declare"):
                self.next()
                is_assign = nxt.kind == "assign"
                decls.append(v.val)
                self.vars.append(v.val)
                break
            if nxt.kind == "punct" and nxt.val == ",":
                self.next()
                decls.append(v.val)
                self.vars.append(v.val)
                if context == "range" and len(decls) < 2:
                    if self.peek_non_space().kind in ("var", "right", "rparen"):
                        continue
                    self.error("range can only initialize variables")
                self.error(f"too many declarations in {context}")
            self.i = mark
            break
        cmds: list[Command] = []
        while True:
            tok = self.next_non_space()
            if tok.kind == end:
                return self.check_pipeline(Pipe(start.pos, decls, is_assign, cmds), context)
            if tok.kind not in _OPERAND_START:
                self.unexpected(tok, context)
            self.i -= 1
            cmds.append(self.command())

    def check_pipeline(self, pipe: Pipe, context: str) -> Pipe:
        if not pipe.cmds:
            self.error(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], (Literal, Dot, Nil)):
                self.error(f"non executable command in pipeline stage {i + 2}")
        return pipe

    def command(self) -> Command:
        cmd = Command(self.peek_non_space().pos, [])
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.kind == "space":
                continue
            if tok.kind in ("right", "rparen"):
                self.i -= 1
            elif tok.kind != "pipe":
                self.error(f"unexpected {_tok_str(tok)} in operand", tok)
            break
        if not cmd.args:
            self.error("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None or self.peek().kind != "field":
            return node
        pos, fields = self.peek().pos, []
        while self.peek().kind == "field":
            fields.append(self.next().val[1:])
        if isinstance(node, Field):
            return Field(node.pos, node.idents + fields)
        if isinstance(node, Variable):
            return Variable(node.pos, node.idents + fields)
        if isinstance(node, (Literal, Nil, Dot)):
            self.error(f"unexpected . after term {go_quote(str(node))}")
        return Chain(pos, node, fields)

    def term(self) -> Node | None:
        tok = self.next_non_space()
        kind, val, pos = tok
        if kind == "ident":
            self.idents.setdefault(val, pos)
            return Identifier(pos, val)
        if kind == "dot":
            return Dot(pos)
        if kind == "nil":
            return Nil(pos)
        if kind == "var":
            if val not in self.vars:
                self.error(f"undefined variable {go_quote(val)}", tok)
            return Variable(pos, [val])
        if kind == "field":
            return Field(pos, [val[1:]])
        if kind == "bool":
            return Literal(pos, val, val == "true")
        if kind == "number":
            return Literal(pos, val, self.number(tok))
        if kind == "char":
            s = self.unquote(tok)
            if len(s) != 1:
                self.error(f"malformed character constant: {val}", tok)
            return Literal(pos, val, ord(s))
        if kind in ("string", "raw"):
            return Literal(pos, val, self.unquote(tok))
        if kind == "lparen":
            return self.pipeline("parenthesized pipeline", "rparen")
        self.i -= 1
        return None

    def number(self, tok: Token) -> int | float | complex:
        try:
            return _number(tok.val)
        except ValueError:
            self.error(f"illegal number syntax: {go_quote(tok.val)}", tok)

    def unquote(self, tok: Token) -> str:
        try:
            return _unquote(tok.val)
        except ValueError:
            self.error("invalid syntax", tok)


def _number(src: str) -> int | float | complex:
    """A Go number literal as an int (if integral and written so), float or complex."""
    t = src.replace("_", "")
    if t.endswith("i"):
        return complex(0, float(t[:-1]))
    neg, body = t.startswith("-"), t.lstrip("+-")
    try:
        legacy_octal = len(body) > 1 and body[0] == "0" and body[1:].isdigit()
        v = int(body, 8) if legacy_octal else int(body, 0)
        return -v if neg else v
    except ValueError:
        pass
    f = float.fromhex(body) if body[:2].lower() == "0x" else float(body)
    if not math.isfinite(f):
        raise ValueError(src)
    f = -f if neg else f
    if f.is_integer() and not any(c in src for c in ".eEpP"):
        return int(f)
    return f


_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


def _unquote(q: str) -> str:
    """Go's strconv.Unquote for "...", `...` and '...' literals."""
    if q[0] == "`":
        return q[1:-1].replace("\r", "")
    quote, body, out, i = q[0], q[1:-1], bytearray(), 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            if c == quote:
                raise ValueError(q)
            out += c.encode()
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            if e in "'\"" and e != quote:
                raise ValueError(q)
            out += _ESCAPES[e].encode()
            i += 2
        elif e in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2 : i + 2 + size]
            if len(digits) != size or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError(q)
            v = int(digits, 16)
            out += bytes([v]) if e == "x" else chr(v).encode("utf-8", "replace")
            i += 2 + size
        elif e in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits) or int(digits, 8) > 255:
                raise ValueError(q)
            out.append(int(digits, 8))
            i += 4
        else:
            raise ValueError(q)
    return out.decode("utf-8", "replace")


class Template:
    """A parsed template: execute it with a function map and a dot."""

    __slots__ = ("idents", "root", "text")

    def __init__(self, text: str, root: list[Node], idents: Mapping[str, int]):
        self.text, self.root, self.idents = text, root, dict(idents)

    def check_funcs(self, funcs: Mapping[str, Any]) -> None:
        """Go's parse-time check: every called function must be defined."""
        for name, pos in self.idents.items():
            if name not in funcs and name not in BUILTINS:
                line = _line_of(self.text, pos)
                raise InterpolationError(f'template: {NAME}:{line}: function "{name}" not defined')

    def execute(
        self,
        funcs: Mapping[str, Callable[..., Any]],
        data: Any = None,
        *,
        defer_fields: bool = False,
    ) -> str:
        """Run the template; with defer_fields, {{.X}} renders back to itself."""
        self.check_funcs(funcs)
        state = _State(self.text, funcs, _NO_DATA if defer_fields else data)
        state.walk(state.vars[0][1], self.root)
        return "".join(state.out)


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Template:
    """Parse a template (cached by text); raises InterpolationError on syntax errors."""
    p = _Parser(text)
    root = p.parse()
    return Template(text, root, p.idents)


# --------------------------------------------------------------------------------------
# Executor


class _State:
    """Execution state: output, variable stack and the node being evaluated (for errors)."""

    def __init__(self, text: str, funcs: Mapping[str, Callable[..., Any]], data: Any):
        self.text = text
        self.funcs = funcs
        self.out: list[str] = []
        self.vars: list[list[Any]] = [["$", data]]
        self.node: Node | None = None

    def fail(self, msg: str, node: Node | None = None) -> NoReturn:
        raise InterpolationError(self.where(node or self.node) + msg)

    def where(self, node: Node | None) -> str:
        """Go's ErrorContext prefix: template: root:LINE:COL: executing "root" at <node>: ."""
        if node is None:
            return f"template: {NAME}: "
        pos = node.pos
        col = pos - (self.text.rfind("\n", 0, pos) + 1)
        context = str(node)
        if len(context) > 20:
            context = context[:20] + "..."
        line = _line_of(self.text, pos)
        return f'template: {NAME}:{line}:{col}: executing "{NAME}" at <{context}>: '

    def walk(self, dot: Any, nodes: list[Node]) -> None:
        for node in nodes:
            t = type(node)
            if t is Text:
                self.out.append(node.text)  # type: ignore[attr-defined]
            elif t is Action:
                self.walk_action(dot, node)  # type: ignore[arg-type]
            elif node.kind == "range":  # type: ignore[attr-defined]
                self.walk_range(dot, node)  # type: ignore[arg-type]
            else:
                self.walk_if_with(dot, node)  # type: ignore[arg-type]

    def walk_action(self, dot: Any, node: Action) -> None:
        try:
            val = self.eval_pipeline(dot, node.pipe)
        except _Defer:
            self.out.append("{{" + node.src + "}}")
            return
        if not node.pipe.decls:
            self.node = node
            if inspect.isroutine(val):
                self.fail(f"can't print {node.pipe} of type func")
            self.out.append("<no value>" if val is None else format_value(val))

    def eval_deferrable(self, dot: Any, node: Control, decl: bool = True) -> Any:
        val = self.eval_pipeline(dot, node.pipe, decl)
        if isinstance(val, Deferred):
            raise _Defer
        return val

    def walk_if_with(self, dot: Any, node: Control) -> None:
        mark = len(self.vars)
        try:
            val = self.eval_deferrable(dot, node)
        except _Defer:
            del self.vars[mark:]
            self.out.append(node.src)
            return
        if truth(val):
            self.walk(val if node.kind == "with" else dot, node.body)
        elif node.else_body is not None:
            self.walk(dot, node.else_body)
        del self.vars[mark:]

    def walk_range(self, dot: Any, node: Control) -> None:
        mark = len(self.vars)
        try:
            val = self.eval_deferrable(dot, node, decl=False)
        except _Defer:
            del self.vars[mark:]
            self.out.append(node.src)
            return
        self.vars.extend([name, val] for name in node.pipe.decls)
        inner = len(self.vars)
        items = self.range_items(val, node)
        for index, elem in items:
            if node.pipe.decls:
                self.vars[-1][1] = elem
            if len(node.pipe.decls) > 1:
                self.vars[-2][1] = index
            self.walk(elem, node.body)
            del self.vars[inner:]
        if not items and node.else_body is not None:
            self.walk(dot, node.else_body)
        del self.vars[mark:]

    def range_items(self, val: Any, node: Control) -> list[tuple[Any, Any]]:
        if val is None:
            return []
        if isinstance(val, Mapping):
            return [(k, val[k]) for k in _sorted_keys(val)]
        if isinstance(val, (list, tuple)):
            return list(enumerate(val))
        if isinstance(val, int) and not isinstance(val, bool):
            return list(enumerate(range(val)))
        self.fail(f"range can't iterate over {format_value(val)}", node)

    def eval_pipeline(self, dot: Any, pipe: Pipe, decl: bool = True) -> Any:
        val: Any = _MISSING
        for cmd in pipe.cmds:
            val = self.eval_command(dot, cmd, val)
        if decl:
            for name in pipe.decls:
                if pipe.is_assign:
                    self.set_var(name, val, pipe)
                else:
                    self.vars.append([name, val])
        return val

    def set_var(self, name: str, val: Any, node: Node) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = val
                return
        self.fail(f"undefined variable: {name}", node)

    def var_value(self, name: str, node: Node) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return Deferred("{{.}}") if entry[1] is _NO_DATA else entry[1]
        self.fail(f"undefined variable: {name}", node)

    def eval_command(self, dot: Any, cmd: Command, final: Any) -> Any:
        first = cmd.args[0]
        t = type(first)
        if t is Field:
            return self.eval_field_node(dot, first, cmd.args, final)  # type: ignore[arg-type]
        if t is Chain:
            return self.eval_chain(dot, first, cmd.args, final)  # type: ignore[arg-type]
        if t is Identifier:
            return self.eval_function(dot, first, cmd, cmd.args, final)  # type: ignore[arg-type]
        if t is Variable:
            return self.eval_variable(dot, first, cmd.args, final)  # type: ignore[arg-type]
        self.node = first
        self.not_a_function(cmd.args, final)
        if t is Pipe:
            return self.eval_pipeline(dot, first)  # type: ignore[arg-type]
        if t is Dot:
            return self.dot_value(dot)
        if t is Nil:
            self.fail("nil is not a command")
        return first.value  # type: ignore[attr-defined]

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not _MISSING:
            self.fail(f"can't give argument to non-function {_arg_str(args[0])}")

    @staticmethod
    def dot_value(dot: Any) -> Any:
        return Deferred("{{.}}") if dot is _NO_DATA else dot

    def eval_arg(self, dot: Any, node: Node) -> Any:
        self.node = node
        t = type(node)
        if t is Literal:
            return node.value  # type: ignore[attr-defined]
        if t is Dot:
            return self.dot_value(dot)
        if t is Nil:
            return None
        if t is Field:
            return self.eval_field_node(dot, node, [node], _MISSING)  # type: ignore[arg-type]
        if t is Variable:
            return self.eval_variable(dot, node, [node], _MISSING)  # type: ignore[arg-type]
        if t is Pipe:
            return self.eval_pipeline(dot, node)  # type: ignore[arg-type]
        if t is Identifier:
            return self.eval_function(dot, node, node, [node], _MISSING)  # type: ignore[arg-type]
        return self.eval_chain(dot, node, [node], _MISSING)  # type: ignore[arg-type]

    def eval_field_node(self, dot: Any, field: Field, args: list[Node], final: Any) -> Any:
        self.node = field
        return self.eval_field_chain(dot, dot, field, field.idents, args, final)

    def eval_chain(self, dot: Any, chain: Chain, args: list[Node], final: Any) -> Any:
        if isinstance(chain.node, Nil):
            self.fail(f"indirection through explicit nil in {chain}", chain)
        receiver = self.eval_arg(dot, chain.node)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_variable(self, dot: Any, var: Variable, args: list[Node], final: Any) -> Any:
        self.node = var
        val = self.var_value(var.idents[0], var)
        if len(var.idents) == 1:
            self.not_a_function(args, final)
            return val
        return self.eval_field_chain(dot, val, var, var.idents[1:], args, final)

    def eval_field_chain(
        self, dot: Any, receiver: Any, node: Node, idents: list[str], args: list[Node], final: Any
    ) -> Any:
        if receiver is _NO_DATA:
            if len(args) > 1 or final is not _MISSING:
                raise _Defer
            return Deferred("{{" + "".join("." + i for i in idents) + "}}")
        for name in idents[:-1]:
            receiver = self.eval_field(dot, name, node, [], _MISSING, receiver)
        return self.eval_field(dot, idents[-1], node, args[1:], final, receiver)

    def eval_field(
        self, dot: Any, name: str, node: Node, args: list[Node], final: Any, receiver: Any
    ) -> Any:
        self.node = node
        if receiver is None:
            return None
        if isinstance(receiver, Deferred):
            raise _Defer
        has_args = bool(args) or final is not _MISSING
        if isinstance(receiver, Mapping):
            if has_args:
                self.fail(f"{name} is not a method but has arguments")
            return receiver.get(name)
        bad = f"can't evaluate field {name} in type {type_name(receiver)}"
        if name.startswith("_") or isinstance(receiver, (str, int, float, complex, list, tuple)):
            self.fail(bad)
        try:
            attr = getattr(receiver, name)
        except AttributeError:
            self.fail(bad)
        if inspect.ismethod(attr) or inspect.isbuiltin(attr):
            return self.eval_call(dot, attr, node, name, args, final)
        if has_args:
            self.fail(f"{name} has arguments but cannot be invoked as function")
        return attr

    def eval_function(
        self, dot: Any, ident: Identifier, node: Node, args: list[Node], final: Any
    ) -> Any:
        self.node = ident
        name = ident.name
        if name in ("and", "or"):
            return self.eval_logic(dot, name, node, args[1:], final)
        fn = self.funcs.get(name) or BUILTINS.get(name)
        if fn is None:
            self.fail(f'"{name}" is not a defined function')
        return self.eval_call(dot, fn, node, name, args[1:], final)

    def eval_logic(self, dot: Any, name: str, node: Node, args: list[Node], final: Any) -> Any:
        """and/or with Go 1.18 short-circuit semantics."""
        if not args and final is _MISSING:
            self.fail(f"wrong number of args for {name}: want at least 1 got 0", node)
        val: Any = None
        for i in range(len(args) + (final is not _MISSING)):
            val = self.eval_arg(dot, args[i]) if i < len(args) else final
            if isinstance(val, Deferred):
                raise _Defer
            if truth(val) != (name == "and"):
                return val
        return val

    def eval_call(
        self, dot: Any, fn: Callable[..., Any], node: Node, name: str, args: list[Node], final: Any
    ) -> Any:
        argv = [self.eval_arg(dot, a) for a in args]
        if final is not _MISSING:
            argv.append(final)
        if any(isinstance(a, Deferred) or a is _NO_DATA for a in argv):
            raise _Defer
        self.node = node
        try:
            return fn(*argv)
        except _Defer:
            raise
        except ArgTypeError as exc:
            self.fail(exc.message)
        except InterpolationError as exc:
            exc.message = self.where(node) + f"error calling {name}: {exc.message}"
            exc.args = (exc.render(),)
            raise
        except TypeError as exc:
            arity = _arity_error(fn, name, len(argv))
            self.fail(arity or f"error calling {name}: {exc}")
        except Exception as exc:  # noqa: BLE001 - Go's safeCall turns panics into errors
            self.fail(f"error calling {name}: {exc}")


def _arity_error(fn: Callable[..., Any], name: str, n: int) -> str | None:
    """Go's 'wrong number of args' message if n arguments cannot bind to fn."""
    try:
        sig = inspect.signature(fn)
        sig.bind(*range(n))
        return None
    except ValueError:
        return None
    except TypeError:
        pass
    params = sig.parameters.values()
    pos = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    lo = sum(1 for p in pos if p.default is p.empty)
    variadic = any(p.kind == p.VAR_POSITIONAL for p in params)
    if not variadic and lo == len(pos):
        return f"wrong number of args for {name}: want {lo} got {n}"
    if n < lo:
        return f"wrong number of args for {name}: want at least {lo} got {n}"
    return f"wrong number of args for {name}: want at most {len(pos)} got {n}"


def _sorted_keys(m: Mapping[Any, Any]) -> list[Any]:
    try:
        return sorted(m)
    except TypeError:
        return sorted(m, key=lambda k: (type_name(k), str(k)))


# --------------------------------------------------------------------------------------
# Values, Go's fmt, and the builtin functions


def truth(v: Any) -> bool:
    """Go template truthiness: empty string, zero, nil and empty collections are false."""
    if v is None:
        return False
    if isinstance(v, (bool, int, float, complex)):
        return v != 0
    if isinstance(v, (str, bytes, list, tuple, Mapping, set, frozenset)):
        return len(v) > 0
    return True


def type_name(v: Any) -> str:
    """The Go type name a template author would see in an error."""
    if v is None:
        return "<nil>"
    for typ, name in (
        (bool, "bool"),
        (int, "int"),
        (float, "float64"),
        (complex, "complex128"),
        (str, "string"),
        (bytes, "[]uint8"),
        ((list, tuple), "[]interface {}"),
        (Mapping, "map[string]interface {}"),
    ):
        if isinstance(v, typ):
            return name
    return "func" if inspect.isroutine(v) else type(v).__name__


def want_str(v: Any) -> str:
    """Check a function argument is a string, as Go's reflection would."""
    if not isinstance(v, str):
        raise ArgTypeError("string", v)
    return v


def want_int(v: Any) -> int:
    """Check a function argument is an int, as Go's reflection would."""
    if not isinstance(v, int) or isinstance(v, bool):
        raise ArgTypeError("int", v)
    return v


def _go_float(f: float, upper: bool = False) -> str:
    """Go's %v/%g for float64: shortest digits, exponent form below 1e-4 or from 1e6 up."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    if f == 0:
        return sign + "0"
    _, digit_tuple, exp = Decimal(repr(abs(f))).as_tuple()
    digits = "".join(map(str, digit_tuple))
    dp = len(digits) + int(exp)
    digits = digits.rstrip("0")
    x = dp - 1
    if x < -4 or x >= 6:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{m}{'E' if upper else 'e'}{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def format_value(v: Any) -> str:
    """Go's fmt %v for a template value (lists as [a b], maps as map[k:v])."""
    if isinstance(v, str):
        return v
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, complex):
        im = _go_float(v.imag)
        return f"({_go_float(v.real)}{'' if im[0] in '+-' else '+'}{im}i)"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(format_value(e) for e in v) + "]"
    if isinstance(v, bytes):
        return "[" + " ".join(str(b) for b in v) + "]"
    if isinstance(v, Mapping):
        return (
            "map["
            + " ".join(f"{format_value(k)}:{format_value(v[k])}" for k in _sorted_keys(v))
            + "]"
        )
    return str(v)


def go_quote(s: str, quote: str = '"', ascii_only: bool = False) -> str:
    """Go's strconv.Quote (or QuoteRune with quote="'")."""
    out = [quote]
    named = {"\a": "a", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", "\v": "v"}
    for ch in s:
        o = ord(ch)
        if ch == quote or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable() and not (ascii_only and o >= 0x80):
            out.append(ch)
        elif ch in named:
            out.append("\\" + named[ch])
        elif o < 0x80:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append(quote)
    return "".join(out)


def go_sprint(*args: Any) -> str:
    """Go's fmt.Sprint: spaces between operands when neither is a string."""
    out: list[str] = []
    prev_str = False
    for i, a in enumerate(args):
        is_str = isinstance(a, str)
        if i and not is_str and not prev_str:
            out.append(" ")
        out.append(format_value(a))
        prev_str = is_str
    return "".join(out)


def _go_sprintln(*args: Any) -> str:
    return " ".join(format_value(a) for a in args) + "\n"


def _pad(s: str, width: int | None, flags: str, zero_ok: bool = True) -> str:
    if width is None or len(s) >= width:
        return s
    if "-" in flags:
        return s.ljust(width)
    return s.rjust(width, "0" if "0" in flags and zero_ok else " ")


def _bad_verb(verb: str, arg: Any) -> str:
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({type_name(arg)}={format_value(arg)})"


def _fmt_int(v: int, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    if verb == "c":
        return _pad(chr(v) if 0 <= v < 0x110000 else "\ufffd", width, flags, False)
    if verb == "q":
        return _pad(go_quote(chr(v), "'", "+" in flags), width, flags, False)
    if verb == "U":
        s = f"U+{v:04X}" + (f" '{chr(v)}'" if "#" in flags else "")
        return _pad(s, width, flags, False)
    spec = {"d": "d", "v": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}[verb]
    digits = format(abs(v), spec)
    if prec is not None:
        digits = "" if prec == 0 and v == 0 else digits.zfill(prec)
    prefix = "0o" if verb == "O" else ""
    if "#" in flags:
        prefix = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}.get(verb, prefix)
        if verb == "o" and digits.startswith("0"):
            prefix = ""
    sign = "-" if v < 0 else "+" if "+" in flags else " " if " " in flags else ""
    if width is not None and "0" in flags and "-" not in flags and prec is None:
        digits = digits.zfill(width - len(sign) - len(prefix))
    return _pad(sign + prefix + digits, width, flags, False)


def _fmt_float(v: float, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    if not math.isfinite(v):
        body = _go_float(v)
    elif verb in "vgG" and prec is None:
        body = _go_float(v, verb == "G")
    elif verb in "xX":
        mant, _, exp = abs(v).hex().partition("p")
        mant = mant.rstrip("0").rstrip(".")
        e = int(exp)
        body = ("-" if v < 0 else "") + f"{mant}p{'-' if e < 0 else '+'}{abs(e):02d}"
        body = body.upper() if verb == "X" else body
    else:
        body = format(v, f".{6 if prec is None else prec}{'f' if verb == 'F' else verb}")
    if body[0] not in "+-" and ("+" in flags or " " in flags):
        body = ("+" if "+" in flags else " ") + body
    if width is not None and "0" in flags and "-" not in flags and math.isfinite(v):
        s = body[0] if body[0] in "+- " else ""
        body = s + body[len(s) :].zfill(width - len(s))
    return _pad(body, width, flags, False)


def _fmt_str(v: str, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    if verb in "sv":
        return _pad(v if prec is None else v[:prec], width, flags)
    if verb == "q":
        if "#" in flags and "`" not in v and all(c.isprintable() or c == "\t" for c in v):
            return _pad(f"`{v}`", width, flags)
        return _pad(go_quote(v, ascii_only="+" in flags), width, flags)
    data = v.encode()
    if prec is not None:
        data = data[:prec]
    fmt = "{:02x}" if verb == "x" else "{:02X}"
    parts = [fmt.format(b) for b in data]
    pre = ("0x" if verb == "x" else "0X") if "#" in flags else ""
    s = " ".join(pre + p for p in parts) if " " in flags else pre + "".join(parts)
    return _pad(s, width, flags)


def _fmt_one(verb: str, arg: Any, flags: str, width: int | None, prec: int | None) -> str:
    """Format one printf operand the way Go's fmt would."""
    if verb == "T":
        return _pad(type_name(arg), width, flags)
    if verb == "v" and "#" in flags:
        return _pad(go_quote(arg) if isinstance(arg, str) else format_value(arg), width, flags)
    if arg is None:
        return _pad("<nil>", width, flags) if verb == "v" else _bad_verb(verb, arg)
    if isinstance(arg, bool):
        if verb in "tv":
            return _pad("true" if arg else "false", width, flags)
    elif isinstance(arg, int):
        if verb in "bcdoOqxXUv":
            return _fmt_int(arg, verb, flags, width, prec)
    elif isinstance(arg, float):
        if verb in "eEfFgGxXv":
            return _fmt_float(arg, verb, flags, width, prec)
    elif isinstance(arg, str):
        if verb in "svqxX":
            return _fmt_str(arg, verb, flags, width, prec)
    elif isinstance(arg, (list, tuple)):
        return "[" + " ".join(_fmt_one(verb, e, flags, width, prec) for e in arg) + "]"
    elif isinstance(arg, Mapping):
        items = (
            f"{_fmt_one(verb, k, flags, width, prec)}:{_fmt_one(verb, arg[k], flags, width, prec)}"
            for k in _sorted_keys(arg)
        )
        return "map[" + " ".join(items) + "]"
    elif verb in "sv":
        return _pad(format_value(arg), width, flags)
    return _bad_verb(verb, arg)


def go_sprintf(fmt: str, *args: Any) -> str:
    """Go's fmt.Sprintf: the common verbs, flags, width, precision and %[n] indexes."""
    out: list[str] = []
    n, i, argi, reordered = len(fmt), 0, 0, False

    def index(i: int) -> int:
        nonlocal argi, reordered
        if i < n and fmt[i] == "[":
            j = fmt.find("]", i)
            if j > i and fmt[i + 1 : j].isdigit():
                argi, reordered = int(fmt[i + 1 : j]) - 1, True
                return j + 1
        return i

    def number(i: int) -> tuple[int | None, int]:
        nonlocal argi
        if i < n and fmt[i] == "*":
            if argi < len(args) and isinstance(args[argi], int):
                argi += 1
                return int(args[argi - 1]), i + 1
            argi += 1
            return None, i + 1
        j = i
        while j < n and fmt[j].isdigit():
            j += 1
        return (int(fmt[i:j]) if j > i else None), j

    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i, flags = j + 1, ""
        while i < n and fmt[i] in "+-# 0":
            flags += fmt[i]
            i += 1
        width, i = number(index(i))
        prec = None
        if i < n and fmt[i] == ".":
            prec, i = number(index(i + 1))
            prec = prec or 0
        i = index(i)
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
        elif argi >= len(args) or argi < 0:
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_fmt_one(verb, args[argi], flags, width, prec))
            argi += 1
    if not reordered and argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{type_name(a)}={format_value(a)}" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _eval_args(args: Sequence[Any]) -> str:
    return args[0] if len(args) == 1 and isinstance(args[0], str) else go_sprint(*args)


def _html(*args: Any) -> str:
    s = _eval_args(args)
    table = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\0": "\ufffd"}
    return "".join(table.get(c, c) for c in s)


def _js(*args: Any) -> str:
    s = _eval_args(args)
    table = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\x3C", ">": "\\x3E"}
    out = []
    for c in s:
        if c in table:
            out.append(table[c])
        elif c < " ":
            out.append(f"\\u00{ord(c):02X}")
        elif ord(c) >= 0x80 and not c.isprintable():
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_eval_args(args), safe="")


def _not(v: Any) -> bool:
    return not truth(v)


def _len(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode())
    if isinstance(v, (bytes, list, tuple, Mapping, set, frozenset)):
        return len(v)
    raise ValueError("len of nil pointer" if v is None else f"len of type {type_name(v)}")


def _index_seq(v: Any, ix: Any, cap: int | None = None) -> int:
    if not isinstance(ix, int) or isinstance(ix, bool):
        raise ValueError(f"cannot index slice/array with type {type_name(ix)}")
    if ix < 0 or ix > (len(v) - 1 if cap is None else cap):
        raise ValueError(f"index out of range: {ix}")
    return ix


def _index(item: Any, *indexes: Any) -> Any:
    v = item
    for ix in indexes:
        if v is None:
            raise ValueError("index of untyped nil")
        if isinstance(v, str):
            v = v.encode()[_index_seq(v.encode(), ix)]
        elif isinstance(v, (list, tuple, bytes)):
            v = v[_index_seq(v, ix)]
        elif isinstance(v, Mapping):
            v = v.get(ix)
        else:
            raise ValueError(f"can't index item of type {type_name(v)}")
    return v


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise ValueError("slice of untyped nil")
    if len(indexes) > 3:
        raise ValueError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise ValueError("cannot 3-index slice a string")
        return _slice(item.encode(), *indexes).decode("utf-8", "replace")
    if not isinstance(item, (bytes, list, tuple)):
        raise ValueError(f"can't slice item of type {type_name(item)}")
    idx = [_index_seq(item, ix, len(item)) for ix in indexes]
    for a, b in zip(idx, idx[1:], strict=False):
        if a > b:
            raise ValueError(f"invalid slice index: {a} > {b}")
    return item[idx[0] if idx else 0 : idx[1] if len(idx) > 1 else len(item)]


def _kind(v: Any) -> str | None:
    for typ, kind in (
        (bool, "bool"),
        (int, "int"),
        (float, "float"),
        (complex, "complex"),
        (str, "string"),
    ):
        if isinstance(v, typ):
            return kind
    return None


def _eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise ValueError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in args:
        k2 = _kind(arg)
        if arg1 is None or arg is None:
            if arg1 is arg:
                return True
            continue
        if k1 is None or k2 is None:
            raise ValueError("invalid type for comparison")
        if k1 != k2:
            raise ValueError("incompatible types for comparison")
        if arg1 == arg:
            return True
    return False


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _lt(a: Any, b: Any) -> bool:
    k1, k2 = _kind(a), _kind(b)
    if k1 in (None, "bool", "complex") or k2 in (None, "bool", "complex"):
        raise ValueError("invalid type for comparison")
    if k1 != k2:
        raise ValueError("incompatible types for comparison")
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not _lt(a, b)


def _call(fn: Any, *args: Any) -> Any:
    if fn is None:
        raise ValueError("call of nil")
    if not callable(fn):
        raise ValueError(f"non-function of type {type_name(fn)}")
    return fn(*args)


def _short_circuit(*args: Any) -> Any:
    raise AssertionError("and/or are evaluated by the executor")


BUILTINS: dict[str, Callable[..., Any]] = {
    "and": _short_circuit,
    "or": _short_circuit,
    "not": _not,
    "len": _len,
    "index": _index,
    "slice": _slice,
    "eq": _eq,
    "ne": _ne,
    "lt": _lt,
    "le": _le,
    "gt": _gt,
    "ge": _ge,
    "print": go_sprint,
    "printf": go_sprintf,
    "println": _go_sprintln,
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
    "call": _call,
}
