"""The boot command key language (Packer 1.6.6's grammar), its checks and the key tables."""

from __future__ import annotations

import string

import pytest

from builder.common.boot.keys import (
    SHIFTED_CHARS,
    SPECIAL_KEYS,
    USB_CHARS,
    USB_USAGES,
    X11_KEYSYMS,
    BootCommandError,
    KeyDown,
    KeyPress,
    KeyUp,
    Wait,
    keysym,
    needs_shift,
    parse,
    problems,
    usb_usage,
)


def chars(text: str) -> list[KeyPress]:
    return [KeyPress(c, needs_shift(c)) for c in text]


@pytest.mark.parametrize("name", SPECIAL_KEYS)
def test_every_special_key_in_every_case_and_toggle(name: str) -> None:
    key = name.lower()
    assert parse(f"<{name}>") == (KeyPress(key),)
    assert parse(f"<{name.upper()}>") == (KeyPress(key),)
    assert parse(f"<{name}On>") == (KeyDown(key),)
    assert parse(f"<{name}off>") == (KeyUp(key),)
    assert parse(f"<{name.lower()}OFF>") == (KeyUp(key),)


def test_the_documented_key_list_is_the_grammar() -> None:
    documented = {"bs", "del", "enter", "return", "esc", "tab", "spacebar", "insert"}
    documented |= {f"f{n}" for n in range(1, 13)} | {"up", "down", "left", "right"}
    documented |= {"home", "end", "pageup", "pagedown"}
    documented |= {f"{side}{mod}" for side in ("left", "right") for mod in ("alt", "ctrl")}
    documented |= {f"{side}{mod}" for side in ("left", "right") for mod in ("shift", "super")}
    assert {k.lower() for k in SPECIAL_KEYS} == documented


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("<wait>", 1.0),
        ("<wait5>", 5.0),
        ("<wait10>", 10.0),
        ("<wait0>", 1.0),  # 1.6.6's Integer '0' carries no value: the default 1s
        ("<wait300ms>", 0.3),
        ("<wait1m30s>", 90.0),
        ("<wait1.5s>", 1.5),
        ("<wait2h>", 7200.0),
        ("<wait1h5m2s>", 3902.0),
        ("<wait250us>", 0.00025),
        ("<wait250µs>", 0.00025),
        ("<wait500ns>", 5e-7),
        ("<wait1m-30s>", None),  # Go's ParseDuration rejects a sign after the first part
    ],
)
def test_waits(text: str, seconds: float | None) -> None:
    if seconds is None:
        with pytest.raises(BootCommandError, match='unknown unit "m-"'):
            parse(text)
        return
    (wait,) = parse(text)
    assert isinstance(wait, Wait)
    assert wait.seconds == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["<WAIT5>", "<Wait>", "<wait05>", "<wait1.5>", "<wait5m3>", "<wait-5>", "<wait 5>", "<waitOn>"],
)
def test_what_is_not_a_wait_is_typed_as_text_like_1_6_6(text: str) -> None:
    assert parse(text) == tuple(chars(text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<wait-1s>", "Expecting a positive wait value. Got -1s"),
        ("<wait-0s>", "Expecting a positive wait value. Got 0s"),
        ("<wait0s>", "Expecting a positive wait value. Got 0s"),
        ("<wait-1m30s>", "Expecting a positive wait value. Got -1m30s"),
        ("<wait1s-1s>", 'time: unknown unit "s-" in duration "1s-1s"'),
        ("<wait1s-1s", 'time: unknown unit "s-" in duration "1s-1s"'),  # even unclosed, as 1.6.6
        ("<wait9999999999h>", 'time: invalid duration "9999999999h"'),
        (
            "<wait99999999999999999999>",
            'strconv.ParseInt: parsing "99999999999999999999": value out of range',
        ),
    ],
)
def test_the_errors_1_6_6_raises(text: str, message: str) -> None:
    with pytest.raises(BootCommandError) as info:
        parse("ab" + text)
    assert message in info.value.message
    assert (info.value.start, info.value.end) == (2, 2 + len(text))
    assert [p.message for p in problems("ab" + text)] == [info.value.message]


