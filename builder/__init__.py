"""pybuild as a library: load a Packer JSON template, run its builds, get artifacts back.

    import builder
    report = builder.build("template.json", variables={"region": "eu-west-1"})
    for name, artifacts in report.artifacts.items():
        print(name, [a.id for a in artifacts])

Names are imported lazily so `import builder` stays cheap (the CLI's `version`
and `validate` must not pay for what they do not use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# A library logs only where its user asks (PYBUILD_LOG in the CLI sets a handler): the
# NullHandler that keeps it quiet is added by builder.logs with the first logger.

__version__ = "0.1.0"
PACKER_VERSION = "1.6.6"  # the Packer release whose JSON template format pybuild implements

__all__ = [
    "Artifact",
    "Build",
    "BuildCancelled",
    "BuildError",
    "BuildReport",
    "BuildResult",
    "BuildRun",
    "Builder",
    "CancelToken",
    "CleanupReport",
    "ConfigErrors",
    "LoadedTemplate",
    "OnError",
    "PACKER_VERSION",
    "PlatformBuilder",
    "PluginConfig",
    "PluginOptions",
    "PostProcessor",
    "Provisioner",
    "PybuildError",
    "RecordingSink",
    "RunArgs",
    "RunOptions",
    "Step",
    "TemplateError",
    "Ui",
    "__version__",
    "build",
    "cleanup",
    "load_template",
    "prepare",
    "registry",
    "run_steps",
]

_LAZY = {
    "Artifact": "builder.artifact",
    "Builder": "builder.components",
    "BuildRun": "builder.common.run",
    "RunArgs": "builder.common.run",
    "PlatformBuilder": "builder.common.builder",
    "PostProcessor": "builder.components",
    "Provisioner": "builder.components",
    "PluginOptions": "builder.components",
    "PluginConfig": "builder.config",
    "BuildCancelled": "builder.errors",
    "BuildError": "builder.errors",
    "ConfigErrors": "builder.errors",
    "PybuildError": "builder.errors",
    "TemplateError": "builder.errors",
    "RecordingSink": "builder.testing",
    "Ui": "builder.ui",
    "CancelToken": "builder.multistep",
    "OnError": "builder.multistep",
    "Step": "builder.multistep",
    "run_steps": "builder.multistep",
    "Build": "builder.engine",
    "BuildResult": "builder.engine",
    "LoadedTemplate": "builder.engine",
    "RunOptions": "builder.engine",
    "load_template": "builder.engine",
    "prepare": "builder.engine",
    "registry": "builder.plugins",
    "build": "builder.api",
    "BuildReport": "builder.api",
    "cleanup": "builder.leftovers",
    "CleanupReport": "builder.leftovers",
}

if TYPE_CHECKING:
    from builder.api import BuildReport, build
    from builder.artifact import Artifact
    from builder.common.builder import PlatformBuilder
    from builder.common.run import BuildRun, RunArgs
    from builder.components import Builder, PluginOptions, PostProcessor, Provisioner
    from builder.config import PluginConfig
    from builder.engine import (
        Build,
        BuildResult,
        LoadedTemplate,
        RunOptions,
        load_template,
        prepare,
    )
    from builder.errors import BuildCancelled, BuildError, ConfigErrors, PybuildError, TemplateError
    from builder.leftovers import CleanupReport, cleanup
    from builder.multistep import CancelToken, OnError, Step, run_steps
    from builder.plugins import registry
    from builder.testing import RecordingSink
    from builder.ui import Ui


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'builder' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
