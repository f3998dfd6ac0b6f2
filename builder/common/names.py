"""Close-name suggestions for "not found" errors, shared by the platforms."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def closest(name: str, names: Sequence[str]) -> str:
    """The existing name most like `name` ("" when none is close), case-insensitive.

    Paths (`/DC0/vm/tmpl`) are also compared by their last part.
    """
    if not name or not names:
        return ""
    by_lower = {n.lower(): n for n in names}
    found = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.5)
    if found:
        return by_lower[found[0]]
    base = name.rsplit("/", 1)[-1].lower()
    found = difflib.get_close_matches(
        base, [n.rsplit("/", 1)[-1].lower() for n in names], n=1, cutoff=0.5
    )
    if found:
        return next(n for n in names if n.rsplit("/", 1)[-1].lower() == found[0])
    return ""
