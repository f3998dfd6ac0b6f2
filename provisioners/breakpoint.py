"""The breakpoint provisioner: pauses the build until someone presses enter."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from builder.components import Provisioner
from builder.config import PluginConfig
from builder.errors import BuildCancelled

if TYPE_CHECKING:
    from builder.communicator.base import Communicator
    from builder.ui import Ui

POLL_SECONDS = 0.1


class BreakpointConfig(PluginConfig):
    """Options of the breakpoint provisioner."""

    note: str = ""
    disable: bool = False


class BreakpointProvisioner(Provisioner):
    """Says where it stopped and waits for enter; skips itself when nobody can answer."""

    Config = BreakpointConfig
    config: BreakpointConfig

    def provision(self, ui: Ui, communicator: Communicator | None, data: dict[str, str]) -> None:
        note = self.config.note
        if self.config.disable:
            if note:
                ui.say(f'Breakpoint provisioner with note "{note}" disabled; continuing...')
            else:
                ui.say("Breakpoint provisioner disabled; continuing...")
            return
        if note:
            ui.say(f'Pausing at breakpoint provisioner with note "{note}".')
        else:
            ui.say("Pausing at breakpoint provisioner.")
        if self._ask(ui, "Press enter to continue.") is None:
            # Packer fails the build here; pybuild lets unattended runs go on
            ui.say("No terminal to wait at (not interactive); continuing...")

    def _ask(self, ui: Ui, prompt: str) -> str | None:
        """ui.ask in a helper thread, so that cancelling the build ends the wait."""
        answer: list[str | None] = []
        failure: list[BaseException] = []
        done = threading.Event()

        def ask() -> None:
            try:
                answer.append(ui.ask(prompt))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the build's thread
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=ask, name="breakpoint-ask", daemon=True).start()
        cancel = self.options.cancel
        while not done.wait(POLL_SECONDS):
            if cancel.cancelled:
                raise BuildCancelled()
        if failure:
            raise failure[0]
        return answer[0] if answer else None
