"""Options of the null builder: only the communicator (none, or ssh to an existing host)."""

from __future__ import annotations

from typing import Literal

from builder.communicator.config import CommunicatorConfig


class NullConfig(CommunicatorConfig):
    """`communicator` (ssh by default, or none) and the ssh_* options."""

    communicator: Literal["ssh", "none"] = "ssh"  # type: ignore[assignment]
