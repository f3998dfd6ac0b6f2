"""Packer's {{ }} language: a Go text/template subset (see builder.template.gotemplate).

Parsing is cached per text; function names are checked against the caller's function
map at execution time, reported with Go's parse-error wording.
"""

from __future__ import annotations

from builder.template.gotemplate.builtins import BUILTINS
from builder.template.gotemplate.executor import Template, parse
from builder.template.gotemplate.gofmt import format_value, go_sprint, go_sprintf
from builder.template.gotemplate.strconv import go_quote
from builder.template.gotemplate.values import (
    ArgTypeError,
    Deferred,
    truth,
    type_name,
    want_int,
    want_str,
)

__all__ = [
    "BUILTINS",
    "ArgTypeError",
    "Deferred",
    "Template",
    "format_value",
    "go_quote",
    "go_sprint",
    "go_sprintf",
    "parse",
    "truth",
    "type_name",
    "want_int",
    "want_str",
]
