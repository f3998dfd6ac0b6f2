"""Packer 1.6.6's boot command key language, parsed once into a typed key sequence.

The grammar is Packer's (a PEG, tried in this order at every position):

- `<wait>`, `<wait5>`, `<wait10>`, `<waitXX>` with a Go duration (`300ms`, `1m30s`);
  `wait` is lowercase only, a bare integer counts seconds, and `<wait0>` waits 1s as
  1.6.6's parser has it;
- `<cOn>` / `<cOff>`: hold or release one character;
- `<enter>`, `<leftAltOn>`, …: a special key (case-insensitive), optionally `On`/`Off`;
- anything else is one character typed as it is, `<` included.

`parse` follows that grammar and raises only where 1.6.6 fails (a malformed duration,
a wait that is not positive). `problems` adds pybuild's own checks for `validate`: a
`<...>` that looks like a key or a wait but is neither, which 1.6.6 would type as text.
Keys are abstract: a special key's lowercase name (`enter`, `leftshift`) or one
character; each driver translates them (X11 keysyms, USB HID usages below).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass

# Packer's SpecialKey alternatives, in the grammar's order (the order decides matches).
SPECIAL_KEYS: tuple[str, ...] = (
    "bs", "del", "enter", "esc", "f10", "f11", "f12",
    "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9",
    "return", "tab", "up", "down", "spacebar", "insert", "home",
    "end", "pageUp", "pageDown", "leftAlt", "leftCtrl", "leftShift",
    "rightAlt", "rightCtrl", "rightShift", "leftSuper", "rightSuper",
    "left", "right",
)  # fmt: skip
SHIFT = "leftshift"
# Characters typed with Shift held on a US keyboard, as Packer's drivers decide.
SHIFTED_CHARS = '~!@#$%^&*()_+{}|:"<>?'
_UNITS = ("ns", "us", "µs", "ms", "s", "m", "h")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9}
_UNIT_NS["h"] = 3600 * 10**9
_MAX_NS = 2**63 - 1
_DIGITS = "0123456789"


@dataclass(frozen=True)
class KeyPress:
    """Press and release `key`; `shift`: hold Shift around it (`A`, `:`)."""

    key: str
    shift: bool = False


@dataclass(frozen=True)
class KeyDown:
    """Hold `key` down (`<leftCtrlOn>`, `<cOn>`), with Shift first when it needs it."""

    key: str
    shift: bool = False


@dataclass(frozen=True)
class KeyUp:
    """Release `key` (`<leftCtrlOff>`, `<cOff>`), and Shift with it when it needed it."""

    key: str
    shift: bool = False


@dataclass(frozen=True)
class Wait:
    """Pause before the next key (`<wait>`, `<wait10>`, `<wait1m30s>`)."""

    seconds: float


Action = KeyPress | KeyDown | KeyUp | Wait


class BootCommandError(ValueError):
    """A boot command the key language rejects; `start`/`end` are offsets in the text."""

    def __init__(self, message: str, start: int, end: int, hint: str | None = None):
        super().__init__(message)
        self.message, self.start, self.end, self.hint = message, start, end, hint


def is_special(key: str) -> bool:
    """True for a special key's name, False for a character."""
    return len(key) > 1


def needs_shift(char: str) -> bool:
    """Packer's rule: upper case letters and `~!@#$%^&*()_+{}|:"<>?` are typed with Shift."""
    return char.isupper() or char in SHIFTED_CHARS


def parse(text: str) -> tuple[Action, ...]:
    """The actions of a boot command (all its strings joined, as Packer joins them)."""
    actions: list[Action] = []
    for token in _scan(text):
        if isinstance(token, BootCommandError):
            raise token
        actions.append(token.action)
    return tuple(actions)


def problems(text: str) -> list[BootCommandError]:
    """Every error `parse` would raise, and every `<...>` that is a misspelt key or wait."""
    found: list[BootCommandError] = []
    for token in _scan(text):
        if isinstance(token, BootCommandError):
            found.append(token)
        elif token.char == "<":
            mistake = _misspelt(text, token.start)
            if mistake is not None:
                found.append(mistake)
    return found


