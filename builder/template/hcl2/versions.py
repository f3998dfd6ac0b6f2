"""Version constraints as Packer writes them: `>= 1.7.0, < 2.0.0`, `~> 1.8`, `= 1.9.1`."""

from __future__ import annotations

import re

_CONSTRAINT = re.compile(
    r"^\s*(>=|<=|!=|~>|=|>|<)?\s*v?(\d+(?:\.\d+){0,2})(?:-[0-9A-Za-z.-]+)?\s*$"
)


def _parts(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def satisfies(version: str, constraints: str) -> bool:
    """Whether version meets every comma-separated constraint; ValueError if one is malformed."""
    have = _parts(version.split("-")[0].lstrip("v"))
    for raw in constraints.split(","):
        m = _CONSTRAINT.match(raw)
        if not m:
            raise ValueError(f"malformed constraint: {raw.strip()!r}")
        op, text = m.group(1) or "=", m.group(2)
        want = _parts(text)
        padded = want + (0,) * (3 - len(want))
        mine = have + (0,) * (3 - len(have))
        if op == "~>":
            # the last given part may grow: ~> 1.8 means >= 1.8, < 2.0; ~> 1.8.2: < 1.9
            fixed = want[:-1] if len(want) > 1 else want
            if mine < padded or mine[: len(fixed)] != fixed:
                return False
            continue
        ok = {
            "=": mine == padded,
            "!=": mine != padded,
            ">": mine > padded,
            ">=": mine >= padded,
            "<": mine < padded,
            "<=": mine <= padded,
        }[op]
        if not ok:
            return False
    return True
