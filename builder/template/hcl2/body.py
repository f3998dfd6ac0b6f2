"""Plugin bodies to config dicts, positions by template path, errors with locations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from builder.errors import Location, TemplateError
from builder.template.hcl2 import syntax as s
from builder.template.hcl2.evaluate import EvalError, Evaluator, Scope
from builder.template.hcl2.values import UNKNOWN, is_unknown, plain
from builder.template.parse import Path, Positions, format_path


class HclPositions(Positions):
    """Positions of a template read from HCL2 files: template path -> file, line, column."""

    def __init__(self) -> None:
        super().__init__("", None)
        self.at: dict[Path, s.Pos] = {}

    def add(self, path: Path, pos: s.Pos) -> None:
        self.at.setdefault(tuple(path), pos)

    def locate(self, path: Path) -> Location:
        probe = tuple(path)
        while probe and probe not in self.at:
            probe = probe[:-1]
        pos = self.at.get(probe)
        if pos is None:
            return Location(None, format_path(path))
        return Location(pos.file, format_path(path), pos.line, pos.column)


@dataclass
class Errors:
    """Errors of a template, collected; each names its file, line and block path."""

    items: list[TemplateError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, where: str, message: str, pos: s.Pos | None, hint: str | None = None) -> None:
        loc = Location(pos.file, where, pos.line, pos.column) if pos else Location(None, where)
        self.items.append(TemplateError(message, loc, hint))

    def eval_error(self, where: str, exc: EvalError) -> None:
        text = f"{exc.summary}: {exc.message}" if exc.summary else exc.message
        self.add(where, text, exc.pos)


def evaluate(ev: Evaluator, node: s.Node, scope: Scope, where: str, errors: Errors) -> Any:
    """An expression's value, or UNKNOWN after recording its error."""
    try:
        return ev.eval(node, scope)
    except EvalError as exc:
        errors.eval_error(where, exc)
        return UNKNOWN


Shape = Callable[[str], tuple[bool, Any]]
"""For a block type in a body: (is it a list of blocks, the shape of the blocks' own bodies)."""


def no_shape(name: str) -> tuple[bool, Any]:
    return True, no_shape


def model_shape(model: Any) -> Shape:
    """Block shapes from a pydantic model: a list-typed field takes many blocks, others one."""

    def shape(name: str) -> tuple[bool, Any]:
        fields = getattr(model, "model_fields", {})
        info = fields.get(name)
        if info is None:
            for f in fields.values():
                if f.alias == name:
                    info = f
        if info is None:
            return True, no_shape
        return _is_list(info.annotation), model_shape(_inner_model(info.annotation))

    return shape


