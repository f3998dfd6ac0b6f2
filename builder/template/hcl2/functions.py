"""Packer's HCL2 function set (names and semantics from Packer's docs; go-cty's stdlib)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import time
import uuid as uuidlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from builder.template.hcl2 import syntax as s
from builder.template.hcl2.evaluate import EvalError, Evaluator, FunctionError, Scope, equal
from builder.template.hcl2.values import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    UNKNOWN,
    ConversionError,
    Deferred,
    HclSet,
    ListType,
    MapType,
    ObjectType,
    SetType,
    TupleType,
    Type,
    format_number,
    number,
    type_name,
)

Function = Callable[..., Any]
NETWORKED = ("vault", "consul_key", "aws_secretsmanager", "aws_secretsmanager_raw")


# --------------------------------------------------------------------------- argument helpers
def _s(v: Any, what: str = "argument") -> str:
    try:
        out = STRING.convert(v)
    except ConversionError:
        raise FunctionError(
            f"invalid value for {what}: string required, got {type_name(v)}"
        ) from None
    if out is None:
        raise FunctionError(f"invalid value for {what}: argument must not be null")
    return str(out)


def _n(v: Any, what: str = "argument") -> Any:
    try:
        out = NUMBER.convert(v)
    except ConversionError:
        raise FunctionError(
            f"invalid value for {what}: number required, got {type_name(v)}"
        ) from None
    if out is None:
        raise FunctionError(f"invalid value for {what}: argument must not be null")
    return out


def _i(v: Any, what: str = "argument") -> int:
    n = _n(v, what)
    if not isinstance(n, int):
        raise FunctionError(f"invalid value for {what}: a whole number is required")
    return n


def _l(v: Any, what: str = "argument") -> list[Any]:
    if not isinstance(v, list):
        raise FunctionError(f"invalid value for {what}: list required, got {type_name(v)}")
    return list(v)


def _m(v: Any, what: str = "argument") -> dict[str, Any]:
    if not isinstance(v, dict):
        raise FunctionError(f"invalid value for {what}: map or object required, got {type_name(v)}")
    return v


# --------------------------------------------------------------------------- strings
def _substr(text: Any, offset: Any, length: Any) -> str:
    t, off, ln = _s(text), _i(offset, "offset"), _i(length, "length")
    if off < 0:
        off = max(len(t) + off, 0)
    if off > len(t):
        raise FunctionError("offset must be no greater than the length of the string")
    return t[off:] if ln < 0 else t[off : off + ln]


def _split(sep: Any, text: Any) -> list[str]:
    t, by = _s(text), _s(sep)
    if by == "":
        return list(t)
    return t.split(by)


def _join(sep: Any, *lists: Any) -> str:
    if not lists:
        raise FunctionError("at least one list is required")
    items: list[str] = []
    for lst in lists:
        for v in _l(lst):
            if v is None:
                raise FunctionError("element of the list is null; cannot concatenate null values")
            items.append(_s(v))
    return _s(sep).join(items)


def _go_regex(pattern: str) -> re.Pattern[str]:
    """A Go RE2 pattern for Python's re: named groups `(?P<n>)` are the same; `\\z` differs."""
    try:
        return re.compile(pattern.replace(r"\z", r"\Z"))
    except re.error as exc:
        raise FunctionError(f"invalid regular expression pattern: {exc}") from None


def _go_replacement(repl: str) -> Callable[[re.Match[str]], str]:
    """Go's Regexp.ReplaceAllString expansion: $1, ${1}, ${name}, $$."""
    token = re.compile(r"\$(\$|\{(\w+)\}|(\w+))")

    def expand(m: re.Match[str]) -> str:
        def one(t: re.Match[str]) -> str:
            if t.group(1) == "$":
                return "$"
            name = t.group(2) or t.group(3)
            try:
                value = m.group(int(name)) if name.isdigit() else m.group(name)
            except IndexError:
                return ""
            return value or ""

        return token.sub(one, repl)

    return expand


def _regex_replace(text: Any, pattern: Any, repl: Any) -> str:
    return _go_regex(_s(pattern)).sub(_go_replacement(_s(repl)), _s(text))


def _regex(pattern: Any, text: Any) -> Any:
    rx = _go_regex(_s(pattern))
    m = rx.search(_s(text))
    if m is None:
        raise FunctionError("pattern did not match any part of the given string")
    return _match_value(rx, m)


def _regexall(pattern: Any, text: Any) -> list[Any]:
    rx = _go_regex(_s(pattern))
    return [_match_value(rx, m) for m in rx.finditer(_s(text))]


def _match_value(rx: re.Pattern[str], m: re.Match[str]) -> Any:
    if rx.groupindex:
        return {k: m.group(k) for k in rx.groupindex}
    if rx.groups:
        return list(m.groups())
    return m.group(0)