def test_an_unclosed_negative_wait_is_text() -> None:
    assert parse("<wait-0s") == tuple(chars("<wait-0s"))


def test_literal_less_than() -> None:
    assert parse("<") == (KeyPress("<", True),)
    assert parse("a<b") == tuple(chars("a<b"))
    assert parse("<>") == (KeyPress("<", True), KeyPress(">", True))
    assert parse("<foo>") == tuple(chars("<foo>"))
    assert parse("<enter") == tuple(chars("<enter"))
    assert parse("<<enter>") == (KeyPress("<", True), KeyPress("enter"))
    assert parse("") == ()


def test_character_toggles_with_shift() -> None:
    assert parse("<aOn><aOff>") == (KeyDown("a"), KeyUp("a"))
    assert parse("<Aon>") == (KeyDown("A", True),)
    assert parse("<:OFF>") == (KeyUp(":", True),)
    assert parse("<<On>") == (KeyDown("<", True),)
    assert parse("<1on>") == (KeyDown("1"),)


def test_choices_in_1_6_6s_order() -> None:
    assert parse("<upon>") == (KeyDown("up"),)  # "up" then "on"
    assert parse("<f1On>") == (KeyDown("f1"),)  # the toggle of a character fails first
    assert parse("<f10>") == (KeyPress("f10"),)
    assert parse("<leftOn><leftAltOff>") == (KeyDown("left"), KeyUp("leftalt"))
    assert parse("<end><enter>") == (KeyPress("end"), KeyPress("enter"))
    assert parse("<eOn>") == (KeyDown("e"),)


def test_ctrl_c_and_a_full_line() -> None:
    assert parse("<leftCtrlOn>c<leftCtrlOff>") == (
        KeyDown("leftctrl"),
        KeyPress("c"),
        KeyUp("leftctrl"),
    )
    got = parse("<esc><wait>linux url=http://10.0.2.2:8080/a:b<enter>")
    assert got == (
        KeyPress("esc"),
        Wait(1.0),
        *chars("linux url=http"),
        KeyPress(":", True),
        *chars("//10.0.2.2"),
        KeyPress(":", True),
        *chars("8080/a"),
        KeyPress(":", True),
        KeyPress("b"),
        KeyPress("enter"),
    )


def test_shift_rule_is_packers() -> None:
    assert [c for c in string.printable if needs_shift(c)] == sorted(
        string.ascii_uppercase + SHIFTED_CHARS, key=string.printable.index
    )
    assert needs_shift("É") and not needs_shift("é") and not needs_shift("ß")


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("<entre>", "did you mean '<enter>'?"),
        ("<Entre>", "did you mean '<enter>'?"),
        ("<retrun>", "did you mean '<return>'?"),
        ("<spacebra>", "did you mean '<spacebar>'?"),
        ("<leftCtlOn>", "did you mean '<leftCtrlOn>'?"),
        ("<pageUP >", "did you mean '<pageUp>'?"),
        ("<WAIT5>", "did you mean '<wait5>'?"),
        ("<wait 10>", "did you mean '<wait10>'?"),
        ("<Wait1m 30s>", "did you mean '<wait1m30s>'?"),
    ],
)
def test_misspelt_keys_have_a_did_you_mean(text: str, hint: str) -> None:
    (problem,) = problems("x " + text + " y")
    assert problem.hint == hint
    assert (problem.start, problem.end) == (2, 2 + len(text))
    assert parse(text)  # 1.6.6 would have typed it


