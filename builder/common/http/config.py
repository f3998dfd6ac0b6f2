"""`http_directory` and the port options of the build's HTTP server (Packer 1.6.6's names).

Packer 1.6.6 has no `http_content` (it came in 1.7.1); this block leaves it out, so a
template that uses it fails validation here as it does in Packer 1.6.6.
"""

from __future__ import annotations

import os

from pydantic import model_validator

from builder.config import PluginConfig, config_check, option_error
from builder.errors import TemplateError

DEFAULT_PORT_MIN = 8000
DEFAULT_PORT_MAX = 9000
DEFAULT_BIND_ADDRESS = "127.0.0.1"


class HTTPConfig(PluginConfig):
    """The HTTP server options a builder config inherits.

    `http_bind_address` defaults to 127.0.0.1 where Packer 1.6.6 listens on 0.0.0.0 (every
    interface): the server then answers this machine only, which is what qemu's user-mode
    network needs (the guest's 10.0.2.2 is the host's loopback). A guest that reaches the
    host over a real network needs `"http_bind_address": "0.0.0.0"`.

    Ports are chosen at random from `http_port_min` up to, not including, `http_port_max`
    (Packer 1.6.6's rule); equal values mean that one port.
    """

    http_directory: str = ""
    http_port_min: int = DEFAULT_PORT_MIN
    http_port_max: int = DEFAULT_PORT_MAX
    http_bind_address: str = DEFAULT_BIND_ADDRESS
    http_interface: str = ""  # undocumented in 1.6.6, and rejected whenever it is set

    @model_validator(mode="after")
    def _http_defaults(self) -> HTTPConfig:
        """Packer's Prepare: 0 (an empty user variable) and "" mean the default."""
        if not self.http_port_min:
            self.http_port_min = DEFAULT_PORT_MIN
        if not self.http_port_max:
            self.http_port_max = DEFAULT_PORT_MAX
        if not self.http_bind_address:
            self.http_bind_address = DEFAULT_BIND_ADDRESS
        return self

    @config_check
    def check_http(self) -> list[TemplateError]:
        """The port range, the directory, and 1.6.6's rejection of http_interface."""
        errors: list[TemplateError] = []
        for name in ("http_port_min", "http_port_max"):
            port = getattr(self, name)
            if not 1 <= port <= 65535:
                errors.append(option_error(f"{name} must be between 1 and 65535", name))
        if self.http_port_min > self.http_port_max:
            errors.append(
                option_error("http_port_min must be less than http_port_max", "http_port_min")
            )
        if self.http_interface:
            errors.append(
                option_error(
                    "either http_interface or http_bind_address can be specified",
                    "http_interface",
                    hint="Packer 1.6.6 rejects http_interface whenever it is set; "
                    "use http_bind_address",
                )
            )
        directory = self.http_directory
        if directory and not os.path.isdir(directory):
            what = "is not a directory" if os.path.exists(directory) else "does not exist"
            errors.append(option_error(f"{directory!r} {what}", "http_directory"))
        return errors
