"""Options of the null builder: only the communicator."""

from __future__ import annotations

from typing import Literal

from builder.config import PluginConfig


class NullConfig(PluginConfig):
    """`communicator: none` here; the SSH options arrive with the ssh communicator."""

    communicator: Literal["none", "ssh"] = "ssh"
