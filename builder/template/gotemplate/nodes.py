"""The parse tree, and how a position in the template text is reported."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from builder.errors import InterpolationError

NAME = "root"


def line_of(text: str, pos: int) -> int:
    """The 1-based line of offset pos in text."""
    return text.count("\n", 0, pos) + 1


def template_error(text: str, pos: int, msg: str) -> InterpolationError:
    """A parse-time error in Go's wording: template: root:LINE: msg."""
    return InterpolationError(f"template: {NAME}:{line_of(text, pos)}: {msg}")


@dataclass(slots=True, eq=False)
class Node:
    """A parse-tree node; pos is the offset of its first token."""

    pos: int


@dataclass(slots=True, eq=False)
class Text(Node):
    text: str


@dataclass(slots=True, eq=False)
class Dot(Node):
    def __str__(self) -> str:
        return "."


@dataclass(slots=True, eq=False)
class Nil(Node):
    def __str__(self) -> str:
        return "nil"


@dataclass(slots=True, eq=False)
class Literal(Node):
    """A bool, number or string constant; src is its spelling."""

    src: str
    value: Any

    def __str__(self) -> str:
        return self.src


@dataclass(slots=True, eq=False)
class Field(Node):
    idents: list[str]

    def __str__(self) -> str:
        return "".join("." + i for i in self.idents)


@dataclass(slots=True, eq=False)
class Variable(Node):
    idents: list[str]

    def __str__(self) -> str:
        return ".".join(self.idents)


@dataclass(slots=True, eq=False)
class Identifier(Node):
    name: str

    def __str__(self) -> str:
        return self.name


def arg_str(node: Node) -> str:
    return f"({node})" if isinstance(node, Pipe) else str(node)


@dataclass(slots=True, eq=False)
class Chain(Node):
    """A term followed by fields: (x).Field.Other."""

    node: Node
    fields: list[str]

    def __str__(self) -> str:
        return arg_str(self.node) + "".join("." + f for f in self.fields)


@dataclass(slots=True, eq=False)
class Command(Node):
    args: list[Node]

    def __str__(self) -> str:
        return " ".join(arg_str(a) for a in self.args)


@dataclass(slots=True, eq=False)
class Pipe(Node):
    decls: list[str]
    is_assign: bool
    cmds: list[Command]

    def __str__(self) -> str:
        head = ", ".join(self.decls) + (" = " if self.is_assign else " := ") if self.decls else ""
        return head + " | ".join(str(c) for c in self.cmds)


@dataclass(slots=True, eq=False)
class Action(Node):
    """{{pipeline}}; src is the inner text, used when the action is deferred."""

    pipe: Pipe
    src: str

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclass(slots=True, eq=False)
class Control(Node):
    """{{if}}, {{with}} or {{range}} with optional else; src is its whole source text."""

    kind: str
    pipe: Pipe
    body: list[Node]
    else_body: list[Node] | None
    src: str = ""
    end: int = 0

    def __str__(self) -> str:
        return "{{" + f"{self.kind} {self.pipe}" + "}}"
