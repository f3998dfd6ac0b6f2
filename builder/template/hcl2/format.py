"""`pybuild fmt`: HCL2 source in Packer's canonical layout (hclwrite.Format of Packer 1.6.6).

As hclwrite does, this works on tokens, not on a syntax tree: the text is scanned with HCL's
token rules (`scan_tokens.rl`), then only the spaces between tokens change: indentation by
bracket nesting, one space between most tokens, none inside templates, and the `=` of
consecutive attributes and their trailing comments aligned in columns.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# token types, named as hclsyntax's
(
    OBRACE,
    CBRACE,
    OBRACK,
    CBRACK,
    OPAREN,
    CPAREN,
    OQUOTE,
    CQUOTE,
    OHEREDOC,
    CHEREDOC,
    INTERP,
    CONTROL,
    SEQEND,
    QUOTED_LIT,
    STRING_LIT,
    NUMBER,
    IDENT,
    COMMENT,
    NEWLINE,
    EQUAL,
    DOT,
    COMMA,
    ELLIPSIS,
    MINUS,
    PLUS,
    STAR,
    SLASH,
    PERCENT,
    COMPARE,
    AND_OR,
    BANG,
    QUESTION,
    COLON,
    OTHER,
    EOF,
) = range(35)

_SINGLE = {
    "[": OBRACK,
    "]": CBRACK,
    "(": OPAREN,
    ")": CPAREN,
    ".": DOT,
    ",": COMMA,
    "*": STAR,
    "/": SLASH,
    "%": PERCENT,
    "+": PLUS,
    "-": MINUS,
    "=": EQUAL,
    "<": COMPARE,
    ">": COMPARE,
    "!": BANG,
    "?": QUESTION,
    ":": COLON,
}
_MULTI = {
    "==": COMPARE,
    "!=": COMPARE,
    ">=": COMPARE,
    "<=": COMPARE,
    "&&": AND_OR,
    "||": AND_OR,
    "...": ELLIPSIS,
    "=>": OTHER,
}
_NUMBER = re.compile(r"\d(?:\d|\.|[eE][+-]?\d)*")
_IDENT = re.compile(r"[^\W\d]|_", re.UNICODE)
_IDENT_REST = re.compile(r"[\w-]*", re.UNICODE)
_HEREDOC = re.compile(r"<<-?([^\W\d][\w-]*)\r?\n", re.UNICODE)
_QUOTED_LIT = re.compile(r'(?:\\[^\r\n]|[^$%"\\\r\n])+')
_HEREDOC_LIT = re.compile(r"[^$%\r\n]*")


@dataclass
class Token:
    type: int
    text: str
    spaces: int = 0  # spaces before the token


def _bracket_change(t: Token) -> int:
    if t.type in (OBRACE, OBRACK, OPAREN, INTERP, CONTROL):
        return 1
    if t.type in (CBRACE, CBRACK, CPAREN, SEQEND):
        return -1
    return 0


def lex(src: str) -> list[Token]:
    """HCL's tokens of a config file (scan errors become OTHER tokens, as hclwrite ignores them)."""
    src = src.removeprefix("\ufeff")
    out: list[Token] = []
    pos, n = 0, len(src)
    last_end = 0
    modes: list[str] = ["main"]  # main | string | heredoc
    heredocs: list[list[object]] = []  # [marker, start_of_line]
    braces = 0
    ret_braces: list[int] = []

    def emit(ttype: int, start: int, end: int) -> None:
        nonlocal last_end
        out.append(Token(ttype, src[start:end], start - last_end))
        last_end = end

    def template_open(ttype: int, length: int) -> None:
        nonlocal braces, pos
        emit(ttype, pos, pos + length)
        pos += length
        braces += 1
        ret_braces.append(braces)
        if heredocs:
            heredocs[-1][1] = False
        modes.append("main")

    def interp_at(i: int) -> int:
        """Length of `${`/`%{` (with `~`) at i, or 0."""
        if src.startswith(("${", "%{"), i):
            return 3 if src.startswith("~", i + 2) else 2
        return 0

    def escape_at(i: int) -> int:
        """Length of `$${` / `%%{` (an escaped introducer) or a lone `$`/`%` at i."""
        ch = src[i]
        if src.startswith(ch + ch + "{", i):
            return 4 if src.startswith("~", i + 3) else 3
        return 1

    while pos < n:
        mode = modes[-1]
        ch = src[pos]
        if mode == "string":
            k = interp_at(pos)
            if k:
                template_open(INTERP if ch == "$" else CONTROL, k)
            elif ch == '"':
                emit(CQUOTE, pos, pos + 1)
                pos += 1
                modes.pop()
            elif ch in "$%":
                k = escape_at(pos)
                emit(QUOTED_LIT, pos, pos + k)
                pos += k
            elif ch in "\r\n":
                m = re.compile(r"[\r\n]+").match(src, pos)
                assert m
                emit(OTHER, pos, m.end())
                pos = m.end()
            else:
                m = _QUOTED_LIT.match(src, pos)
                end = m.end() if m and m.end() > pos else pos + 1
                emit(QUOTED_LIT if m and m.end() > pos else OTHER, pos, end)
                pos = end
            continue
        if mode == "heredoc":
            k = interp_at(pos)
            if k:
                template_open(INTERP if ch == "$" else CONTROL, k)
                continue
            if ch in "$%":
                end = pos + escape_at(pos)
            else:
                m = _HEREDOC_LIT.match(src, pos)
                end = m.end() if m else pos
            nl = re.compile(r"\r?\n").match(src, end)
            doc = heredocs[-1]
            if nl:
                line = src[pos : nl.end()]
                if doc[1] and line.strip() == doc[0]:
                    emit(CHEREDOC, pos, nl.start())
                    emit(NEWLINE, nl.start(), nl.end())
                    pos = nl.end()
                    heredocs.pop()
                    modes.pop()
                    continue
                doc[1] = True
                emit(STRING_LIT, pos, nl.end())
                pos = nl.end()
            else:
                if end == pos:  # a lone \r, or the end of the input
                    end = pos + 1
                doc[1] = False
                emit(STRING_LIT, pos, end)
                pos = end
            continue
        # main
        if ch in " \t":
            pos += 1
            continue
        if ch.isdigit():
            m = _NUMBER.match(src, pos)
            assert m
            end = m.end()
            while src[end - 1] == ".":
                end -= 1
            emit(NUMBER, pos, end)
            pos = end
            continue
        if _IDENT.match(ch):
            m = _IDENT_REST.match(src, pos + 1)
            end = m.end() if m else pos + 1
            emit(IDENT, pos, end)
            pos = end
            continue
        if ch == "#" or src.startswith("//", pos):
            eol = src.find("\n", pos)
            end = n if eol < 0 else eol + 1
            emit(COMMENT, pos, end)
            pos = end
            continue
        if src.startswith("/*", pos):
            close = src.find("*/", pos + 2)
            end = n if close < 0 else close + 2
            emit(COMMENT, pos, end)
            pos = end
            continue
        if ch == "\n" or src.startswith("\r\n", pos):
            k = 1 if ch == "\n" else 2
            emit(NEWLINE, pos, pos + k)
            pos += k
            continue
        if src.startswith("<<", pos):
            m = _HEREDOC.match(src, pos)
            if m:
                emit(OHEREDOC, pos, m.end())
                pos = m.end()
                heredocs.append([m.group(1), True])
                modes.append("heredoc")
                continue
        three, two = src[pos : pos + 3], src[pos : pos + 2]
        if three in _MULTI:
            emit(_MULTI[three], pos, pos + 3)
            pos += 3
            continue
        if two in _MULTI:
            emit(_MULTI[two], pos, pos + 2)
            pos += 2
            continue
        if ch == "{":
            emit(OBRACE, pos, pos + 1)
            pos += 1
            braces += 1
            continue
        if ch == "}" or two == "~}":
            k = 2 if two == "~}" else 1
            if ret_braces and ret_braces[-1] == braces:
                emit(SEQEND, pos, pos + k)
                ret_braces.pop()
                modes.pop()
            else:
                emit(SEQEND if k == 2 else CBRACE, pos, pos + k)
            braces -= 1
            pos += k
            continue
        if ch == '"':
            emit(OQUOTE, pos, pos + 1)
            pos += 1
            modes.append("string")
            continue
        emit(_SINGLE.get(ch, OTHER), pos, pos + 1)
        pos += 1
    out.append(Token(EOF, "", n - last_end))
    return out


