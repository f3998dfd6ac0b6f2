"""The predefined template functions: and, or, not, len, index, slice, eq…, print…, call."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from builder.template.gotemplate.gofmt import go_sprint, go_sprintf, go_sprintln
from builder.template.gotemplate.values import truth, type_name


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
    "println": go_sprintln,
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
    "call": _call,
}
