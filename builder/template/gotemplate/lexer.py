"""The template lexer: text, delimiters and the tokens of each action."""

from __future__ import annotations

from typing import NamedTuple

from builder.template.gotemplate.strconv import go_quote

_SPACE = " \t\r\n"
_KEYWORDS = frozenset({"block", "define", "else", "end", "if", "range", "template", "with"})
_TERMINATORS = frozenset(" \t\r\n.,|:()=}")


class Token(NamedTuple):
    """One lexical item: kind, source text and offset."""

    kind: str
    val: str
    pos: int


def tok_str(tok: Token) -> str:
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


def lex(text: str) -> list[Token]:
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
