"""The template parser: Go's text/template/parse, recursive descent over the tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from builder.template.gotemplate.lexer import Token, lex, tok_str
from builder.template.gotemplate.nodes import (
    Action,
    Chain,
    Command,
    Control,
    Dot,
    Field,
    Identifier,
    Literal,
    Nil,
    Node,
    Pipe,
    Text,
    Variable,
    template_error,
)
from builder.template.gotemplate.strconv import go_quote, parse_number, unquote

MAX_NESTING = 100
"""Deepest nesting of parentheses and {{if}}/{{with}}/{{range}} blocks (Go: 10000 parens)."""

_OPERAND_START = frozenset(
    {"bool", "char", "dot", "field", "ident", "number", "nil", "raw", "string", "var", "lparen"}
)


@dataclass(slots=True, eq=False)
class _End(Node):
    end: int

    def __str__(self) -> str:
        return "{{end}}"


@dataclass(slots=True, eq=False)
class _Else(Node):
    def __str__(self) -> str:
        return "{{else}}"


class Parser:
    """Go's text/template/parse, recursive descent over the token list."""

    def __init__(self, text: str):
        self.text = text
        self.toks = lex(text)
        self.i = 0
        self.vars = ["$"]
        self.idents: dict[str, int] = {}
        self.depth = 0  # open parentheses and control structures

    def nest(self, tok: Token) -> None:
        """Enter a parenthesis or a control structure; leave with `self.depth -= 1`."""
        if self.depth >= MAX_NESTING:
            self.error(
                f"nested too deeply: more than {MAX_NESTING} levels of parentheses and "
                "{{if}}/{{with}}/{{range}} (each {{else if}} is a level too)",
                tok,
            )
        self.depth += 1

    def error(self, msg: str, tok: Token | None = None) -> NoReturn:
        pos = (tok or self.toks[min(self.i, len(self.toks)) - 1]).pos
        raise template_error(self.text, pos, msg)

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
        self.error(f"unexpected {tok_str(tok)} in {context}", tok)

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
        self.nest(kw)
        try:
            return self.control_body(kw, start, prefix)
        finally:
            self.depth -= 1

    def control_body(self, kw: Token, start: int, prefix: str) -> Control:
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
                self.error(f"unexpected {tok_str(tok)} in operand", tok)
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
        if isinstance(node, (Field, Variable)):
            return type(node)(node.pos, node.idents + fields)
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
            self.nest(tok)
            try:
                return self.pipeline("parenthesized pipeline", "rparen")
            finally:
                self.depth -= 1
        self.i -= 1
        return None

    def number(self, tok: Token) -> int | float | complex:
        try:
            return parse_number(tok.val)
        except ValueError:
            self.error(f"illegal number syntax: {go_quote(tok.val)}", tok)

    def unquote(self, tok: Token) -> str:
        try:
            return unquote(tok.val)
        except ValueError:
            self.error("invalid syntax", tok)
