"""Options of the file builder (Packer 1.6.6): `target`, and `content` or `source`."""

from __future__ import annotations

from builder.config import PluginConfig, config_check, option_error
from builder.errors import TemplateError


class FileConfig(PluginConfig):
    """`target` is required; `source` and `content` exclude each other."""

    target: str = ""
    source: str = ""
    content: str = ""

    @config_check
    def check_file(self) -> list[TemplateError]:
        errors = []
        if not self.target:
            errors.append(option_error("target required", "target"))
        if self.source and self.content:
            errors.append(option_error("Cannot specify source file AND content", "content"))
        return errors