# --------------------------------------------------------------------------- format
@dataclass
class _Line:
    lead: list[Token]
    assign: list[Token] | None = None
    comment: list[Token] | None = None


_NIL = Token(OTHER, "")


def _is_newline(t: Token) -> bool:
    return t.type == NEWLINE or (t.type == COMMENT and t.text.endswith("\n"))


def _columns(tokens: list[Token]) -> int:
    total = 0
    for t in tokens:
        total += t.spaces
        total += sum(1 for c in t.text if not unicodedata.combining(c))
    return total


def _lines(tokens: list[Token]) -> list[_Line]:
    lines: list[_Line] = []
    start = 0
    for i, t in enumerate(tokens):
        if t.type == EOF:
            lines.append(_Line(tokens[start:i]))
            start = -1
            break
        if _is_newline(t):
            lines.append(_Line(tokens[start : i + 1]))
            start = i + 1
    if start >= 0 and start < len(tokens):
        lines.append(_Line([t for t in tokens[start:] if t.type != EOF]))
    for line in lines:
        lead = line.lead
        if not lead:
            continue
        if len(lead) > 1 and lead[-1].type == COMMENT:
            line.comment, lead = lead[-1:], lead[:-1]
            line.lead = lead
        for i, t in enumerate(lead):
            if i > 0 and t.type == EQUAL:
                if sum(_bracket_change(x) for x in lead[i:]) == 0:
                    line.assign, line.lead = lead[i:], lead[:i]
                break
    return lines