def _indent(spaces: Any, text: Any) -> str:
    pad = " " * _i(spaces)
    lines = _s(text).split("\n")
    return "\n".join([lines[0], *[pad + ln if ln else ln for ln in lines[1:]]])


def _title(text: Any) -> str:
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), _s(text))


def _trim(text: Any, cutset: Any) -> str:
    return _s(text).strip(_s(cutset))


def _chomp(text: Any) -> str:
    return re.sub(r"(\r\n|\n|\r)+$", "", _s(text))


# ---- format (Go's fmt verbs, as cty's format uses them)
_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])")


def _format(fmt: Any, *args: Any) -> str:
    spec = _s(fmt, "format")
    out: list[str] = []
    pos, argi = 0, 0
    for m in _VERB.finditer(spec):
        out.append(spec[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            raise FunctionError(f"not enough arguments for %{verb} at {m.start()}")
        arg = args[argi]
        argi += 1
        out.append(_format_one(flags, width, prec, verb, arg))
    out.append(spec[pos:])
    if argi < len(args):
        raise FunctionError(f"too many arguments; only {argi} used by format string")
    return "".join(out)


def _format_one(flags: str, width: str | None, prec: str | None, verb: str, arg: Any) -> str:
    if verb == "v":
        text = json.dumps(arg, separators=(",", ":")) if "#" in flags else _plain_v(arg)
    elif verb == "t":
        b = BOOL.convert(arg)
        if not isinstance(b, bool):
            raise FunctionError("unsupported value for %t: bool required")
        text = "true" if b else "false"
    elif verb == "s":
        text = _s(arg)
        if prec is not None:
            text = text[: int(prec)]
    elif verb == "q":
        text = json.dumps(_s(arg))
    elif verb in "dboxXeEfFgG":
        n = _n(arg)
        if verb in "dbox" or verb == "X":
            if not isinstance(n, int):
                raise FunctionError(f"unsupported value for %{verb}: an integer is required")
            conv = {"d": "d", "b": "b", "o": "o", "x": "x", "X": "X"}[verb]
            text = format(n, conv)
        else:
            p = "" if prec is None else "." + prec
            text = ("%" + p + verb) % float(n)
            if verb in "fF" and prec is None:
                text = f"{float(n):f}"
        if "+" in flags and not text.startswith("-"):
            text = "+" + text
    else:
        raise FunctionError(f"unsupported format verb %{verb}")
    if width and width != "*":
        w = int(width)
        if "-" in flags:
            text = text.ljust(w)
        elif "0" in flags and verb not in "sqvt":
            sign = text[0] if text[:1] in "+-" else ""
            text = sign + text[len(sign) :].rjust(w - len(sign), "0")
        else:
            text = text.rjust(w)
    return text


def _plain_v(v: Any) -> str:
    if isinstance(v, (str, int, float, bool)):
        return str(STRING.convert(v))
    if v is None:
        return "null"
    return json.dumps(v, separators=(",", ":"))


def _formatlist(fmt: Any, *args: Any) -> list[str]:
    lengths = {len(a) for a in args if isinstance(a, list)}
    if len(lengths) > 1:
        raise FunctionError("all list arguments must have the same length")
    n = lengths.pop() if lengths else 1
    return [_format(fmt, *[a[i] if isinstance(a, list) else a for a in args]) for i in range(n)]


# --------------------------------------------------------------------------- collections
def _length(v: Any) -> int:
    if isinstance(v, (list, dict)):
        return len(v)
    if isinstance(v, str):
        return len(v)
    raise FunctionError(
        f"argument must be a string, a collection type, or a structural type, got {type_name(v)}"
    )


def _contains(lst: Any, value: Any) -> bool:
    return any(equal(x, value) for x in _l(lst, "list"))


def _coalesce(*vals: Any) -> Any:
    for v in vals:
        if v is None or v == "":
            continue
        return v
    raise FunctionError("no non-null, non-empty-string arguments")


def _coalescelist(*vals: Any) -> Any:
    for v in vals:
        if _l(v):
            return v
    raise FunctionError("no non-null arguments")


def _concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for lst in lists:
        out.extend(_l(lst))
    return out


def _merge(*maps: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mp in maps:
        if mp is None:
            continue
        out.update(_m(mp))
    return out


def _lookup(mp: Any, key: Any, *default: Any) -> Any:
    if len(default) > 1:
        raise FunctionError("lookup() takes at most three arguments")
    m, k = _m(mp, "map"), _s(key, "key")
    if k in m:
        return m[k]
    if default:
        return default[0]
    raise FunctionError(f'the given key "{k}" does not exist in the map and no default was given')


def _keys(mp: Any) -> list[str]:
    return sorted(_m(mp))


def _values(mp: Any) -> list[Any]:
    m = _m(mp)
    return [m[k] for k in sorted(m)]


def _element(lst: Any, index: Any) -> Any:
    items, i = _l(lst), _i(index, "index")
    if not items:
        raise FunctionError("cannot use element function with an empty list")
    if i < 0:
        raise FunctionError("cannot use element function with a negative index")
    return items[i % len(items)]


def _index(lst: Any, value: Any) -> int:
    for i, v in enumerate(_l(lst)):
        if equal(v, value):
            return i
    raise FunctionError("item not found")


def _flatten(lst: Any) -> list[Any]:
    out: list[Any] = []
    todo = list(reversed(_l(lst)))
    while todo:
        v = todo.pop()
        if isinstance(v, list):
            todo.extend(reversed(v))
        else:
            out.append(v)
    return out


def _distinct(lst: Any) -> list[Any]:
    out: list[Any] = []
    for v in _l(lst):
        if not any(equal(v, o) for o in out):
            out.append(v)
    return out


def _compact(lst: Any) -> list[Any]:
    return [v for v in _l(lst) if v is not None and v != ""]


def _chunklist(lst: Any, size: Any) -> list[Any]:
    items, n = _l(lst), _i(size, "size")
    if n < 0:
        raise FunctionError("the size argument must be positive")
    if n == 0:
        return [items]
    return [items[i : i + n] for i in range(0, len(items), n)]


def _range(*args: Any) -> list[Any]:
    nums = [_n(a) for a in args]
    if not 1 <= len(nums) <= 3:
        raise FunctionError("range() takes one, two or three arguments")
    start, step = 0, 1
    if len(nums) == 1:
        end = nums[0]
    elif len(nums) == 2:
        start, end = nums
        step = 1 if end >= start else -1
    else:
        start, end, step = nums
    if step == 0:
        raise FunctionError("step must not be zero")
    out = []
    v = start
    while (v < end) if step > 0 else (v > end):
        out.append(number(v))
        v += step
        if len(out) > 1024:
            raise FunctionError("more than 1024 values were generated")
    return out


def _slice(lst: Any, start: Any, end: Any) -> list[Any]:
    items, a, b = _l(lst), _i(start, "start_index"), _i(end, "end_index")
    if a < 0 or b > len(items) or a > b:
        raise FunctionError("the start and end indices must be within the list")
    return items[a:b]


def _sort(lst: Any) -> list[str]:
    return sorted(_s(v) for v in _l(lst))


def _reverse(lst: Any) -> list[Any]:
    return list(reversed(_l(lst)))


def _zipmap(keys: Any, values: Any) -> dict[str, Any]:
    ks, vs = _l(keys), _l(values)
    if len(ks) != len(vs):
        raise FunctionError("the number of keys and values must match")
    return {_s(k): v for k, v in zip(ks, vs, strict=True)}


def _set(values: Any) -> HclSet:
    out = HclSet()
    for v in values:
        if not any(equal(v, o) for o in out):
            out.append(v)
    return out


def _setunion(*sets: Any) -> HclSet:
    return _set(v for st in sets for v in _l(st))


def _setintersection(first: Any, *rest: Any) -> HclSet:
    return _set(v for v in _l(first) if all(any(equal(v, o) for o in _l(r)) for r in rest))


def _setsubtract(a: Any, b: Any) -> HclSet:
    return _set(v for v in _l(a) if not any(equal(v, o) for o in _l(b)))


def _setproduct(*sets: Any) -> list[Any]:
    out: list[list[Any]] = [[]]
    for st in sets:
        out = [prefix + [v] for prefix in out for v in _l(st)]
    return out if sets else []


def _transpose(mp: Any) -> dict[str, Any]:
    out: dict[str, list[str]] = {}
    for k in sorted(_m(mp)):
        for v in _l(mp[k]):
            out.setdefault(_s(v), []).append(k)
    return {k: sorted(v) for k, v in out.items()}


def _one(lst: Any) -> Any:
    items = _l(lst)
    if len(items) > 1:
        raise FunctionError("must be a list, set, or tuple value with either zero or one elements")
    return items[0] if items else None


def _sum(lst: Any) -> Any:
    items = _l(lst)
    if not items:
        raise FunctionError("cannot sum an empty list")
    return number(sum(_n(v) for v in items))


def _alltrue(lst: Any) -> bool:
    return all(BOOL.convert(v) is True for v in _l(lst))


def _anytrue(lst: Any) -> bool:
    return any(BOOL.convert(v) is True for v in _l(lst))


# --------------------------------------------------------------------------- numbers
def _minmax(pick: Callable[..., Any]) -> Function:
    def fn(*nums: Any) -> Any:
        if not nums:
            raise FunctionError("must pass at least one number")
        return number(pick(_n(v) for v in nums))

    return fn


def _parseint(text: Any, base: Any) -> int:
    b = _i(base, "base")
    if not 2 <= b <= 62:
        raise FunctionError("base must be a whole number between 2 and 62 inclusive")
    try:
        return int(_s(text), b)
    except ValueError:
        raise FunctionError(f"cannot parse {_s(text)!r} as a base {b} integer") from None


def _log(n: Any, base: Any) -> Any:
    return number(math.log(_n(n)) / math.log(_n(base)))


def _signum(n: Any) -> int:
    v = _n(n)
    return (v > 0) - (v < 0)


# --------------------------------------------------------------------------- encoding
def _jsonencode(v: Any) -> str:
    return (
        json.dumps(_json_ready(v), separators=(",", ":"), ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def _json_ready(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _json_ready(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_json_ready(x) for x in v]
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return str(v) if isinstance(v, Deferred) else v


def _jsondecode(text: Any) -> Any:
    try:
        return _numbers(json.loads(_s(text)))
    except json.JSONDecodeError as exc:
        raise FunctionError(f"invalid JSON: {exc.msg}") from None


def _numbers(v: Any) -> Any:
    if isinstance(v, float):
        return number(v)
    if isinstance(v, dict):
        return {k: _numbers(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_numbers(x) for x in v]
    return v


def _yamlencode(v: Any) -> str:
    try:
        import yaml
    except ImportError:
        raise FunctionError("yamlencode needs PyYAML, which is not installed") from None
    return str(
        yaml.safe_dump(_json_ready(v), default_flow_style=False, sort_keys=True, allow_unicode=True)
    )


def _yamldecode(text: Any) -> Any:
    try:
        import yaml
    except ImportError:
        raise FunctionError("yamldecode needs PyYAML, which is not installed") from None
    try:
        return _numbers(yaml.safe_load(_s(text)))
    except yaml.YAMLError as exc:
        raise FunctionError(f"invalid YAML: {exc}") from None


def _base64decode(text: Any) -> str:
    try:
        return base64.b64decode(_s(text), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise FunctionError("failed to decode base64 data (or it is not UTF-8)") from None


def _base64gzip(text: Any) -> str:
    import gzip

    return base64.b64encode(gzip.compress(_s(text).encode(), mtime=0)).decode()


def _urlencode(text: Any) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_s(text), safe="-_.~")


def _csvdecode(text: Any) -> list[dict[str, str]]:
    import csv
    import io

    rows = list(csv.reader(io.StringIO(_s(text))))
    if not rows:
        raise FunctionError("missing header line")
    head = rows[0]
    out = []
    for r in rows[1:]:
        if len(r) != len(head):
            raise FunctionError("wrong number of fields in a record")
        out.append(dict(zip(head, r, strict=True)))
    return out


def _textencodebase64(text: Any, encoding: Any) -> str:
    try:
        return base64.b64encode(_s(text).encode(_s(encoding))).decode()
    except LookupError:
        raise FunctionError(f"{_s(encoding)!r} is not a supported encoding") from None


def _textdecodebase64(text: Any, encoding: Any) -> str:
    try:
        return base64.b64decode(_s(text)).decode(_s(encoding))
    except (LookupError, ValueError):
        raise FunctionError("the given value is not valid base64 text in that encoding") from None


# --------------------------------------------------------------------------- crypto, uuid
def _hash(algo: str) -> Function:
    return lambda text: hashlib.new(algo, _s(text).encode()).hexdigest()


def _bcrypt(text: Any, *cost: Any) -> str:
    import bcrypt

    rounds = _i(cost[0], "cost") if cost else 10
    return str(bcrypt.hashpw(_s(text).encode(), bcrypt.gensalt(rounds)).decode())


def _rsadecrypt(cipher: Any, key: Any) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        private = serialization.load_pem_private_key(_s(key).encode(), password=None)
        data = base64.b64decode(_s(cipher))
        return private.decrypt(data, padding.PKCS1v15()).decode()  # type: ignore[union-attr,call-arg]
    except (ValueError, TypeError) as exc:
        raise FunctionError(f"failed to decrypt: {exc}") from None


def _uuidv5(namespace: Any, name: Any) -> str:
    ns = {
        "dns": uuidlib.NAMESPACE_DNS,
        "url": uuidlib.NAMESPACE_URL,
        "oid": uuidlib.NAMESPACE_OID,
        "x500": uuidlib.NAMESPACE_X500,
    }.get(_s(namespace))
    if ns is None:
        try:
            ns = uuidlib.UUID(_s(namespace))
        except ValueError:
            raise FunctionError("uuidv5() doesn't support namespace " + _s(namespace)) from None
    return str(uuidlib.uuid5(ns, _s(name)))


# --------------------------------------------------------------------------- cidr
def _net(prefix: Any) -> Any:
    import ipaddress

    try:
        return ipaddress.ip_network(_s(prefix, "prefix"), strict=False)
    except ValueError as exc:
        raise FunctionError(f"invalid CIDR expression: {exc}") from None


def _cidrhost(prefix: Any, hostnum: Any) -> str:
    net, n = _net(prefix), _i(hostnum, "hostnum")
    size = net.num_addresses
    if n < -size or n >= size:
        raise FunctionError(f"prefix of {net.prefixlen} does not accommodate a host numbered {n}")
    base = int(net.network_address)
    return str(type(net.network_address)(base + (n if n >= 0 else size + n)))


def _cidrnetmask(prefix: Any) -> str:
    net = _net(prefix)
    if net.version != 4:
        raise FunctionError("only IPv4 networks have a netmask")
    return str(net.netmask)


def _cidrsubnet(prefix: Any, newbits: Any, netnum: Any) -> str:
    net, bits, num = _net(prefix), _i(newbits, "newbits"), _i(netnum, "netnum")
    new_len = net.prefixlen + bits
    if new_len > net.max_prefixlen:
        raise FunctionError(
            f"insufficient address space to extend prefix of {net.prefixlen} by {bits}"
        )
    if num < 0 or num >= 2**bits:
        raise FunctionError(
            f"prefix extension of {bits} does not accommodate a subnet numbered {num}"
        )
    base = int(net.network_address) + (num << (net.max_prefixlen - new_len))
    return f"{type(net.network_address)(base)}/{new_len}"


def _cidrsubnets(prefix: Any, *newbits: Any) -> list[str]:
    import ipaddress

    net = _net(prefix)
    out: list[str] = []
    cursor = int(net.network_address)
    end = int(net.broadcast_address)
    for nb in newbits:
        length = net.prefixlen + _i(nb, "newbits")
        if length > net.max_prefixlen:
            raise FunctionError("not enough remaining address space for a subnet")
        size = 2 ** (net.max_prefixlen - length)
        cursor = (cursor + size - 1) // size * size
        if cursor + size - 1 > end:
            raise FunctionError("not enough remaining address space for a subnet")
        out.append(str(ipaddress.ip_network((cursor, length))))
        cursor += size
    return out


# --------------------------------------------------------------------------- time
_FORMATDATE = re.compile(
    r"'(?:[^']|'')*'|YYYY|YY|MMMM|MMM|MM|M|DD|D|EEEE|EEE|hh|h|HH|H|AA|aa|mm|m|ss|s|ZZZZZ|ZZZZ|ZZZ|Z|[A-Za-z]+|[^A-Za-z']+"
)


def _parse_rfc3339(text: str) -> datetime:
    t = text.strip()
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)[Tt](\d\d:\d\d:\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)", t)
    if not m:
        raise FunctionError(f'not a valid RFC3339 timestamp: cannot use "{text}" as year')
    frac = (m.group(3) or "")[:7].ljust(7, "0")[1:] if m.group(3) else "000000"
    zone = "+00:00" if m.group(4) in ("Z", "z") else m.group(4)
    return datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}.{frac}{zone}")


def _formatdate(fmt: Any, ts: Any) -> str:
    t = _parse_rfc3339(_s(ts))
    out: list[str] = []
    for tok in _FORMATDATE.findall(_s(fmt)):
        out.append(_date_token(tok, t))
    return "".join(out)


def _date_token(tok: str, t: datetime) -> str:
    offset = t.utcoffset() or timedelta(0)
    mins = int(offset.total_seconds() // 60)
    sign = "-" if mins < 0 else "+"
    hh, mm = divmod(abs(mins), 60)
    table = {
        "YYYY": f"{t.year:04d}",
        "YY": f"{t.year % 100:02d}",
        "MMMM": t.strftime("%B"),
        "MMM": t.strftime("%b"),
        "MM": f"{t.month:02d}",
        "M": str(t.month),
        "DD": f"{t.day:02d}",
        "D": str(t.day),
        "EEEE": t.strftime("%A"),
        "EEE": t.strftime("%a"),
        "hh": f"{t.hour:02d}",
        "h": str(t.hour),
        "HH": f"{(t.hour % 12) or 12:02d}",
        "H": str((t.hour % 12) or 12),
        "AA": "PM" if t.hour >= 12 else "AM",
        "aa": "pm" if t.hour >= 12 else "am",
        "mm": f"{t.minute:02d}",
        "m": str(t.minute),
        "ss": f"{t.second:02d}",
        "s": str(t.second),
        "ZZZZZ": f"{sign}{hh:02d}:{mm:02d}",
        "ZZZZ": f"{sign}{hh:02d}{mm:02d}",
        "ZZZ": "UTC" if mins == 0 else f"{sign}{hh:02d}{mm:02d}",
        "Z": "Z" if mins == 0 else f"{sign}{hh:02d}:{mm:02d}",
    }
    if tok in table:
        return table[tok]
    if tok.startswith("'"):
        return tok[1:-1].replace("''", "'")
    if tok[0].isalpha():
        raise FunctionError(f"invalid date format verb {tok!r}")
    return tok


def _rfc3339(t: datetime) -> str:
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        text += ("." + f"{t.microsecond:06d}").rstrip("0")
    off = t.utcoffset()
    if not off:
        return text + "Z"
    mins = int(off.total_seconds() // 60)
    sign = "-" if mins < 0 else "+"
    return f"{text}{sign}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"


def _timeadd(ts: Any, duration: Any) -> str:
    from builder.config import parse_duration

    try:
        seconds = parse_duration(_s(duration))
    except ValueError as exc:
        raise FunctionError(str(exc)) from None
    return _rfc3339(_parse_rfc3339(_s(ts)) + timedelta(seconds=seconds))


# --------------------------------------------------------------------------- the set
def make_functions(basedir: str, timestamp: int, packer_version: str = "") -> dict[str, Function]:
    """Every function of the set, file functions relative to basedir."""

    def path_of(p: Any) -> str:
        text = os.path.expanduser(_s(p, "path"))
        return text if os.path.isabs(text) else os.path.join(basedir, text)

    def read(p: Any) -> bytes:
        try:
            with open(path_of(p), "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise FunctionError(f"no file exists at {_s(p)}: {exc.strerror}") from None

    def file(p: Any) -> str:
        try:
            return read(p).decode("utf-8")
        except UnicodeDecodeError:
            raise FunctionError(
                f"contents of {_s(p)} are not valid UTF-8; use filebase64"
            ) from None

    def fileexists(p: Any) -> bool:
        full = path_of(p)
        if os.path.isdir(full):
            raise FunctionError(f"{_s(p)} is a directory, not a file")
        return os.path.isfile(full)

    def fileset(path: Any, pattern: Any) -> HclSet:
        import glob

        root = path_of(path)
        found = glob.glob(_s(pattern), root_dir=root, recursive=True)
        return HclSet(sorted(f for f in found if os.path.isfile(os.path.join(root, f))))

    moment = datetime.fromtimestamp(timestamp, UTC)

    def legacy_isotime(*fmt: Any) -> str:
        from builder.template.funcs import RFC3339, go_time_format

        if len(fmt) > 1:
            raise FunctionError("legacy_isotime() takes at most one argument")
        return go_time_format(moment, _s(fmt[0]) if fmt else RFC3339)

    def legacy_strftime(fmt: Any) -> str:
        from builder.template.funcs import _strftime

        return _strftime(_s(fmt), moment)

    def not_supported(name: str) -> Function:
        def fn(*args: Any) -> Any:
            raise FunctionError(
                f"{name} reads a remote secret store, which pybuild does not support; pass "
                "the value with -var, a var file or PKR_VAR_ instead"
            )

        return fn

    def env_elsewhere(*args: Any) -> Any:
        raise FunctionError("env() can only be used in the default value of a variable")

    funcs: dict[str, Function] = {
        "abs": lambda n: number(abs(_n(n))),
        "abspath": lambda p: os.path.abspath(_s(p)),
        "alltrue": _alltrue,
        "anytrue": _anytrue,
        "basename": lambda p: os.path.basename(_s(p)),
        "base64decode": _base64decode,
        "base64encode": lambda t: base64.b64encode(_s(t).encode()).decode(),
        "base64gzip": _base64gzip,
        "bcrypt": _bcrypt,
        "ceil": lambda n: math.ceil(_n(n)),
        "chomp": _chomp,
        "chunklist": _chunklist,
        "cidrhost": _cidrhost,
        "cidrnetmask": _cidrnetmask,
        "cidrsubnet": _cidrsubnet,
        "cidrsubnets": _cidrsubnets,
        "coalesce": _coalesce,
        "coalescelist": _coalescelist,
        "compact": _compact,
        "concat": _concat,
        "contains": _contains,
        "csvdecode": _csvdecode,
        "dirname": lambda p: os.path.dirname(_s(p)) or ".",
        "distinct": _distinct,
        "element": _element,
        "endswith": lambda t, x: _s(t).endswith(_s(x)),
        "env": env_elsewhere,
        "file": file,
        "filebase64": lambda p: base64.b64encode(read(p)).decode(),
        "fileexists": fileexists,
        "fileset": fileset,
        "flatten": _flatten,
        "floor": lambda n: math.floor(_n(n)),
        "format": _format,
        "formatdate": _formatdate,
        "formatlist": _formatlist,
        "indent": _indent,
        "index": _index,
        "join": _join,
        "jsondecode": _jsondecode,
        "jsonencode": _jsonencode,
        "keys": _keys,
        "legacy_isotime": legacy_isotime,
        "legacy_strftime": legacy_strftime,
        "length": _length,
        "log": _log,
        "lookup": _lookup,
        "lower": lambda t: _s(t).lower(),
        "max": _minmax(max),
        "md5": _hash("md5"),
        "merge": _merge,
        "min": _minmax(min),
        "one": _one,
        "parseint": _parseint,
        "pathexpand": lambda p: os.path.expanduser(_s(p)),
        "pow": lambda a, b: number(_n(a) ** _n(b)),
        "range": _range,
        "regex": _regex,
        "regexall": _regexall,
        "regex_replace": _regex_replace,
        "replace": lambda t, a, b: _s(t).replace(_s(a), _s(b)),
        "reverse": _reverse,
        "rfc3339_parse": lambda t: _rfc3339_parts(_parse_rfc3339(_s(t))),
        "rsadecrypt": _rsadecrypt,
        "setintersection": _setintersection,
        "setproduct": _setproduct,
        "setsubtract": _setsubtract,
        "setunion": _setunion,
        "sha1": _hash("sha1"),
        "sha256": _hash("sha256"),
        "sha512": _hash("sha512"),
        "signum": _signum,
        "slice": _slice,
        "sort": _sort,
        "split": _split,
        "startswith": lambda t, x: _s(t).startswith(_s(x)),
        "strcontains": lambda t, x: _s(x) in _s(t),
        "strrev": lambda t: _s(t)[::-1],
        "substr": _substr,
        "sum": _sum,
        "textdecodebase64": _textdecodebase64,
        "textencodebase64": _textencodebase64,
        "timeadd": _timeadd,
        # the run's start, as {{timestamp}} is: one value wherever a template uses it
        "timestamp": lambda: _rfc3339(moment),
        "title": _title,
        "tobool": lambda v: _to(BOOL, v),
        "tolist": lambda v: _to(ListType(DYNAMIC), v),
        "tomap": lambda v: _to(MapType(DYNAMIC), v),
        "tonumber": lambda v: _to(NUMBER, v),
        "toset": lambda v: _to(SetType(DYNAMIC), v),
        "tostring": lambda v: _to(STRING, v),
        "transpose": _transpose,
        "trim": _trim,
        "trimprefix": lambda t, p: _s(t).removeprefix(_s(p)),
        "trimspace": lambda t: _s(t).strip(),
        "trimsuffix": lambda t, p: _s(t).removesuffix(_s(p)),
        "unix_timestamp_parse": lambda t: int(_parse_rfc3339(_s(t)).timestamp()),
        "upper": lambda t: _s(t).upper(),
        "urlencode": _urlencode,
        "uuidv4": lambda: str(uuidlib.uuid4()),
        "uuidv5": _uuidv5,
        "values": _values,
        "yamldecode": _yamldecode,
        "yamlencode": _yamlencode,
        "zipmap": _zipmap,
    }
    for name in NETWORKED:
        funcs[name] = not_supported(name)
    return funcs


def _rfc3339_parts(t: datetime) -> dict[str, Any]:
    off = t.utcoffset()
    return {
        "year": t.year,
        "month": t.month,
        "day": t.day,
        "hour": t.hour,
        "minute": t.minute,
        "second": t.second,
        "iso_year": t.isocalendar()[0],
        "iso_week": t.isocalendar()[1],
        "week_day": (t.weekday() + 1) % 7,
        "offset": int(off.total_seconds()) if off else 0,
    }


def _to(t: Type, v: Any) -> Any:
    try:
        return t.convert(v)
    except ConversionError as exc:
        raise FunctionError(str(exc)) from None


def env_function(environ: Mapping[str, str]) -> Function:
    """`env` as variable defaults have it: a variable of `environ`, "" if unset."""
    return lambda name: environ.get(_s(name), "")


# --------------------------------------------------------------------------- try, can, convert, templatefile
def _try(ev: Evaluator, args: list[s.Node], scope: Scope) -> Any:
    if not args:
        raise EvalError("at least one argument is required", None, "Invalid function call")
    errors: list[str] = []
    for a in args:
        try:
            return ev.eval(a, scope)
        except EvalError as exc:
            errors.append(exc.message)
    raise EvalError(
        "no expression succeeded:\n"
        + "\n".join(f"- {e}" for e in errors)
        + "\n\nAt least one expression must produce a successful result.",
        args[0].pos,
        "Error in function call",
    )


def _can(ev: Evaluator, args: list[s.Node], scope: Scope) -> Any:
    if len(args) != 1:
        raise EvalError("can() takes exactly one argument", args[0].pos if args else None)
    try:
        value = ev.eval(args[0], scope)
    except EvalError:
        return False
    return value is not UNKNOWN or UNKNOWN


def _convert(ev: Evaluator, args: list[s.Node], scope: Scope) -> Any:
    if len(args) != 2:
        raise EvalError("convert() takes a value and a type", args[0].pos if args else None)
    value = ev.eval(args[0], scope)
    want = type_expr(args[1])
    try:
        return want.convert(value)
    except ConversionError as exc:
        raise EvalError(
            f'Invalid value for "value" parameter: {exc}.', args[0].pos, "Invalid function argument"
        ) from None


def templatefile_function(basedir: str) -> Callable[[Evaluator, list[s.Node], Scope], Any]:
    def templatefile(ev: Evaluator, args: list[s.Node], scope: Scope) -> Any:
        if len(args) != 2:
            raise EvalError(
                "templatefile() takes a path and a map of variables", args[0].pos if args else None
            )
        path = _s(ev.eval(args[0], scope), "path")
        names = ev.eval(args[1], scope)
        if not isinstance(names, dict):
            raise EvalError("vars must be a map or an object", args[1].pos)
        full = path if os.path.isabs(path) else os.path.join(basedir, path)
        try:
            with open(full, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise EvalError(
                f"no file exists at {path}: {exc.strerror}",
                args[0].pos,
                "Invalid function argument",
            ) from None
        tmpl = s.parse_template(text, full)
        specials = {k: v for k, v in scope.special.items() if k != "templatefile"}
        inner = Scope(dict(names), scope.functions, specials)
        return ev.eval(tmpl, inner)

    return templatefile


SPECIAL = {"try": _try, "can": _can, "convert": _convert}


# --------------------------------------------------------------------------- type expressions
_PRIMITIVES = {"string": STRING, "number": NUMBER, "bool": BOOL, "any": DYNAMIC}


def type_expr(node: s.Node) -> Type:
    """A type constraint written as an expression: `list(string)`, `object({a=number})`."""
    if isinstance(node, s.Variable) and node.name in _PRIMITIVES:
        return _PRIMITIVES[node.name]
    if isinstance(node, s.Call):
        name, args = node.name, node.args
        if name in ("list", "set", "map") and len(args) == 1:
            inner = type_expr(args[0])
            return {"list": ListType, "set": SetType, "map": MapType}[name](inner)
        if name == "tuple" and len(args) == 1 and isinstance(args[0], s.TupleCons):
            return TupleType(tuple(type_expr(a) for a in args[0].items))
        if name == "object" and len(args) == 1 and isinstance(args[0], s.ObjectCons):
            attrs: dict[str, Type] = {}
            optional: set[str] = set()
            defaults: list[tuple[str, Any]] = []
            for k, v in args[0].items:
                if not (isinstance(k, s.Literal) and isinstance(k.value, str)):
                    if isinstance(k, s.Template) and all(isinstance(p, s.LitPart) for p in k.parts):
                        key = "".join(p.text for p in k.parts if isinstance(p, s.LitPart))
                    else:
                        raise EvalError(
                            "Object constructor keys must be attribute names.",
                            k.pos,
                            "Invalid type specification",
                        )
                else:
                    key = k.value
                if isinstance(v, s.Call) and v.name == "optional" and v.args:
                    optional.add(key)
                    attrs[key] = type_expr(v.args[0])
                    if len(v.args) > 1:
                        defaults.append((key, Evaluator().eval(v.args[1], Scope({}, {}))))
                else:
                    attrs[key] = type_expr(v)
            return ObjectType(attrs, frozenset(optional), tuple(defaults))
        if name in ("list", "set", "map", "tuple", "object"):
            raise EvalError(
                f"The {name} type constructor requires one argument specifying the element type.",
                node.pos,
                "Invalid type specification",
            )
    raise EvalError(
        "A type specification is either a primitive type keyword (bool, number, string) or a "
        "complex type constructor call, like list(string).",
        node.pos,
        "Invalid type specification",
    )


__all__ = [
    "NETWORKED",
    "SPECIAL",
    "env_function",
    "format_number",
    "make_functions",
    "templatefile_function",
    "time",
    "type_expr",
]
