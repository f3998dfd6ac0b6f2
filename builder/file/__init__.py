"""The `file` builder: an artifact that is one local file, from inline content or a copy."""

from builder.file.builder import Builder

__all__ = ["Builder"]