def format_duration(seconds: float) -> str:
    """Go's Duration.String() for a wait: `1s`, `1m30s`, `300ms`, `-1s`."""
    from builder.config import format_go_duration

    return ("-" + format_go_duration(-seconds)) if seconds < 0 else format_go_duration(seconds)


@dataclass(frozen=True)
class _Token:
    """What the grammar matched at [start, end); `char` is set for a Literal."""

    start: int
    end: int
    action: Action
    char: str = ""


def _scan(text: str) -> Iterator[_Token | BootCommandError]:
    """Packer's Expr: Wait / CharToggle / Special / Literal at each position."""
    i, n = 0, len(text)
    while i < n:
        if text[i] == "<":
            for rule in (_wait, _char_toggle, _special):
                got = rule(text, i)
                if got is not None:
                    yield got
                    i = got.end
                    break
            else:
                yield _Token(i, i + 1, KeyPress("<", True), "<")
                i += 1
            continue
        yield _Token(i, i + 1, KeyPress(text[i], needs_shift(text[i])), text[i])
        i += 1


def _wait(text: str, i: int) -> _Token | BootCommandError | None:
    """`<wait` (Duration / Integer)? `>`; a bad duration is an error even without `>`."""
    if not text.startswith("<wait", i):
        return None
    j = i + 5
    seconds = 1.0
    error: str | None = None
    end = _duration(text, j)
    if end is not None:
        ns, error = _go_parse_duration(text[j:end])
        seconds = ns / 1e9
    elif j < len(text) and text[j] == "0":  # Packer's Integer '0' carries no value: 1s
        end = j + 1
    elif j < len(text) and text[j] in "123456789":
        end = _digits(text, j + 1)
        value = int(text[j:end])
        if value >= 2**63:
            error = f'strconv.ParseInt: parsing "{text[j:end]}": value out of range'
        elif value * 10**9 > _MAX_NS:
            error = f'time: invalid duration "{text[j:end]}s"'
        seconds = float(value)
    else:
        end = j
    closed = end < len(text) and text[end] == ">"
    token_end = end + 1 if closed else end
    if error is not None:
        return BootCommandError(f"invalid wait '{text[i:token_end]}': {error}", i, token_end)
    if not closed:
        return None
    if seconds <= 0:
        message = f"Expecting a positive wait value. Got {format_duration(seconds)}"
        return BootCommandError(message, i, token_end)
    return _Token(i, token_end, Wait(seconds))


def _char_toggle(text: str, i: int) -> _Token | None:
    """`<` any-character (On / Off) `>`: hold or release one character."""
    if i + 2 >= len(text):
        return None
    char = text[i + 1]
    toggle = _on_off(text, i + 2)
    if toggle is None:
        return None
    down, end = toggle
    if end >= len(text) or text[end] != ">":
        return None
    shift = needs_shift(char)
    return _Token(i, end + 1, KeyDown(char, shift) if down else KeyUp(char, shift))


def _special(text: str, i: int) -> _Token | None:
    """`<` SpecialKey (On / Off)? `>`; the first name that matches is kept (PEG choice)."""
    lowered = text[i + 1 : i + 12].lower()
    for name in SPECIAL_KEYS:
        if lowered.startswith(name.lower()):
            break
    else:
        return None
    key, j = name.lower(), i + 1 + len(name)
    toggle = _on_off(text, j)
    if toggle is not None:
        j = toggle[1]
    if j >= len(text) or text[j] != ">":
        return None
    if toggle is None:
        return _Token(i, j + 1, KeyPress(key))
    return _Token(i, j + 1, KeyDown(key) if toggle[0] else KeyUp(key))


def _on_off(text: str, i: int) -> tuple[bool, int] | None:
    """`on`/`off` in any case at `i`: (down, end)."""
    if text[i : i + 2].lower() == "on":
        return True, i + 2
    if text[i : i + 3].lower() == "off":
        return False, i + 3
    return None


