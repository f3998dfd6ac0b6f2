"""The Ui a builder, provisioner or post-processor talks through; it emits events to a sink."""

from __future__ import annotations

from builder.events import ErrorMessage, Machine, Message, Progress, Say, Sink


class Ui:
    """What a builder, provisioner or post-processor uses to talk; bound to one target."""

    def __init__(self, sink: Sink, target: str):
        self.sink, self.target = sink, target

    def say(self, text: str) -> None:
        self.sink.emit(Say(self.target, text))

    def message(self, text: str) -> None:
        self.sink.emit(Message(self.target, text))

    def error(self, text: str) -> None:
        self.sink.emit(ErrorMessage(self.target, text))

    def machine(self, type_: str, *data: str) -> None:
        self.sink.emit(Machine(self.target, type_, tuple(data)))

    def progress(self, name: str, done: int, total: int) -> None:
        self.sink.emit(Progress(self.target, name, done, total))

    def ask(self, prompt: str) -> str | None:
        """Ask the person at the terminal; None when nobody can answer."""
        asker = getattr(self.sink, "ask", None)
        return asker(prompt) if asker else None

    def child(self, target: str) -> Ui:
        return Ui(self.sink, target)
