"""`QemuRun`: the typed run context of one qemu build."""

from __future__ import annotations

from dataclasses import dataclass, field

from builder.common.run import BuildRun
from builder.qemu.config import QemuConfig
from builder.qemu.driver import QemuDriver, QemuProcess, QMPMonitor


@dataclass(kw_only=True)
class QemuRun(BuildRun[QemuConfig]):
    """What the qemu steps share: the open driver, the resolved names, what each learned.

    `iso_path`, `http_ip`/`http_port`, `cd_path` and `floppy_path` are the fields the
    shared ISO, HTTP and media steps fill.
    """

    driver: QemuDriver
    output_dir: str  # output_directory, or output-<build name>
    vm_name: str  # vm_name, or packer-<build name>
    qmp_socket: str = ""  # qmp_socket_path, or <output_dir>/<vm_name>.monitor
    iso_path: str = ""
    http_ip: str = ""
    http_port: int = 0
    cd_path: str = ""
    floppy_path: str = ""
    disk_paths: list[str] = field(default_factory=list)
    host_port: int = 0  # the host end of the communicator's forward
    vnc_port: int = 0
    vnc_password: str = field(default="", repr=False)
    process: QemuProcess | None = None
    qmp: QMPMonitor | None = None
    guest_address: str = ""  # net_bridge: the guest's own address

    @property
    def disk_path(self) -> str:
        """The main disk: <output_dir>/<vm_name>."""
        import os

        return os.path.join(self.output_dir, self.vm_name)

    def comm_host(self) -> str:
        """Where the communicator connects: ssh_host, the bridge address, or loopback."""
        return self.config.ssh_host or self.guest_address or "127.0.0.1"

    def comm_port(self) -> int:
        """The forwarded host port, or the guest's own port (bridge, skip_nat_mapping)."""
        return self.host_port or self.config.ssh_port

    def template_data(self) -> dict[str, object]:
        """`{{ .HTTPIP }}`, `{{ .HTTPPort }}`, `{{ .Name }}` ... for qemuargs."""
        return {
            "HTTPIP": self.http_ip,
            "HTTPPort": self.http_port,
            "HTTPDir": self.config.http_directory,
            "OutputDir": self.output_dir,
            "Name": self.vm_name,
            "SSHHostPort": self.host_port if self.config.communicator != "none" else 0,
        }
