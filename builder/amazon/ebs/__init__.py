"""The `amazon-ebs` builder."""

from builder.amazon.ebs.builder import Builder

__all__ = ["Builder"]
