"""Go's fmt for template values: %v printing, Sprint, Sprintln and Sprintf's verbs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from builder.template.gotemplate.strconv import go_quote
from builder.template.gotemplate.values import sorted_keys, type_name


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
            + " ".join(f"{format_value(k)}:{format_value(v[k])}" for k in sorted_keys(v))
            + "]"
        )
    return str(v)


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


def go_sprintln(*args: Any) -> str:
    return " ".join(format_value(a) for a in args) + "\n"


def _pad(s: str, width: int | None, flags: str, zero_ok: bool = True) -> str:
    if width is None or len(s) >= width:
        return s
    if "-" in flags:
        return s.ljust(width)
    return s.rjust(width, "0" if "0" in flags and zero_ok else " ")


def _typed(arg: Any) -> str:
    """An operand as Go's fmt names it in an error: <nil>, or type=value."""
    return "<nil>" if arg is None else f"{type_name(arg)}={format_value(arg)}"


def _bad_verb(verb: str, arg: Any) -> str:
    return f"%!{verb}({_typed(arg)})"


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
            for k in sorted_keys(arg)
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
        out.append(f"%!(EXTRA {', '.join(_typed(a) for a in args[argi:])})")
    return "".join(out)
