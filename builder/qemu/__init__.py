"""Packer's `qemu` builder: a VM from an ISO (or a disk image), provisioned, its disk kept."""

from builder.qemu.builder import Builder

__all__ = ["Builder"]
