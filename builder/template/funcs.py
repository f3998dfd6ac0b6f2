"""Packer's template functions and the context they render with."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from builder.errors import InterpolationError
from builder.template.interpolate import Deferred, go_quote, parse, want_int, want_str

__all__ = [
    "PACKER_VERSION",
    "START_TIME",
    "RenderContext",
    "UnknownUserVariable",
    "clean_resource_name",
    "go_time_format",
    "has_template",
    "render",
    "render_obj",
    "render_until_stable",
]

PACKER_VERSION = "1.6.6"
START_TIME = int(time.time())
RFC3339 = "2006-01-02T15:04:05Z07:00"


class UnknownUserVariable(InterpolationError):
    """{{user `x`}} for an x not (yet) known while resolving variables; the resolver retries."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"variable {name} not set")


@dataclass
class RenderContext:
    """Everything a {{ }} expression can see: variables, build facts, the dot, permissions."""

    user_vars: Mapping[str, str] = field(default_factory=dict)
    template_path: str | None = None
    build_name: str | None = None
    build_type: str | None = None
    build_data: Mapping[str, str] | None = None
    data: Any = None
    env_allowed: bool = False
    strict_user: bool = False
    timestamp: int = START_TIME
    packer_version: str = PACKER_VERSION
    extra_funcs: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    _funcs: tuple[int, dict[str, Callable[..., Any]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def with_(self, **changes: Any) -> RenderContext:
        """A copy with some fields replaced."""
        return dataclasses.replace(self, **changes)

    def funcs(self) -> dict[str, Callable[..., Any]]:
        """The function map: Packer's functions, then extra_funcs (which win)."""
        if self._funcs is None or self._funcs[0] != id(self):
            self._funcs = (id(self), _packer_funcs(self))
        base = self._funcs[1]
        return {**base, **self.extra_funcs} if self.extra_funcs else base


def has_template(text: str) -> bool:
    """Whether text may contain a {{ }} expression."""
    return "{{" in text


def render(text: str, ctx: RenderContext) -> str:
    """Render text once; with ctx.data None, {{.X}} is kept for a later render."""
    if "{{" not in text:
        return text
    return parse(text).execute(ctx.funcs(), ctx.data, defer_fields=ctx.data is None)


def render_until_stable(text: str, ctx: RenderContext, max_passes: int = 100) -> str:
    """Render repeatedly until the output stops changing (Packer's Render)."""
    for _ in range(max_passes):
        out = render(text, ctx)
        if out == text:
            break
        text = out
    return text


def render_obj(value: Any, ctx: RenderContext) -> Any:
    """Render every string inside dicts, lists and tuples (keys untouched), one pass.

    Iterative, so any nesting depth works.
    """
    if not isinstance(value, _CONTAINERS):
        return render(value, ctx) if isinstance(value, str) else value
    # each frame: the container, its remaining members, the members rendered, its key
    stack: list[tuple[Any, Iterator[tuple[Any, Any]], list[tuple[Any, Any]], Any]] = [
        (value, _members(value), [], None)
    ]
    while True:
        src, members, done, key = stack[-1]
        for k, v in members:
            if isinstance(v, _CONTAINERS):
                stack.append((v, _members(v), [], k))
                break
            done.append((k, render(v, ctx) if isinstance(v, str) else v))
        else:
            stack.pop()
            built: Any = [v for _, v in done]
            if isinstance(src, Mapping):
                built = dict(done)
            elif isinstance(src, tuple):
                built = tuple(built)
            if not stack:
                return built
            stack[-1][2].append((key, built))


_CONTAINERS = (Mapping, list, tuple)


def _members(value: Any) -> Iterator[tuple[Any, Any]]:
    return iter(value.items()) if isinstance(value, Mapping) else enumerate(value)


# --------------------------------------------------------------------------------------
# Functions


_CLEAN_ALLOWED = frozenset(b"()[] ./-'@_")


def clean_resource_name(s: str) -> str:
    """Amazon's rule: every byte not in A-Za-z0-9()[] ./-'@_ becomes '-'."""
    data = want_str(s).encode()
    return "".join(
        chr(b) if (chr(b).isascii() and chr(b).isalnum()) or b in _CLEAN_ALLOWED else "-"
        for b in data
    )


def _split(k: Any, sep: Any, i: Any) -> str:
    text, by, index = want_str(k), want_str(sep), want_int(i)
    parts = list(text) if by == "" else text.split(by)
    if index < 0:
        raise ValueError(f"runtime error: index out of range [{index}]")
    if len(parts) <= index:
        raise ValueError(
            f"the substring {index} was unavailable using the separator value, {by}, "
            f"only {len(parts)} values were found"
        )
    return parts[index]


def _replace(old: Any, new: Any, n: Any, src: Any) -> str:
    return want_str(src).replace(want_str(old), want_str(new), want_int(n))


def _replace_all(old: Any, new: Any, src: Any) -> str:
    return want_str(src).replace(want_str(old), want_str(new))


def _lower(s: Any) -> str:
    return want_str(s).lower()


def _upper(s: Any) -> str:
    return want_str(s).upper()


def _uuid() -> str:
    """Packer's time-ordered UUID: unix time, then 12 random bytes."""
    b = os.urandom(12)
    unix = int(time.time()) & 0xFFFFFFFF
    return f"{unix:08x}-{b[0:2].hex()}-{b[2:4].hex()}-{b[4:6].hex()}-{b[6:8].hex()}{b[8:].hex()}"


def _sed(*args: Any) -> str:
    raise ValueError("sed is deprecated; use `replace` or `replace_all` instead")


def _packer_funcs(ctx: RenderContext) -> dict[str, Callable[..., Any]]:
    """Packer 1.6.6's template functions bound to ctx (fields are read at call time)."""

    def moment() -> datetime:
        return datetime.fromtimestamp(ctx.timestamp, UTC)

    def user(name: Any) -> str:
        name = want_str(name)
        if name in ctx.user_vars:
            return ctx.user_vars[name]
        if ctx.strict_user:
            raise UnknownUserVariable(name)
        return ""

    def env(name: Any) -> str:
        name = want_str(name)
        if not ctx.env_allowed:
            raise ValueError("env vars are not allowed here")
        return os.environ.get(name, "")

    def isotime(*layout: Any) -> str:
        if len(layout) > 1:
            raise ValueError(f"too many values, 1 needed: [{' '.join(map(str, layout))}]")
        return go_time_format(moment(), want_str(layout[0]) if layout else RFC3339)

    def strftime(fmt: Any) -> str:
        return _strftime(want_str(fmt), moment())

    def template_dir() -> str:
        if not ctx.template_path:
            raise ValueError("template path not available")
        return os.path.dirname(os.path.abspath(ctx.template_path))

    def build_name() -> str:
        if ctx.build_name is None:
            raise ValueError("build_name not available")
        return ctx.build_name

    def build_type() -> str:
        if ctx.build_type is None:
            raise ValueError("build_type not available")
        return ctx.build_type

    def build(key: Any) -> str:
        key = want_str(key)
        if ctx.build_data is None:
            lit = f"`{key}`" if "`" not in key else go_quote(key)
            return Deferred(f"{{{{ build {lit} }}}}")
        if key not in ctx.build_data:
            raise ValueError(f"loaded data, but no {key} key")
        return ctx.build_data[key]

    def remote(name: str, label: str) -> Callable[..., str]:
        def fn(*args: Any) -> str:
            if not ctx.env_allowed:
                raise ValueError(f"{label} vars are only allowed in the variables section")
            raise ValueError(f"{name} is not supported by pybuild")

        return fn

    return {
        "user": user,
        "env": env,
        "timestamp": lambda: str(ctx.timestamp),
        "isotime": isotime,
        "strftime": strftime,
        "uuid": _uuid,
        "pwd": os.getcwd,
        "template_dir": template_dir,
        "build_name": build_name,
        "build_type": build_type,
        "packer_version": lambda: ctx.packer_version,
        "split": _split,
        "replace": _replace,
        "replace_all": _replace_all,
        "lower": _lower,
        "upper": _upper,
        "clean_resource_name": clean_resource_name,
        "clean_ami_name": clean_resource_name,
        "clean_image_name": clean_resource_name,
        "build": build,
        "sed": _sed,
        "consul_key": remote("consul_key", "Consul"),
        "vault": remote("vault", "Vault"),
        "aws_secretsmanager": remote("aws_secretsmanager", "AWS Secrets Manager"),
    }


# --------------------------------------------------------------------------------------
# Go's time.Format and jehiah/go-strftime


_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_ZONES = ("-070000", "-07:00:00", "-0700", "-07:00", "-07")


def _std_at(layout: str, i: int) -> str | None:
    """Go's nextStdChunk: the layout element starting at i, or None for a literal."""
    rest = layout[i:]
    c = rest[0]
    lower_next = len(rest) > 3 and "a" <= rest[3] <= "z"
    if c == "J" and rest.startswith("Jan"):
        return "January" if rest.startswith("January") else None if lower_next else "Jan"
    if c == "M" and rest.startswith("Mon"):
        return "Monday" if rest.startswith("Monday") else None if lower_next else "Mon"
    if c == "M" and rest.startswith("MST"):
        return "MST"
    if c == "0":
        if len(rest) > 1 and "1" <= rest[1] <= "6":
            return rest[:2]
        return "002" if rest.startswith("002") else None
    if c == "1":
        return "15" if rest.startswith("15") else "1"
    if c == "2":
        return "2006" if rest.startswith("2006") else "2"
    if c == "_":
        if rest.startswith("_2"):
            return None if rest.startswith("_2006") else "_2"
        return "__2" if rest.startswith("__2") else None
    if c in "345":
        return c
    if c in "Pp" and rest[:2] in ("PM", "pm"):
        return rest[:2]
    if c in "-Z":
        for z in _ZONES:
            if rest.startswith(c + z[1:]):
                return c + z[1:]
        return None
    if c == "." and len(rest) > 1 and rest[1] in "09":
        j = 1
        while j < len(rest) and rest[j] == rest[1]:
            j += 1
        return None if j < len(rest) and rest[j].isdigit() else rest[:j]
    return None


def _std_value(std: str, t: datetime) -> str:
    """One layout element formatted for t."""
    hour12 = t.hour % 12 or 12
    simple = {
        "January": _MONTHS[t.month - 1],
        "Jan": _MONTHS[t.month - 1][:3],
        "1": str(t.month),
        "01": f"{t.month:02d}",
        "Monday": _DAYS[t.weekday()],
        "Mon": _DAYS[t.weekday()][:3],
        "2006": f"{t.year:04d}",
        "06": f"{t.year % 100:02d}",
        "2": str(t.day),
        "_2": f"{t.day:2d}",
        "02": f"{t.day:02d}",
        "__2": f"{t.timetuple().tm_yday:3d}",
        "002": f"{t.timetuple().tm_yday:03d}",
        "15": f"{t.hour:02d}",
        "3": str(hour12),
        "03": f"{hour12:02d}",
        "4": str(t.minute),
        "04": f"{t.minute:02d}",
        "5": str(t.second),
        "05": f"{t.second:02d}",
        "PM": "PM" if t.hour >= 12 else "AM",
        "pm": "pm" if t.hour >= 12 else "am",
    }
    if std in simple:
        return simple[std]
    delta = t.utcoffset()
    offset = int(delta.total_seconds()) if delta else 0
    if std == "MST":
        return t.tzname() or "UTC" if offset == 0 else t.strftime("%z")[:3]
    if std[0] in "-Z":
        if std[0] == "Z" and offset == 0:
            return "Z"
        sign, off = ("-", -offset) if offset < 0 else ("+", offset)
        hh, mm, ss = off // 3600, off // 60 % 60, off % 60
        parts = [f"{hh:02d}", f"{mm:02d}", f"{ss:02d}"][: 1 + std.count("0") // 2]
        return sign + (":" if ":" in std else "").join(parts)
    frac = f"{t.microsecond:06d}000"[: len(std) - 1]
    if std[1] == "9":
        frac = frac.rstrip("0")
        return "." + frac if frac else ""
    return "." + frac


def go_time_format(t: datetime, layout: str) -> str:
    """Go's time.Format: layout is written as the reference time Mon Jan 2 15:04:05 MST 2006."""
    out: list[str] = []
    i = 0
    while i < len(layout):
        std = _std_at(layout, i)
        if std is None:
            out.append(layout[i])
            i += 1
        else:
            out.append(_std_value(std, t))
            i += len(std)
    return "".join(out)


_STRFTIME = {
    "B": "January",
    "b": "Jan",
    "m": "01",
    "A": "Monday",
    "a": "Mon",
    "d": "02",
    "H": "15",
    "I": "03",
    "M": "04",
    "S": "05",
    "Y": "2006",
    "y": "06",
    "p": "PM",
    "Z": "MST",
    "z": "-0700",
}


def _strftime(fmt: str, t: datetime) -> str:
    """jehiah/go-strftime as Packer uses it; other letters fall back to C strftime."""
    out: list[str] = []
    i = 0
    while i < len(fmt):
        j = fmt.find("%", i)
        if j < 0 or j + 1 >= len(fmt):
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        c = fmt[j + 1]
        if c == "%":
            out.append("%")
        elif c in _STRFTIME:
            out.append(go_time_format(t, _STRFTIME[c]))
        elif c.isalpha():
            try:
                out.append(time.strftime("%" + c, t.timetuple()))
            except ValueError:
                out.append("%" + c)
        else:
            out.append("%" + c)
        i = j + 2
    return "".join(out)
