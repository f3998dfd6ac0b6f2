"""`VSphereRun`: the typed run context of one vSphere build (clone or iso).

Fields the shared steps fill: `vm` (StepCloneVM / StepCreateVM), `vm_resource` (its
ledger record; the last step to touch it marks it kept or released), `ip` (StepWaitForIp),
`http_ip`/`http_port` (StepHTTPIPDiscover, StepHTTPServer), `iso_path`, `cd_path`,
`floppy_path` (the shared ISO and media steps), `iso_datastore_paths`, `cd_datastore_paths`,
`floppy_datastore_path` (uploads to the datastore), `export_files`, `library_item`
(StepImportToContentLibrary: the item the VM was imported into).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from builder.common.run import BuildRun
from builder.communicator.config import CommunicatorConfig
from builder.vsphere.common.config import VSphereConfig
from builder.vsphere.common.driver import LibraryItem, VMRef, VSphereDriver, VSphereSettings

if TYPE_CHECKING:
    from builder.ledger import Resource

PLATFORM = "vsphere"

VC = TypeVar("VC", bound=VSphereConfig, covariant=True)


@dataclass(kw_only=True)
class VSphereRun(BuildRun[VC], Generic[VC]):
    """What the vSphere steps share: the open driver, the VM, what each step learned."""

    driver: VSphereDriver
    vm_path: str  # folder/vm_name: what PreCleanVM looks for
    vm: VMRef | None = None
    vm_resource: Resource | None = field(default=None, repr=False)
    destroy_vm: bool = False  # set by a step that wants the VM gone even on success
    ip: str = ""
    http_ip: str = ""
    http_port: int = 0
    iso_path: str = ""
    cd_path: str = ""
    floppy_path: str = ""
    iso_datastore_paths: list[str] = field(default_factory=list)
    cd_datastore_paths: list[str] = field(default_factory=list)
    floppy_datastore_path: str = ""
    export_files: list[str] = field(default_factory=list)
    library_item: LibraryItem | None = None
    library_name: str = ""  # the content library library_item is in

    def require_vm(self) -> VMRef:
        """The VM the build made; a step that runs before one exists is a bug."""
        if self.vm is None:
            from builder.errors import BuildError

            raise BuildError("no VM has been created yet")
        return self.vm

    def machine_id(self) -> str:
        return self.vm.id if self.vm else ""

    def comm_host(self) -> str:
        """Where the communicator connects: ssh_host, else the guest IP from VMware Tools."""
        return self.config.ssh_host or self.ip

    def build_data(self) -> dict[str, str]:
        return {"ID": self.machine_id(), **self.connect_data}


def connection_settings(cfg: VSphereConfig) -> VSphereSettings:
    """How both builders (and their artifacts and cleanup) reach vCenter."""
    return VSphereSettings(
        vcenter_server=cfg.vcenter_server,
        username=cfg.username,
        password=cfg.password,
        insecure_connection=cfg.insecure_connection,
        datacenter=cfg.datacenter,
    )


def guest_ip(ctx: BuildRun[CommunicatorConfig]) -> str:
    """The guest IP VMware Tools reported (StepConnect lets ssh_host win over it)."""
    return ctx.ip if isinstance(ctx, VSphereRun) else ""