def _digits(text: str, i: int) -> int:
    while i < len(text) and text[i] in _DIGITS:
        i += 1
    return i


def _number(text: str, i: int) -> int | None:
    """Packer's Number: '-'? Integer ('.' Digit+)? where Integer is '0' / [1-9][0-9]*."""
    j = i + 1 if i < len(text) and text[i] == "-" else i
    if j >= len(text) or text[j] not in _DIGITS:
        return None
    j = j + 1 if text[j] == "0" else _digits(text, j + 1)
    if j + 1 < len(text) and text[j] == "." and text[j + 1] in _DIGITS:
        j = _digits(text, j + 1)
    return j


def _duration(text: str, i: int) -> int | None:
    """Packer's Duration: (Number TimeUnit)+; the end offset, or None."""
    j, parts = i, 0
    while True:
        k = _number(text, j)
        if k is None:
            break
        unit = next((u for u in _UNITS if text.startswith(u, k)), None)
        if unit is None:
            break
        j, parts = k + len(unit), parts + 1
    return j if parts else None


_GO_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")


def _go_parse_duration(value: str) -> tuple[int, str | None]:
    """Go's time.ParseDuration on text the grammar matched: (nanoseconds, error)."""
    sign, body = (-1, value[1:]) if value.startswith("-") else (1, value)
    total, pos = 0, 0
    while pos < len(body):
        m = _GO_PART.match(body, pos)
        assert m is not None  # the pattern matches the empty string
        whole, frac, unit = m.group(1), m.group(2) or "", m.group(3)
        if unit not in _UNIT_NS:
            return 0, f'time: unknown unit "{unit}" in duration "{value}"'
        scale = _UNIT_NS[unit]
        part = int(whole or "0") * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        total += part
        if total > _MAX_NS:
            return 0, f'time: invalid duration "{value}"'
        pos = m.end()
    return sign * total, None


# `<name>` shapes worth a second look at validate time: letters, digits and what durations use.
_ANGLED = re.compile(r"<([A-Za-z][A-Za-z0-9 .µ_-]{0,31})>")
_CANDIDATES = [*SPECIAL_KEYS, "wait", "wait5", "wait10"]
_CANDIDATES += [f"{k}{t}" for k in SPECIAL_KEYS for t in ("On", "Off")]
_WAIT_HINT = "write <wait>, <wait5>, <wait10> or <waitXX> with a Go duration such as 300ms or 1m30s"


def _misspelt(text: str, i: int) -> BootCommandError | None:
    """A `<...>` at `i` that 1.6.6 types as text but is almost certainly a misspelt key."""
    m = _ANGLED.match(text, i)
    if m is None:
        return None
    name, end = m.group(1), m.end()
    bare = name.strip()
    if bare.lower().startswith("wait"):
        fixed = "<wait" + bare[4:].replace(" ", "") + ">"
        got = _wait(fixed, 0)
        hint = f"did you mean '{fixed}'?" if isinstance(got, _Token) else _WAIT_HINT
        return BootCommandError(f"invalid wait '<{name}>'", i, end, hint)
    if bare.lower() == "menu":
        return BootCommandError(
            "'<menu>' is not a key Packer 1.6.6 can type (it would be typed as text)", i, end
        )
    by_lower = {c.lower(): c for c in _CANDIDATES}
    exact = by_lower.get(bare.lower())
    close = [exact] if exact else difflib.get_close_matches(bare.lower(), list(by_lower), 1, 0.75)
    if not close:
        return None
    suggestion = by_lower.get(close[0], close[0])
    return BootCommandError(
        f"unknown key '<{name}>' (it would be typed as text)",
        i,
        end,
        f"did you mean '<{suggestion}>'?",
    )


# Control characters that stand for a key of their own (Packer sends them as they are).
_CONTROL_KEYS = {
    "\n": "enter",
    "\r": "enter",
    "\t": "tab",
    "\b": "bs",
    "\x1b": "esc",
    "\x7f": "del",
}

