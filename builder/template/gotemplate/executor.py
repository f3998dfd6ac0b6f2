"""The template executor: walks a parse tree with a function map and a dot."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from builder.errors import InterpolationError
from builder.template.gotemplate.builtins import BUILTINS
from builder.template.gotemplate.gofmt import format_value
from builder.template.gotemplate.nodes import (
    NAME,
    Action,
    Chain,
    Command,
    Control,
    Dot,
    Field,
    Identifier,
    Literal,
    Nil,
    Node,
    Pipe,
    Text,
    Variable,
    arg_str,
    line_of,
    template_error,
)
from builder.template.gotemplate.parser import Parser
from builder.template.gotemplate.values import ArgTypeError, Deferred, sorted_keys, truth, type_name


class _NoData:
    """The dot when no data is given: fields on it are deferred to a later render."""


_NO_DATA = _NoData()
_MISSING = object()


class _Defer(Exception):
    """Raised when an action needs a deferred value; the action is re-emitted as source."""


def _has_args(args: list[Node], final: Any) -> bool:
    """Whether a command's first operand is given arguments, written or piped in."""
    return len(args) > 1 or final is not _MISSING


class Template:
    """A parsed template: execute it with a function map and a dot."""

    __slots__ = ("idents", "root", "text")

    def __init__(self, text: str, root: list[Node], idents: Mapping[str, int]):
        self.text, self.root, self.idents = text, root, dict(idents)

    def check_funcs(self, funcs: Mapping[str, Any]) -> None:
        """Go's parse-time check: every called function must be defined."""
        for name, pos in self.idents.items():
            if name not in funcs and name not in BUILTINS:
                raise template_error(self.text, pos, f'function "{name}" not defined')

    def execute(
        self,
        funcs: Mapping[str, Callable[..., Any]],
        data: Any = None,
        *,
        defer_fields: bool = False,
    ) -> str:
        """Run the template; with defer_fields, {{.X}} renders back to itself."""
        self.check_funcs(funcs)
        state = _State(self.text, funcs, _NO_DATA if defer_fields else data)
        try:
            state.walk(state.vars[0][1], self.root)
        except RecursionError:  # the parser's nesting limit keeps this for deep callers
            raise InterpolationError(f"template: {NAME}: nested too deeply to execute") from None
        return "".join(state.out)


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Template:
    """Parse a template (cached by text); raises InterpolationError on syntax errors."""
    p = Parser(text)
    try:
        root = p.parse()
    except RecursionError:  # below the parser's nesting limit only when called deep down
        raise InterpolationError(f"template: {NAME}: nested too deeply to parse") from None
    return Template(text, root, p.idents)


