"""The `openstack` builder."""

from builder.openstack.builder import Builder

__all__ = ["Builder"]
