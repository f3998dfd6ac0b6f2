"""The breakpoint provisioner: pauses for enter, skips without a terminal, honours cancel."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from builder.components import PluginOptions
from builder.errors import BuildCancelled
from builder.events import Say
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui
from provisioners.breakpoint import BreakpointConfig, BreakpointProvisioner


def make(**raw: Any) -> BreakpointProvisioner:
    ctx = RenderContext(build_name="web", build_type="null")
    prov = BreakpointProvisioner(
        BreakpointConfig.model_validate(raw),
        PluginOptions(build_name="web", build_type="null", render=ctx),
    )
    prov.prepare()
    return prov


class Asking(RecordingSink):
    """A RecordingSink whose ask can block until `release` is set (someone at the terminal)."""

    def __init__(self, answers: list[str] | None = None, block: bool = False):
        super().__init__(answers=list(answers or []))
        self.block = block
        self.release = threading.Event()

    def ask(self, prompt: str) -> str | None:
        if self.block:
            self.release.wait(10)
        return super().ask(prompt)


def test_pauses_until_enter() -> None:
    sink = Asking([""])
    make(note="check the disk").provision(Ui(sink, "web"), None, {})
    assert sink.texts(Say) == ['Pausing at breakpoint provisioner with note "check the disk".']
    assert sink.prompts == ["Press enter to continue."]


def test_without_note() -> None:
    sink = Asking([""])
    make().provision(Ui(sink, "web"), None, {})
    assert sink.texts(Say) == ["Pausing at breakpoint provisioner."]


def test_disabled() -> None:
    sink = Asking()
    make(note="x", disable=True).provision(Ui(sink, "web"), None, {})
    assert sink.texts(Say) == ['Breakpoint provisioner with note "x" disabled; continuing...']
    assert sink.prompts == []
    sink = Asking()
    make(disable="true").provision(Ui(sink, "web"), None, {})
    assert sink.texts(Say) == ["Breakpoint provisioner disabled; continuing..."]


def test_no_terminal_continues() -> None:
    sink = RecordingSink()
    make(note="n").provision(Ui(sink, "web"), None, {})
    assert sink.texts(Say) == [
        'Pausing at breakpoint provisioner with note "n".',
        "No terminal to wait at (not interactive); continuing...",
    ]


def test_cancel_ends_the_wait() -> None:
    sink = Asking([""], block=True)
    prov = make(note="n")
    threading.Timer(0.1, prov.options.cancel.cancel).start()
    started = time.monotonic()
    try:
        with pytest.raises(BuildCancelled):
            prov.provision(Ui(sink, "web"), None, {})
        assert time.monotonic() - started < 3
    finally:
        sink.release.set()


def test_ask_errors_reach_the_build() -> None:
    class Broken(RecordingSink):
        def ask(self, prompt: str) -> str | None:
            raise OSError("stdin closed")

    with pytest.raises(OSError, match="stdin closed"):
        make().provision(Ui(Broken(), "web"), None, {})