class _State:
    """Execution state: output, variable stack and the node being evaluated (for errors)."""

    def __init__(self, text: str, funcs: Mapping[str, Callable[..., Any]], data: Any):
        self.text = text
        self.funcs = funcs
        self.out: list[str] = []
        self.vars: list[list[Any]] = [["$", data]]
        self.node: Node | None = None

    def fail(self, msg: str, node: Node | None = None) -> NoReturn:
        raise InterpolationError(self.where(node or self.node) + msg)

    def where(self, node: Node | None) -> str:
        """Go's ErrorContext prefix: template: root:LINE:COL: executing "root" at <node>: ."""
        if node is None:
            return f"template: {NAME}: "
        pos = node.pos
        col = pos - (self.text.rfind("\n", 0, pos) + 1)
        context = str(node)
        if len(context) > 20:
            context = context[:20] + "..."
        line = line_of(self.text, pos)
        return f'template: {NAME}:{line}:{col}: executing "{NAME}" at <{context}>: '

    def walk(self, dot: Any, nodes: list[Node]) -> None:
        for node in nodes:
            t = type(node)
            if t is Text:
                self.out.append(node.text)  # type: ignore[attr-defined]
            elif t is Action:
                self.walk_action(dot, node)  # type: ignore[arg-type]
            elif node.kind == "range":  # type: ignore[attr-defined]
                self.walk_range(dot, node)  # type: ignore[arg-type]
            else:
                self.walk_if_with(dot, node)  # type: ignore[arg-type]

    def walk_action(self, dot: Any, node: Action) -> None:
        try:
            val = self.eval_pipeline(dot, node.pipe)
        except _Defer:
            self.out.append("{{" + node.src + "}}")
            return
        if not node.pipe.decls:
            self.node = node
            if inspect.isroutine(val):
                self.fail(f"can't print {node.pipe} of type func")
            self.out.append("<no value>" if val is None else format_value(val))

    def eval_control(self, dot: Any, node: Control, decl: bool = True) -> Any:
        """The control's pipeline value, or _MISSING once a deferred control is re-emitted."""
        mark = len(self.vars)
        try:
            val = self.eval_pipeline(dot, node.pipe, decl)
            if isinstance(val, Deferred):
                raise _Defer
            return val
        except _Defer:
            del self.vars[mark:]
            self.out.append(node.src)
            return _MISSING

    def walk_if_with(self, dot: Any, node: Control) -> None:
        mark = len(self.vars)
        val = self.eval_control(dot, node)
        if val is _MISSING:
            return
        if truth(val):
            self.walk(val if node.kind == "with" else dot, node.body)
        elif node.else_body is not None:
            self.walk(dot, node.else_body)
        del self.vars[mark:]

    def walk_range(self, dot: Any, node: Control) -> None:
        mark = len(self.vars)
        val = self.eval_control(dot, node, decl=False)
        if val is _MISSING:
            return
        self.vars.extend([name, val] for name in node.pipe.decls)
        inner = len(self.vars)
        items = self.range_items(val, node)
        for index, elem in items:
            if node.pipe.decls:
                self.vars[-1][1] = elem
            if len(node.pipe.decls) > 1:
                self.vars[-2][1] = index
            self.walk(elem, node.body)
            del self.vars[inner:]
        if not items and node.else_body is not None:
            self.walk(dot, node.else_body)
        del self.vars[mark:]

    def range_items(self, val: Any, node: Control) -> list[tuple[Any, Any]]:
        if val is None:
            return []
        if isinstance(val, Mapping):
            return [(k, val[k]) for k in sorted_keys(val)]
        if isinstance(val, (list, tuple)):
            return list(enumerate(val))
        if isinstance(val, int) and not isinstance(val, bool):
            return list(enumerate(range(val)))
        self.fail(f"range can't iterate over {format_value(val)}", node)

    def eval_pipeline(self, dot: Any, pipe: Pipe, decl: bool = True) -> Any:
        val: Any = _MISSING
        for cmd in pipe.cmds:
            val = self.eval_command(dot, cmd, val)
        if decl:
            for name in pipe.decls:
                if pipe.is_assign:
                    self.set_var(name, val, pipe)
                else:
                    self.vars.append([name, val])
        return val

    def var_entry(self, name: str, node: Node) -> list[Any]:
        """The innermost [name, value] slot of a variable."""
        for entry in self.vars[::-1]:
            if entry[0] == name:
                return entry
        self.fail(f"undefined variable: {name}", node)

    def set_var(self, name: str, val: Any, node: Node) -> None:
        self.var_entry(name, node)[1] = val

    def var_value(self, name: str, node: Node) -> Any:
        return self.dot_value(self.var_entry(name, node)[1])

    def eval_command(self, dot: Any, cmd: Command, final: Any) -> Any:
        first = cmd.args[0]
        t = type(first)
        if t is Field:
            return self.eval_field_node(dot, first, cmd.args, final)  # type: ignore[arg-type]
        if t is Chain:
            return self.eval_chain(dot, first, cmd.args, final)  # type: ignore[arg-type]
        if t is Identifier:
            return self.eval_function(dot, first, cmd, cmd.args, final)  # type: ignore[arg-type]
        if t is Variable:
            return self.eval_variable(dot, first, cmd.args, final)  # type: ignore[arg-type]
        self.node = first
        self.not_a_function(cmd.args, final)
        if t is Pipe:
            return self.eval_pipeline(dot, first)  # type: ignore[arg-type]
        if t is Dot:
            return self.dot_value(dot)
        if t is Nil:
            self.fail("nil is not a command")
        return first.value  # type: ignore[attr-defined]

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if _has_args(args, final):
            self.fail(f"can't give argument to non-function {arg_str(args[0])}")

    @staticmethod
    def dot_value(dot: Any) -> Any:
        return Deferred("{{.}}") if dot is _NO_DATA else dot

    def eval_arg(self, dot: Any, node: Node) -> Any:
        self.node = node
        t = type(node)
        if t is Literal:
            return node.value  # type: ignore[attr-defined]
        if t is Dot:
            return self.dot_value(dot)
        if t is Nil:
            return None
        if t is Field:
            return self.eval_field_node(dot, node, [node], _MISSING)  # type: ignore[arg-type]
        if t is Variable:
            return self.eval_variable(dot, node, [node], _MISSING)  # type: ignore[arg-type]
        if t is Pipe:
            return self.eval_pipeline(dot, node)  # type: ignore[arg-type]
        if t is Identifier:
            return self.eval_function(dot, node, node, [node], _MISSING)  # type: ignore[arg-type]
        return self.eval_chain(dot, node, [node], _MISSING)  # type: ignore[arg-type]

    def eval_field_node(self, dot: Any, field: Field, args: list[Node], final: Any) -> Any:
        self.node = field
        return self.eval_field_chain(dot, dot, field, field.idents, args, final)

    def eval_chain(self, dot: Any, chain: Chain, args: list[Node], final: Any) -> Any:
        if isinstance(chain.node, Nil):
            self.fail(f"indirection through explicit nil in {chain}", chain)
        receiver = self.eval_arg(dot, chain.node)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_variable(self, dot: Any, var: Variable, args: list[Node], final: Any) -> Any:
        self.node = var
        val = self.var_value(var.idents[0], var)
        if len(var.idents) == 1:
            self.not_a_function(args, final)
            return val
        return self.eval_field_chain(dot, val, var, var.idents[1:], args, final)

    def eval_field_chain(
        self, dot: Any, receiver: Any, node: Node, idents: list[str], args: list[Node], final: Any
    ) -> Any:
        if receiver is _NO_DATA:
            if _has_args(args, final):
                raise _Defer
            return Deferred("{{" + "".join("." + i for i in idents) + "}}")
        for name in idents[:-1]:
            receiver = self.eval_field(dot, name, node, [], _MISSING, receiver)
        return self.eval_field(dot, idents[-1], node, args[1:], final, receiver)

    def eval_field(
        self, dot: Any, name: str, node: Node, args: list[Node], final: Any, receiver: Any
    ) -> Any:
        self.node = node
        if receiver is None:
            return None
        if isinstance(receiver, Deferred):
            raise _Defer
        has_args = bool(args) or final is not _MISSING
        if isinstance(receiver, Mapping):
            if has_args:
                self.fail(f"{name} is not a method but has arguments")
            return receiver.get(name)
        bad = f"can't evaluate field {name} in type {type_name(receiver)}"
        if name.startswith("_") or isinstance(receiver, (str, int, float, complex, list, tuple)):
            self.fail(bad)
        try:
            attr = getattr(receiver, name)
        except AttributeError:
            self.fail(bad)
        if inspect.ismethod(attr) or inspect.isbuiltin(attr):
            return self.eval_call(dot, attr, node, name, args, final)
        if has_args:
            self.fail(f"{name} has arguments but cannot be invoked as function")
        return attr

    def eval_function(
        self, dot: Any, ident: Identifier, node: Node, args: list[Node], final: Any
    ) -> Any:
        self.node = ident
        name = ident.name
        if name in ("and", "or"):
            return self.eval_logic(dot, name, node, args[1:], final)
        fn = self.funcs.get(name) or BUILTINS.get(name)
        if fn is None:
            self.fail(f'"{name}" is not a defined function')
        return self.eval_call(dot, fn, node, name, args[1:], final)

    def eval_logic(self, dot: Any, name: str, node: Node, args: list[Node], final: Any) -> Any:
        """and/or with Go 1.18 short-circuit semantics."""
        if not args and final is _MISSING:
            self.fail(f"wrong number of args for {name}: want at least 1 got 0", node)
        val: Any = None
        for i in range(len(args) + (final is not _MISSING)):
            val = self.eval_arg(dot, args[i]) if i < len(args) else final
            if isinstance(val, Deferred):
                raise _Defer
            if truth(val) != (name == "and"):
                return val
        return val

    def eval_call(
        self, dot: Any, fn: Callable[..., Any], node: Node, name: str, args: list[Node], final: Any
    ) -> Any:
        argv = [self.eval_arg(dot, a) for a in args]
        if final is not _MISSING:
            argv.append(final)
        if any(isinstance(a, Deferred) or a is _NO_DATA for a in argv):
            raise _Defer
        self.node = node
        try:
            return fn(*argv)
        except _Defer:
            raise
        except ArgTypeError as exc:
            self.fail(exc.message)
        except InterpolationError as exc:
            exc.message = self.where(node) + f"error calling {name}: {exc.message}"
            exc.args = (exc.render(),)
            raise
        except TypeError as exc:
            arity = _arity_error(fn, name, len(argv))
            self.fail(arity or f"error calling {name}: {exc}")
        except Exception as exc:  # noqa: BLE001 - Go's safeCall turns panics into errors
            self.fail(f"error calling {name}: {exc}")


def _arity_error(fn: Callable[..., Any], name: str, n: int) -> str | None:
    """Go's 'wrong number of args' message if n arguments cannot bind to fn."""
    try:
        sig = inspect.signature(fn)
        sig.bind(*range(n))
        return None
    except ValueError:
        return None
    except TypeError:
        pass
    params = sig.parameters.values()
    pos = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    lo = sum(1 for p in pos if p.default is p.empty)
    variadic = any(p.kind == p.VAR_POSITIONAL for p in params)
    if not variadic and lo == len(pos):
        return f"wrong number of args for {name}: want {lo} got {n}"
    if n < lo:
        return f"wrong number of args for {name}: want at least {lo} got {n}"
    return f"wrong number of args for {name}: want at most {len(pos)} got {n}"
