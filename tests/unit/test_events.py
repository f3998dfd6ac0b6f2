"""Renderers: progress bars only on a terminal and only for long transfers."""

from __future__ import annotations

import io

import pytest

from builder.events import Progress
from builder.redact import Redactor
from builder.render import human
from builder.render.human import HumanRenderer


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_for_long_transfers_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(human.time, "monotonic", lambda: clock[0])
    out = Tty()
    r = HumanRenderer(out, color=False)
    r.emit(Progress("b", "big.iso", 0, 100))
    clock[0] += 1.0
    r.emit(Progress("b", "big.iso", 40, 100))
    assert out.getvalue() == ""  # under two seconds: nothing drawn
    clock[0] += 1.5
    r.emit(Progress("b", "big.iso", 60, 100))
    clock[0] += 1.0
    r.emit(Progress("b", "big.iso", 100, 100))
    text = out.getvalue()
    assert "[##################------------]  60% big.iso\r" in text
    assert text.endswith("    b: [##############################] 100% big.iso\n")


def test_no_progress_bar_when_not_a_terminal() -> None:
    out = io.StringIO()
    r = HumanRenderer(out, color=False)
    r.emit(Progress("b", "f", 0, 10))
    r.emit(Progress("b", "f", 10, 10))
    assert out.getvalue() == ""


def test_multi_line_secret_is_masked_line_by_line() -> None:
    key = "-----BEGIN KEY-----\nQUJDREVGR0hJSktMTU5PUA==\nc2Vjb25kIGxpbmUgb2Yga2V5\n-----END KEY-----\n"
    redact = Redactor([key])
    assert redact("x c2Vjb25kIGxpbmUgb2Yga2V5 y") == "x <sensitive> y"
    assert redact(key) == "<sensitive>"
    assert redact("-----END KEY-----") == "-----END KEY-----"  # markers alone are not secret
