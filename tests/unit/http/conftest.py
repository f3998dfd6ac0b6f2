"""HTTP server tests: a real BuildRun with the HTTP fields, and free loopback ports."""

from __future__ import annotations

import contextlib
import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from builder.common.http import HTTPConfig, HTTPRunFields
from builder.common.run import BuildRun
from builder.components import PluginOptions
from builder.ledger import Ledger
from builder.multistep import CancelToken
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui


class NoHook:
    """The provisioning hook; these tests never provision."""

    def provision(self, ui: Any, communicator: Any, data: dict[str, str]) -> None:
        raise AssertionError("not expected")

    def error_cleanup(self, ui: Any, communicator: Any, data: dict[str, str], error: Any) -> None:
        raise AssertionError("not expected")


@dataclass(kw_only=True)
class HTTPTestRun(BuildRun[HTTPConfig], HTTPRunFields):
    """A platform run as a builder would declare one: BuildRun plus the HTTP fields."""


def make_run(sink: RecordingSink, **options: Any) -> HTTPTestRun:
    render = RenderContext(user_vars={}, template_path=None, build_name="b", build_type="t")
    return HTTPTestRun(
        ui=Ui(sink, "b"),
        cancel=CancelToken(),
        hook=NoHook(),
        options=PluginOptions(build_name="b", build_type="t", render=render),
        resources=Ledger.memory("run").build("b"),
        config=HTTPConfig.model_validate(options),
    )


def _try_hold(ports: list[int]) -> list[socket.socket] | None:
    held: list[socket.socket] = []
    for port in ports:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            s.close()
            for h in held:
                h.close()
            return None
        held.append(s)
    return held


@contextlib.contextmanager
def held_ports(count: int) -> Iterator[int]:
    """`count` consecutive loopback ports, listened on by this test; yields the first."""
    rng = random.Random()
    for _ in range(200):
        first = rng.randrange(20000, 60000)
        held = _try_hold(list(range(first, first + count)))
        if held is not None:
            try:
                yield first
            finally:
                for s in held:
                    s.close()
            return
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


def free_ports(count: int) -> int:
    """The first of `count` consecutive ports free just now (released at once)."""
    with held_ports(count) as first:
        return first