def _is_list(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    return any(_is_list(a) for a in get_args(annotation) if a is not type(None))


def _inner_model(annotation: Any) -> Any:
    if hasattr(annotation, "model_fields"):
        return annotation
    for a in get_args(annotation):
        found = _inner_model(a)
        if found is not None:
            return found
    return None


def body_config(
    ev: Evaluator,
    body: s.Body,
    scope: Scope,
    path: Path,
    where: str,
    errors: Errors,
    positions: HclPositions,
    shape: Shape = no_shape,
    skip: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """A plugin block's body as the dict a config model validates; null attributes are unset."""
    out: dict[str, Any] = {}
    for name, attr in body.attributes.items():
        if name in skip:
            continue
        positions.add((*path, name), attr.pos)
        value = evaluate(ev, attr.expr, scope, format_path((*path, name)) or where, errors)
        if value is None:
            continue
        if is_unknown(value):
            if not errors.items:  # otherwise an earlier error made it unknown
                errors.add(
                    format_path((*path, name)),
                    "the value is not known until the build runs; it cannot be used here",
                    attr.pos,
                )
            continue
        out[name] = plain(value)
    blocks: dict[str, list[tuple[dict[str, Any], s.Pos]]] = {}
    for block in _expanded(ev, body.blocks, scope, where, errors):
        b, sub_scope = block
        if b.type in skip:
            continue
        many, sub_shape = shape(b.type)
        if b.type in body.attributes:
            errors.add(
                format_path((*path, b.type)),
                f'"{b.type}" is set both as an argument and as a block',
                b.pos,
            )
            continue
        items = blocks.setdefault(b.type, [])
        sub_path = (*path, b.type, len(items)) if many else (*path, b.type)
        if not many and items:
            errors.add(
                format_path((*path, b.type)),
                f'Duplicate {b.type} block: only one "{b.type}" block is allowed',
                b.pos,
            )
            continue
        positions.add(sub_path, b.pos)
        config = body_config(ev, b.body, sub_scope, sub_path, where, errors, positions, sub_shape)
        if b.labels:
            errors.add(format_path(sub_path), f"a {b.type} block takes no labels", b.pos)
        items.append((config, b.pos))
        many_of = many
        out[b.type] = [c for c, _ in items] if many_of else config
    return out


def _expanded(
    ev: Evaluator, blocks: list[s.Block], scope: Scope, where: str, errors: Errors
) -> list[tuple[s.Block, Scope]]:
    """Blocks with `dynamic "x" { for_each, iterator, content {} }` expanded, each with its scope."""
    out: list[tuple[s.Block, Scope]] = []
    for b in blocks:
        if b.type != "dynamic":
            out.append((b, scope))
            continue
        if len(b.labels) != 1:
            errors.add(where, "a dynamic block takes one label: the block type it makes", b.pos)
            continue
        label = b.labels[0]
        attrs = b.body.attributes
        if "for_each" not in attrs:
            errors.add(where, f'dynamic "{label}": missing argument "for_each"', b.pos)
            continue
        content = [c for c in b.body.blocks if c.type == "content"]
        if len(content) != 1:
            errors.add(where, f'dynamic "{label}": exactly one "content" block is required', b.pos)
            continue
        iterator = label
        if "iterator" in attrs:
            it = attrs["iterator"].expr
            if isinstance(it, s.Variable):
                iterator = it.name
            else:
                errors.add(where, f'dynamic "{label}": iterator must be a name', it.pos)
                continue
        coll = evaluate(ev, attrs["for_each"].expr, scope, where, errors)
        if coll is UNKNOWN:
            continue
        try:
            pairs = ev.iterate(coll, attrs["for_each"].expr.pos)
        except EvalError as exc:
            errors.eval_error(where, exc)
            continue
        for k, v in pairs:
            inner = scope.child(**{iterator: {"key": k, "value": v}})
            out.append((s.Block(label, [], content[0].body, b.pos), inner))
    return out


def attr_value(
    ev: Evaluator, body: s.Body, name: str, scope: Scope, where: str, errors: Errors
) -> Any:
    """One attribute's value (None when absent or null, UNKNOWN after an error)."""
    attr = body.attributes.get(name)
    if attr is None:
        return None
    return evaluate(ev, attr.expr, scope, where, errors)


def check_names(
    body: s.Body,
    where: str,
    errors: Errors,
    attributes: set[str],
    blocks: dict[str, int],
) -> None:
    """Only these attributes, and these block types with so many labels."""
    import difflib

    for name, attr in body.attributes.items():
        if name not in attributes:
            close = difflib.get_close_matches(name, sorted(attributes), n=1)
            errors.add(
                where,
                f'Unsupported argument: an argument named "{name}" is not expected here',
                attr.pos,
                f"did you mean '{close[0]}'?" if close else None,
            )
    for b in body.blocks:
        if b.type not in blocks:
            close = difflib.get_close_matches(b.type, sorted(blocks), n=1)
            errors.add(
                where,
                f'Unsupported block type: blocks of type "{b.type}" are not expected here',
                b.pos,
                f"did you mean '{close[0]}'?" if close else None,
            )
        elif len(b.labels) != blocks[b.type]:
            want = blocks[b.type]
            errors.add(
                where,
                f'a "{b.type}" block takes {want} label{"s" if want != 1 else ""}, '
                f"got {len(b.labels)}",
                b.pos,
            )
