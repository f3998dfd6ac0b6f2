"""`vsphere-clone`: Packer 1.6.6's clone builder."""

from builder.vsphere.clone.builder import Builder

__all__ = ["Builder"]