def _indent(lines: list[_Line]) -> None:
    indents: list[int] = []
    for line in lines:
        if not line.lead:
            continue
        first = line.lead[0]
        if first.type == NEWLINE:
            first.spaces = 0
            continue
        net = 0
        for t in line.lead:
            net += _bracket_change(t)
            if t.type == OHEREDOC:
                break
        for t in line.assign or []:
            net += _bracket_change(t)
        if net > 0:
            first.spaces = 2 * len(indents)
            indents.append(net)
            continue
        closed = -net
        while closed > 0 and indents:
            if closed > indents[-1]:
                closed -= indents.pop()
            elif closed < indents[-1]:
                indents[-1] -= closed
                closed = 0
            else:
                indents.pop()
                closed = 0
        first.spaces = 2 * len(indents)


def _space_after(subject: Token, before: Token, after: Token) -> bool:  # noqa: C901, PLR0911
    """hclwrite's spaceAfterToken, rule for rule."""
    st, at = subject.type, after.type
    if at in (NEWLINE,) or after is _NIL:
        return False
    if st == IDENT and at == OPAREN:
        return False
    if st == DOT or at == DOT:
        return False
    if at in (COMMA, ELLIPSIS):
        return False
    if st == COMMA:
        return True
    if st in (QUOTED_LIT, STRING_LIT, OQUOTE, OHEREDOC) or at in (
        QUOTED_LIT,
        STRING_LIT,
        CQUOTE,
        CHEREDOC,
    ):
        return False
    if st == IDENT and subject.text == "in" and before.type == IDENT:
        return True
    if at == OBRACK and (st in (IDENT, NUMBER) or _bracket_change(subject) < 0):
        return False
    if st == MINUS:
        if before is _NIL:
            return False
        return before.type not in (
            OPAREN,
            OBRACE,
            OBRACK,
            EQUAL,
            COLON,
            COMMA,
            QUESTION,
            PLUS,
            STAR,
            SLASH,
            PERCENT,
            MINUS,
            COMPARE,
            AND_OR,
            BANG,
        )
    if st == OBRACE or at == CBRACE:
        return not (st == OBRACE and at == CBRACE)
    if st in (INTERP, CONTROL) and at == OBRACE:
        return True
    if st == CBRACE and at == SEQEND:
        return True
    if st == SEQEND and at in (INTERP, CONTROL):
        return False
    if _bracket_change(subject) > 0:
        return False
    return _bracket_change(after) >= 0