def test_other_problems() -> None:
    (bad_wait,) = problems("<wait5x>")
    assert bad_wait.message == "invalid wait '<wait5x>'"
    assert bad_wait.hint is not None and "Go duration" in bad_wait.hint
    (menu,) = problems("<menu>")
    assert "not a key Packer 1.6.6 can type" in menu.message
    # what looks like no key at all is text, as in 1.6.6
    assert problems("<foo> <b> <tap> a<b>c <html attr=x> <> <") == []
    assert problems("<enter><wait5><leftAltOn><f12>") == []


def test_every_special_key_has_a_keysym_and_a_usb_usage() -> None:
    for name in SPECIAL_KEYS:
        assert name.lower() in X11_KEYSYMS and name.lower() in USB_USAGES
    assert set(X11_KEYSYMS) == set(USB_USAGES) == {k.lower() for k in SPECIAL_KEYS}


def test_keysyms() -> None:
    assert keysym("enter") == keysym("return") == 0xFF0D
    assert keysym("esc") == 0xFF1B
    assert keysym("f1") == 0xFFBE and keysym("f12") == 0xFFC9
    assert keysym("leftshift") == 0xFFE1 and keysym("rightsuper") == 0xFFEC
    assert keysym("spacebar") == keysym(" ") == 0x20
    assert keysym("a") == 0x61 and keysym("A") == 0x41 and keysym(":") == 0x3A
    assert keysym("é") == 0xE9  # Latin-1 is its code point, as Packer sends it
    assert keysym("€") == 0x010020AC  # X11's Unicode keysym
    assert keysym("\n") == keysym("\r") == 0xFF0D and keysym("\t") == 0xFF09


def test_usb_usages_are_the_hid_keyboard_page() -> None:
    assert [usb_usage(k) for k in ("enter", "esc", "bs", "tab", "spacebar")] == [
        0x28,
        0x29,
        0x2A,
        0x2B,
        0x2C,
    ]
    assert usb_usage("f1") == 0x3A and usb_usage("f12") == 0x45
    assert [usb_usage(k) for k in ("insert", "home", "pageup", "del", "end", "pagedown")] == [
        0x49,
        0x4A,
        0x4B,
        0x4C,
        0x4D,
        0x4E,
    ]
    assert [usb_usage(k) for k in ("right", "left", "down", "up")] == [0x4F, 0x50, 0x51, 0x52]
    assert [usb_usage(k) for k in ("leftctrl", "leftshift", "leftalt", "leftsuper")] == [
        0xE0,
        0xE1,
        0xE2,
        0xE3,
    ]
    assert [usb_usage(k) for k in ("rightctrl", "rightshift", "rightalt", "rightsuper")] == [
        0xE4,
        0xE5,
        0xE6,
        0xE7,
    ]
    assert usb_usage("a") == usb_usage("A") == 0x04 and usb_usage("z") == 0x1D
    assert usb_usage("1") == usb_usage("!") == 0x1E and usb_usage("0") == usb_usage(")") == 0x27
    assert usb_usage(";") == usb_usage(":") == 0x33 and usb_usage("/") == usb_usage("?") == 0x38
    assert usb_usage("-") == usb_usage("_") == 0x2D and usb_usage("\\") == usb_usage("|") == 0x31
    assert usb_usage("'") == usb_usage('"') == 0x34 and usb_usage("`") == usb_usage("~") == 0x35
    assert usb_usage("\n") == 0x28
    assert usb_usage("é") is None


def test_usb_covers_printable_ascii_with_the_same_shift_rule() -> None:
    """Each printable character has a key, and a key's two characters differ by Shift."""
    printable = string.ascii_letters + string.digits + string.punctuation + " "
    by_usage: dict[int, list[str]] = {}
    for c in printable:
        usage = usb_usage(c)
        assert usage is not None, repr(c)
        by_usage.setdefault(usage, []).append(c)
    for usage, cs in by_usage.items():
        if len(cs) == 2:
            assert sorted(needs_shift(c) for c in cs) == [False, True], (usage, cs)
    assert set(USB_CHARS) == set(printable)
