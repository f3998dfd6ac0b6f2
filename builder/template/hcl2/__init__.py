"""HCL2 templates (`*.pkr.hcl` files and directories) read into the engine's Template.

`load` evaluates a template with its variables; `read` decodes its structure only (for
`inspect` and `validate -syntax-only`). Both give a Template the engine runs unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from builder.template.hcl2.decode import Hcl2Template, is_hcl2
from builder.template.hcl2.decode import load as _load

__all__ = ["Hcl2Template", "is_hcl2", "load", "read"]


def load(
    path: str,
    variables: Mapping[str, str] | None = None,
    var_files: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
) -> Hcl2Template:
    """Read and evaluate an HCL2 template (a file or a directory) with its variables."""
    return _load(path, variables, var_files, environ=environ)


def read(path: str) -> Hcl2Template:
    """The structure of an HCL2 template: variables, builds, provisioner types; no configs."""
    return _load(path, None, (), shallow=True)
