"""Go's strconv for template literals: quoting, unquoting and number literals."""

from __future__ import annotations

import math

# Go's single-character escapes, by the letter after the backslash.
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
_ESCAPE_LETTERS = {char: letter for letter, char in _ESCAPES.items()}


def go_quote(s: str, quote: str = '"', ascii_only: bool = False) -> str:
    """Go's strconv.Quote (or QuoteRune with quote="'")."""
    out = [quote]
    for ch in s:
        o = ord(ch)
        if ch == quote or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable() and not (ascii_only and o >= 0x80):
            out.append(ch)
        elif ch in _ESCAPE_LETTERS:
            out.append("\\" + _ESCAPE_LETTERS[ch])
        elif o < 0x80:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append(quote)
    return "".join(out)


def unquote(q: str) -> str:
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


def parse_number(src: str) -> int | float | complex:
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