def _spaces(lines: list[_Line]) -> None:
    for line in lines:
        for cell, is_assign in ((line.lead, False), (line.assign or [], True)):
            for i, t in enumerate(cell):
                if i == 0 and is_assign:
                    t.spaces = 1
                before = cell[i - 1] if i > 0 else _NIL
                after = cell[i + 1] if i + 1 < len(cell) else _NIL
                if after is not _NIL:
                    after.spaces = 1 if _space_after(t, before, after) else 0


def _align(lines: list[_Line], cell: str) -> None:
    """Line up the first token of `cell` (assign or comment) over runs of lines that have one."""
    chain: list[_Line] = []

    def width(ln: _Line) -> int:
        w = _columns(ln.lead)
        return w + _columns(ln.assign or []) if cell == "comment" else w

    def close() -> None:
        widest = max(width(ln) for ln in chain)
        for ln in chain:
            getattr(ln, cell)[0].spaces = widest - width(ln) + 1
        chain.clear()

    for ln in lines:
        if getattr(ln, cell) is None:
            if chain:
                close()
        else:
            chain.append(ln)
    if chain:
        close()


def format_source(src: str) -> str:
    """The text in canonical layout (hclwrite.Format): only whitespace between tokens changes."""
    tokens = lex(src)
    lines = _lines(tokens)
    _indent(lines)
    _spaces(lines)
    _align(lines, "assign")
    _align(lines, "comment")
    return "".join(" " * t.spaces + t.text for t in tokens)


FORMAT_SUFFIXES = (".pkr.hcl", ".pkrvars.hcl")


@dataclass
class Formatted:
    """One file whose layout is not canonical: its text before and after."""

    path: str
    before: str
    after: str

    def diff(self) -> str:
        """A unified diff, labelled old/PATH and new/PATH as `diff -u` prints it for Packer."""
        import difflib

        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            f"old/{self.path}",
            f"new/{self.path}",
        )
        return "".join(
            x if x.endswith("\n") else x + "\n\\ No newline at end of file\n" for x in lines
        )


def format_files(path: str, *, write: bool) -> list[Formatted]:
    """Every *.pkr.hcl and *.pkrvars.hcl file of `path` (a file or a directory, not its
    subdirectories) whose layout changes, rewritten in place when `write`.

    A file that does not parse is an error (TemplateError, with its location), as in Packer:
    nothing is rewritten from a guess.
    """
    import os

    from builder.errors import ConfigErrors, Location, TemplateError
    from builder.template.hcl2 import syntax

    if os.path.isdir(path):
        files = sorted(
            os.path.join(path, f) for f in os.listdir(path) if f.endswith(FORMAT_SUFFIXES)
        )
        files = [f for f in files if os.path.isfile(f)]
    elif os.path.isfile(path) and path.endswith(FORMAT_SUFFIXES):
        files = [path]
    elif not os.path.exists(path):
        raise TemplateError(f"no such file or directory: {path}")
    else:
        files = []
    if not files:
        raise TemplateError(f"Cannot tell whether {path} contains HCL2 configuration data")
    changed: list[Formatted] = []
    errors: list[TemplateError] = []
    for f in files:
        try:
            with open(f, encoding="utf-8", newline="") as fh:
                before = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(TemplateError(f"failed to read {f}: {exc}", Location(f)))
            continue
        try:
            syntax.parse_file(before, f)
        except TemplateError as exc:
            errors.append(exc)
            continue
        after = format_source(before)
        if after != before:
            changed.append(Formatted(f, before, after))
    if errors:
        raise ConfigErrors(errors)
    if write:
        for c in changed:
            with open(c.path, "w", encoding="utf-8", newline="") as fh:
                fh.write(c.after)
    return changed


__all__ = ["FORMAT_SUFFIXES", "Formatted", "Token", "format_files", "format_source", "lex"]
