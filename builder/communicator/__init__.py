"""Communicators: how pybuild reaches a machine (ssh, docker, none)."""

from builder.communicator.base import CommandResult, Communicator

__all__ = ["CommandResult", "Communicator"]
