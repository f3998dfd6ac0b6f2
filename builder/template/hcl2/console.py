"""One expression evaluated as `pybuild console` would: with functions and given names."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from builder.template.hcl2 import syntax as s
from builder.template.hcl2.evaluate import EvalError, Evaluator, Scope


def evaluate_text(
    text: str, names: Mapping[str, Any] | None = None, basedir: str | None = None
) -> Any:
    """The value of an HCL expression; EvalError or SyntaxErr when it has none."""
    from builder.template.funcs import START_TIME
    from builder.template.hcl2.functions import SPECIAL, make_functions, templatefile_function

    root = os.path.abspath(basedir or os.getcwd())
    scope = Scope(
        dict(names or {}),
        make_functions(root, START_TIME),
        {**SPECIAL, "templatefile": templatefile_function(root)},
    )
    return Evaluator().eval(s.parse_expression(text, "<console-input>"), scope)


__all__ = ["EvalError", "evaluate_text"]
