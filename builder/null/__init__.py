"""The `null` builder: provision an existing machine (or nothing), produce no image."""

from builder.null.builder import Builder

__all__ = ["Builder"]
