"""The `vsphere-iso` builder: a new VM installed from an ISO on the datastore."""

from builder.vsphere.iso.builder import Builder

__all__ = ["Builder"]
