"""The expression evaluator: HCL's semantics over the values of `values.py`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from builder.template.hcl2 import syntax as s
from builder.template.hcl2.values import (
    BOOL,
    NUMBER,
    STRING,
    UNKNOWN,
    ConversionError,
    Deferred,
    HclSet,
    format_number,
    number,
    type_name,
)


class EvalError(Exception):
    """An expression that cannot be evaluated, at a position; `summary` is HCL's heading."""

    def __init__(self, message: str, pos: s.Pos | None, summary: str = ""):
        super().__init__(message)
        self.message, self.pos, self.summary = message, pos, summary


Function = Callable[..., Any]


@dataclass
class Scope:
    """Names an expression can see, and the functions it can call."""

    variables: dict[str, Any]
    functions: Mapping[str, Function]
    # functions that get the evaluator and the argument nodes (try, can)
    special: Mapping[str, Callable[[Evaluator, list[s.Node], Scope], Any]] = field(
        default_factory=dict
    )

    def child(self, **names: Any) -> Scope:
        return Scope({**self.variables, **names}, self.functions, self.special)


class Evaluator:
    """Evaluates nodes in a scope; `describe_root` words the error for an unknown root name."""

    def __init__(self, describe_root: Callable[[str], str] | None = None):
        self.describe_root = describe_root

    def eval(self, node: s.Node, scope: Scope) -> Any:
        method = getattr(self, "e_" + type(node).__name__)
        return method(node, scope)

    # ---- leaves
    def e_Literal(self, n: s.Literal, scope: Scope) -> Any:
        return n.value

    def e_Parens(self, n: s.Parens, scope: Scope) -> Any:
        return self.eval(n.inner, scope)

    def e_Variable(self, n: s.Variable, scope: Scope) -> Any:
        if n.name in scope.variables:
            return scope.variables[n.name]
        detail = self.describe_root(n.name) if self.describe_root else ""
        raise EvalError(
            f'There is no variable named "{n.name}".' + (f" {detail}" if detail else ""),
            n.pos,
            "Unknown variable",
        )

    # ---- templates
    def e_Template(self, n: s.Template, scope: Scope) -> Any:
        single = n.single
        if single is not None:
            return self.eval(single, scope)
        out: list[str] = []
        deferred = self.parts(n.parts, scope, out)
        if deferred is UNKNOWN:
            return UNKNOWN
        text = "".join(out)
        return Deferred(text) if deferred else text

    def parts(self, parts: list[s.TemplatePart], scope: Scope, out: list[str]) -> Any:
        deferred: Any = False
        for p in parts:
            if isinstance(p, s.LitPart):
                out.append(p.text)
            elif isinstance(p, s.InterpPart):
                v = self.eval(p.expr, scope)
                if v is UNKNOWN:
                    return UNKNOWN
                deferred = deferred or isinstance(v, Deferred)
                out.append(self.to_template_string(v, p.expr.pos))
            elif isinstance(p, s.IfPart):
                c = self.want_bool(self.eval(p.cond, scope), p.cond.pos, "condition")
                if c is UNKNOWN:
                    return UNKNOWN
                r = self.parts(p.then if c else p.else_, scope, out)
                if r is UNKNOWN:
                    return UNKNOWN
                deferred = deferred or r
            else:
                assert isinstance(p, s.ForPart)
                coll = self.eval(p.coll, scope)
                for k, v in self.iterate(coll, p.coll.pos):
                    names = {p.value: v}
                    if p.key:
                        names[p.key] = k
                    r = self.parts(p.body, scope.child(**names), out)
                    if r is UNKNOWN:
                        return UNKNOWN
                    deferred = deferred or r
        return deferred

    def to_template_string(self, v: Any, pos: s.Pos) -> str:
        if v is None:
            raise EvalError(
                "The expression result is null. Cannot include a null value in a string template.",
                pos,
                "Invalid template interpolation value",
            )
        try:
            return str(STRING.convert(v))
        except ConversionError:
            raise EvalError(
                f"Cannot include the given value in a string template: string required, "
                f"got {type_name(v)}.",
                pos,
                "Invalid template interpolation value",
            ) from None

    # ---- traversal
    def e_GetAttr(self, n: s.GetAttr, scope: Scope) -> Any:
        return self.get_attr(self.eval(n.obj, scope), n.name, n.pos)

    def get_attr(self, obj: Any, name: str, pos: s.Pos) -> Any:
        if obj is UNKNOWN:
            return UNKNOWN
        if isinstance(obj, dict):
            if name in obj:
                return obj[name]
            missing = getattr(obj, "missing", None)
            if missing is not None:
                return missing(name, pos)
            raise EvalError(
                f'This object does not have an attribute named "{name}".',
                pos,
                "Unsupported attribute",
            )
        if obj is None:
            raise EvalError(
                "Can't access attributes on a null value.",
                pos,
                "Attempt to get attribute from null value",
            )
        if isinstance(obj, list) and not isinstance(obj, HclSet):
            raise EvalError(
                f"Can't access attributes on a list of objects. Did you mean to access attribute "
                f'"{name}" for a specific element of the list, or across all elements of the '
                "list?",
                pos,
                "Unsupported attribute",
            )
        raise EvalError(
            f"Can't access attributes on a primitive-typed value ({type_name(obj)}).",
            pos,
            "Unsupported attribute",
        )

    def e_Index(self, n: s.Index, scope: Scope) -> Any:
        return self.index(self.eval(n.obj, scope), self.eval(n.key, scope), n.pos)

    def index(self, obj: Any, key: Any, pos: s.Pos) -> Any:
        if obj is UNKNOWN or key is UNKNOWN:
            return UNKNOWN
        if obj is None:
            raise EvalError("Can't access an element of a null value.", pos, "Invalid index")
        if isinstance(obj, dict):
            try:
                k = str(STRING.convert(key))
            except ConversionError:
                raise EvalError("The given key is not a string.", pos, "Invalid index") from None
            if k not in obj:
                raise EvalError(
                    f'The given key does not identify an element in this collection value: "{k}".',
                    pos,
                    "Invalid index",
                )
            return obj[k]
        if isinstance(obj, HclSet):
            raise EvalError(
                "Elements of a set are identified only by their value and don't have any "
                "separate index or key to select with, so it's only possible to perform "
                "operations across all elements of the set.",
                pos,
                "Invalid index",
            )
        if isinstance(obj, list):
            try:
                i = NUMBER.convert(key)
            except ConversionError:
                raise EvalError(
                    "The given key is not a valid index.", pos, "Invalid index"
                ) from None
            if not isinstance(i, int) or i < 0 or i >= len(obj):
                raise EvalError(
                    "The given key does not identify an element in this collection value.",
                    pos,
                    "Invalid index",
                )
            return obj[i]
        raise EvalError(
            f"This value does not have any indices ({type_name(obj)}).", pos, "Invalid index"
        )

    def e_Splat(self, n: s.Splat, scope: Scope) -> Any:
        obj = self.eval(n.obj, scope)
        if obj is UNKNOWN:
            return UNKNOWN
        if obj is None:
            return []
        items = list(obj) if isinstance(obj, list) else [obj]
        out = []
        for item in items:
            v = item
            for kind, arg in n.each:
                if kind == "attr":
                    v = self.get_attr(v, arg, n.pos)
                else:
                    v = self.index(v, self.eval(arg, scope), n.pos)
            out.append(v)
        return out

    # ---- operators
    def e_Unary(self, n: s.Unary, scope: Scope) -> Any:
        v = self.eval(n.operand, scope)
        if v is UNKNOWN:
            return UNKNOWN
        if n.op == "!":
            return not self.want_bool(v, n.operand.pos, "operand")
        return number(-self.want_number(v, n.operand.pos))

    def e_Binary(self, n: s.Binary, scope: Scope) -> Any:
        op = n.op
        left = self.eval(n.left, scope)
        if op in ("&&", "||"):
            lb = left if left is UNKNOWN else self.want_bool(left, n.left.pos, "operand")
            if op == "&&" and lb is False:
                return False
            if op == "||" and lb is True:
                return True
            right = self.eval(n.right, scope)
            rb = right if right is UNKNOWN else self.want_bool(right, n.right.pos, "operand")
            if lb is UNKNOWN or rb is UNKNOWN:
                return UNKNOWN
            return rb
        right = self.eval(n.right, scope)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        if op == "==":
            return equal(left, right)
        if op == "!=":
            return not equal(left, right)
        a = self.want_number(left, n.left.pos)
        b = self.want_number(right, n.right.pos)
        if op == "+":
            return number(a + b)
        if op == "-":
            return number(a - b)
        if op == "*":
            return number(a * b)
        if op == "/":
            if b == 0:
                if a == 0:
                    raise EvalError("Can't divide zero by zero.", n.pos, "Operation failed")
                return math.inf if a > 0 else -math.inf
            return number(a / b)
        if op == "%":
            if b == 0:
                raise EvalError("Can't use modulo by zero.", n.pos, "Operation failed")
            return number(math.fmod(a, b))
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]

    def want_number(self, v: Any, pos: s.Pos) -> Any:
        try:
            out = NUMBER.convert(v)
        except ConversionError:
            out = None
        if out is None:
            raise EvalError(
                f"Unsuitable value for operand: a number is required, got {type_name(v)}.",
                pos,
                "Invalid operand",
            )
        return out

    def want_bool(self, v: Any, pos: s.Pos, what: str) -> Any:
        if v is UNKNOWN:
            return UNKNOWN
        try:
            out = BOOL.convert(v)
        except ConversionError:
            out = None
        if out is None:
            if what == "condition":
                raise EvalError(
                    f"The condition value is {'null' if v is None else 'not a bool'}: "
                    f"a bool is required, got {type_name(v)}.",
                    pos,
                    "Incorrect condition type",
                )
            raise EvalError(
                f"Unsuitable value for {what}: a bool is required, got {type_name(v)}.",
                pos,
                "Invalid operand",
            )
        return out

    def e_Conditional(self, n: s.Conditional, scope: Scope) -> Any:
        c = self.want_bool(self.eval(n.cond, scope), n.cond.pos, "condition")
        if c is UNKNOWN:
            return UNKNOWN
        return self.eval(n.then if c else n.else_, scope)

    # ---- constructors
    def e_TupleCons(self, n: s.TupleCons, scope: Scope) -> Any:
        return [self.eval(i, scope) for i in n.items]

    def e_ObjectCons(self, n: s.ObjectCons, scope: Scope) -> Any:
        out: dict[str, Any] = {}
        for k, v in n.items:
            key = self.eval(k, scope)
            if key is UNKNOWN:
                return UNKNOWN
            if key is None:
                raise EvalError("Can't use a null value as a key.", k.pos, "Invalid object key")
            try:
                name = str(STRING.convert(key))
            except ConversionError:
                raise EvalError(
                    f"Can't use this value as a key: string required, got {type_name(key)}.",
                    k.pos,
                    "Incorrect key type",
                ) from None
            out[name] = self.eval(v, scope)
        return out

    def e_ForExpr(self, n: s.ForExpr, scope: Scope) -> Any:
        coll = self.eval(n.coll, scope)
        if coll is UNKNOWN:
            return UNKNOWN
        obj: dict[str, Any] = {}
        items: list[Any] = []
        for k, v in self.iterate(coll, n.coll.pos):
            names = {n.value_var: v}
            if n.key_var:
                names[n.key_var] = k
            inner = scope.child(**names)
            if n.cond is not None:
                c = self.want_bool(self.eval(n.cond, inner), n.cond.pos, "condition")
                if c is UNKNOWN:
                    return UNKNOWN
                if not c:
                    continue
            if n.key is None:
                items.append(self.eval(n.value, inner))
                continue
            key = self.eval(n.key, inner)
            if key is UNKNOWN:
                return UNKNOWN
            try:
                ks = str(STRING.convert(key))
            except ConversionError:
                raise EvalError(
                    f"Key expression in 'for' expression must be a string, got {type_name(key)}.",
                    n.key.pos,
                    "Invalid object key",
                ) from None
            value = self.eval(n.value, inner)
            if n.group:
                obj.setdefault(ks, []).append(value)
            elif ks in obj:
                raise EvalError(
                    f"Two different items produced the key \"{ks}\" in this 'for' expression. "
                    "If duplicates are expected, use the ellipsis (...) after the value "
                    "expression to enable grouping by key.",
                    n.key.pos,
                    "Duplicate object key",
                )
            else:
                obj[ks] = value
        return items if n.key is None else obj

    def iterate(self, coll: Any, pos: s.Pos) -> list[tuple[Any, Any]]:
        if coll is None:
            raise EvalError(
                "A null value cannot be used as the collection in a 'for' expression.",
                pos,
                "Iteration over null value",
            )
        if isinstance(coll, dict):
            return [(k, coll[k]) for k in sorted(coll)]
        if isinstance(coll, HclSet):
            return [(v, v) for v in coll]
        if isinstance(coll, list):
            return list(enumerate(coll))
        raise EvalError(
            f"A value of type {type_name(coll)} cannot be used as the collection in a 'for' "
            "expression.",
            pos,
            "Iteration over non-iterable value",
        )

    # ---- calls
    def e_Call(self, n: s.Call, scope: Scope) -> Any:
        special = scope.special.get(n.name)
        if special is not None:
            return special(self, n.args, scope)
        fn = scope.functions.get(n.name)
        if fn is None:
            raise EvalError(
                f'There is no function named "{n.name}".', n.pos, "Call to unknown function"
            )
        args = [self.eval(a, scope) for a in n.args]
        if n.expand_last and args:
            last = args.pop()
            if not isinstance(last, list):
                raise EvalError(
                    "The expanding argument (indicated by ...) must be of a tuple, list, or set "
                    "type.",
                    n.args[-1].pos,
                    "Invalid expanding argument value",
                )
            args.extend(last)
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        try:
            return fn(*args)
        except EvalError as exc:
            if exc.pos is None:
                exc.pos = n.pos
            raise
        except FunctionError as exc:
            raise EvalError(
                f'Call to function "{n.name}" failed: {exc}', n.pos, "Error in function call"
            ) from None
        except TypeError:
            wrong = _arity(fn, len(args))
            if wrong is None:  # a TypeError from inside the function: a bug, not the user's
                raise
            raise EvalError(
                f'Function "{n.name}" {wrong}.', n.pos, "Wrong number of arguments"
            ) from None


def _arity(fn: Callable[..., Any], given: int) -> str | None:
    """What is wrong with calling `fn` with `given` arguments, in HCL's words; None if nothing."""
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return "was called with the wrong number of arguments"
    try:
        sig.bind(*([None] * given))
    except TypeError:
        params = list(sig.parameters.values())
        if any(p.kind is p.VAR_POSITIONAL for p in params):
            least = sum(
                1 for p in params if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty
            )
            return f"expects at least {least} argument(s)"
        return f"expects {len(params)} argument(s), got {given}"
    return None


class FunctionError(Exception):
    """A function refused its arguments; the message follows HCL's 'Call to function'."""


def equal(a: Any, b: Any) -> bool:
    """HCL's ==: values of different types are different (1 != "1")."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return str(a) == str(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        if isinstance(a, HclSet) != isinstance(b, HclSet):
            return False
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    return a is None and b is None


__all__ = ["EvalError", "Evaluator", "FunctionError", "Scope", "equal", "format_number"]