# X11 keysyms of the special keys (Packer's VNC driver table; `spacebar` is a space).
X11_KEYSYMS: dict[str, int] = {
    "bs": 0xFF08, "del": 0xFFFF, "down": 0xFF54, "end": 0xFF57, "enter": 0xFF0D,
    "esc": 0xFF1B, "f1": 0xFFBE, "f2": 0xFFBF, "f3": 0xFFC0, "f4": 0xFFC1, "f5": 0xFFC2,
    "f6": 0xFFC3, "f7": 0xFFC4, "f8": 0xFFC5, "f9": 0xFFC6, "f10": 0xFFC7, "f11": 0xFFC8,
    "f12": 0xFFC9, "home": 0xFF50, "insert": 0xFF63, "left": 0xFF51, "leftalt": 0xFFE9,
    "leftctrl": 0xFFE3, "leftshift": 0xFFE1, "leftsuper": 0xFFEB, "pagedown": 0xFF56,
    "pageup": 0xFF55, "return": 0xFF0D, "right": 0xFF53, "rightalt": 0xFFEA,
    "rightctrl": 0xFFE4, "rightshift": 0xFFE2, "rightsuper": 0xFFEC, "spacebar": 0x20,
    "tab": 0xFF09, "up": 0xFF52,
}  # fmt: skip


def keysym(key: str) -> int:
    """The X11 keysym of an abstract key: the table, else the character's own keysym.

    Latin-1 characters are their code point (as Packer sends them), other characters
    `0x01000000 + cp` (X11's Unicode keysyms); the control characters with a key of their
    own type that key (`\\n` and `\\r` Enter, `\\t` Tab), where 1.6.6 sends no usable keysym.
    """
    if is_special(key):
        return X11_KEYSYMS[key]
    if key in _CONTROL_KEYS:
        return X11_KEYSYMS[_CONTROL_KEYS[key]]
    cp = ord(key)
    return cp if cp <= 0xFF else 0x01000000 | cp


# USB HID usage IDs (keyboard page 0x07) of the special keys, for drivers that send scan codes.
USB_USAGES: dict[str, int] = {
    "enter": 0x28, "return": 0x28, "esc": 0x29, "bs": 0x2A, "tab": 0x2B, "spacebar": 0x2C,
    "f1": 0x3A, "f2": 0x3B, "f3": 0x3C, "f4": 0x3D, "f5": 0x3E, "f6": 0x3F, "f7": 0x40,
    "f8": 0x41, "f9": 0x42, "f10": 0x43, "f11": 0x44, "f12": 0x45, "insert": 0x49,
    "home": 0x4A, "pageup": 0x4B, "del": 0x4C, "end": 0x4D, "pagedown": 0x4E, "right": 0x4F,
    "left": 0x50, "down": 0x51, "up": 0x52, "leftctrl": 0xE0, "leftshift": 0xE1,
    "leftalt": 0xE2, "leftsuper": 0xE3, "rightctrl": 0xE4, "rightshift": 0xE5,
    "rightalt": 0xE6, "rightsuper": 0xE7,
}  # fmt: skip
# Characters by the usage of their key on a US keyboard, unshifted and shifted rows alike.
_USB_ROWS = (
    ("abcdefghijklmnopqrstuvwxyz", 0x04),
    ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0x04),
    ("1234567890", 0x1E),
    ("!@#$%^&*()", 0x1E),
    (" ", 0x2C),
    ("-=[]\\", 0x2D),
    ("_+{}|", 0x2D),
    (";'`,./", 0x33),
    (':"~<>?', 0x33),
)
USB_CHARS: dict[str, int] = {c: base + n for chars, base in _USB_ROWS for n, c in enumerate(chars)}


def usb_usage(key: str) -> int | None:
    """The USB HID usage of an abstract key (its US-layout key for a character), or None.

    Shift is not part of the answer: the step holds `leftshift` around characters that
    need it, as it does for every driver.
    """
    if is_special(key):
        return USB_USAGES.get(key)
    if key in _CONTROL_KEYS:
        return USB_USAGES[_CONTROL_KEYS[key]]
    return USB_CHARS.get(key)
