"""PyVmomiDriver: the VSphereDriver over pyVmomi, the only module that imports it.

Every SDK call goes through `_call(op, fn)`: a fault becomes a DriverError naming the
operation and the fault, `NotAuthenticated` a SessionLost (the next call logs in again and
tells StepConnectVSphere through `on_new_session`), a network error one that names
`vcenter_server`. Tasks are polled (50 ms, growing to 0.5 s) and honour cancel.

Content libraries go over the vSphere Automation REST API (`/rest`, JSON answers wrapped in
`{"value": ...}`) with http.client and the SOAP connection's TLS settings: `_Rest` logs in
with basic auth on the first library call and sends `vmware-api-session-id` after;
`end_library_session()` (and `logout()`) deletes that session.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pyVmomi import SoapStubAdapter
from pyVmomi import vim as _vim
from pyVmomi import vmodl as _vmodl

from builder.errors import BuildCancelled, DriverError
from builder.vsphere.common.driver import (
    RUN_ATTRIBUTE,
    CloneSpec,
    ContentLibrary,
    CreateSpec,
    CustomizeSpec,
    ExportedFile,
    HardwareSpec,
    LibraryItem,
    NotFound,
    OnSession,
    Placement,
    SessionLost,
    StorageSpec,
    TemplateItemSpec,
    UsbKeyEvent,
    VMInfo,
    VMRef,
    VSphereSettings,
)

if TYPE_CHECKING:
    from builder.multistep import CancelToken

# pyVmomi's own stubs disagree with its runtime (optional arguments, None defaults):
# the SDK surface is typed Any here, and checked by the integration tests instead.
vim: Any = _vim
vmodl: Any = _vmodl
API_VERSION = "vim.version.version13"  # vSphere 6.5: what the simulator speaks
T = TypeVar("T")


def digest(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _fault_text(exc: BaseException) -> str:
    msg = getattr(exc, "msg", "") or ""
    name = type(exc).__name__.rsplit(".", 1)[-1]
    return f"{msg} ({name})" if msg else name


class PyVmomiDriver:
    """One build's session with vCenter (made without touching the network)."""

    def __init__(self, settings: VSphereSettings):
        self.settings = settings
        host, _, port = settings.vcenter_server.rpartition(":")
        if not host or not port.isdigit():
            host, port = settings.vcenter_server, "443"
        self.host, self.port = host.strip("[]"), int(port)
        self._si: Any = None
        self._content: Any = None
        self._dc: Any = None
        self._key = ""
        self._lost = False
        self._on_new: OnSession | None = None
        self._field_key: int | None = None
        self._rest = _Rest(self)

    # ------------------------------------------------------------------ session
    def _ssl(self) -> ssl.SSLContext:
        if self.settings.insecure_connection:
            return ssl._create_unverified_context()
        return ssl.create_default_context()

    def login(self, on_new_session: OnSession | None = None) -> str:
        self._on_new = on_new_session
        self._open()
        return digest(self._key)

    def _open(self) -> None:
        s = self.settings
        where = f"vcenter_server {s.vcenter_server}"
        try:
            stub = SoapStubAdapter(  # type: ignore[no-untyped-call]
                host=self.host,
                port=self.port,
                path="/sdk",
                version=API_VERSION,
                sslContext=self._ssl(),
            )
            si = vim.ServiceInstance("ServiceInstance", stub)
            content = si.RetrieveContent()
            session = content.sessionManager.Login(s.username, s.password)
        except vim.fault.InvalidLogin as exc:
            raise DriverError(
                f"cannot log in to {where} as {s.username!r}: incorrect user name or "
                f"password ({_fault_text(exc)})"
            ) from exc
        except ssl.SSLError as exc:
            raise DriverError(
                f"cannot connect to {where}: {exc.reason or exc} (a self-signed certificate "
                'needs "insecure_connection": true)'
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise DriverError(f"cannot connect to {where}: {exc}") from exc
        except vmodl.MethodFault as exc:
            raise DriverError(f"cannot log in to {where}: {_fault_text(exc)}") from exc
        self._si, self._content, self._key, self._lost = si, content, session.key, False
        self._field_key = None
        self._dc = self._find_datacenter(s.datacenter)

    def _relogin(self) -> None:
        old = digest(self._key)
        self._open()
        if self._on_new is not None:
            self._on_new(old, digest(self._key))

    def logout(self) -> None:
        self._rest.logout()
        content, self._content, self._si = self._content, None, None
        if content is None or self._lost:
            return
        try:
            content.sessionManager.Logout()
        except (vmodl.MethodFault, OSError, http.client.HTTPException):
            pass  # a session the server forgot is logged out already
        self._key = ""

    def close(self) -> None:
        self.logout()

    def session_digest(self) -> str:
        return digest(self._key) if self._key else ""

    def terminate_session(self, session_digest: str) -> bool:
        def run() -> bool:
            manager = self._content.sessionManager
            for s in manager.sessionList or []:
                if digest(s.key) == session_digest and s.key != self._key:
                    manager.TerminateSession([s.key])
                    return True
            return False

        return self._call("TerminateSession", run)

    @property
    def datacenter(self) -> str:
        return str(self._dc.name) if self._dc is not None else self.settings.datacenter

    def _call(self, op: str, fn: Callable[[], T]) -> T:
        if self._content is None and not self._lost:
            raise DriverError(f"{op}: not logged in to vCenter")
        if self._lost:
            self._relogin()
        try:
            return fn()
        except vim.fault.NotAuthenticated as exc:
            self._lost = True
            raise SessionLost(
                f"{op}: the vCenter session on {self.settings.vcenter_server} is no longer "
                f"valid (it expired or was ended on the server): {_fault_text(exc)}"
            ) from exc
        except DriverError:
            raise
        except vmodl.MethodFault as exc:
            raise DriverError(f"{op}: {_fault_text(exc)}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise DriverError(
                f"{op}: lost the connection to {self.settings.vcenter_server}: {exc}"
            ) from exc

    def _wait(self, task: Any, cancel: CancelToken | None = None) -> Any:
        delay = 0.05
        while True:
            info = task.info
            if info.state == vim.TaskInfo.State.success:
                return info.result
            if info.state == vim.TaskInfo.State.error:
                raise info.error
            if cancel is not None and cancel.wait(delay):
                try:
                    task.CancelTask()
                except vmodl.MethodFault:
                    pass
                raise BuildCancelled()
            if cancel is None:
                time.sleep(delay)
            delay = min(delay * 2, 0.5)

    # ------------------------------------------------------------------ finders
    def _find_datacenter(self, name: str) -> Any:
        found = [e for e in self._content.rootFolder.childEntity if isinstance(e, vim.Datacenter)]
        names = [str(d.name) for d in found]
        if name:
            for dc in found:
                if dc.name == name:
                    return dc
            raise NotFound("datacenter", name, names)
        if len(found) != 1:
            raise DriverError(
                f"default datacenter resolves to multiple instances ({', '.join(names)}), "
                "please specify 'datacenter'"
            )
        return found[0]

    def _objects(self, kind: Any, root: Any = None) -> list[tuple[Any, str]]:
        """(object, name) of every `kind` under `root` (the datacenter), one round trip."""
        content = self._content
        view = content.viewManager.CreateContainerView(root or self._dc, [kind], True)
        try:
            pc = vmodl.query.PropertyCollector
            spec = pc.FilterSpec(
                objectSet=[pc.ObjectSpec(obj=view, skip=True, selectSet=[
                    pc.TraversalSpec(name="v", path="view", skip=False, type=vim.view.ContainerView)
                ])],
                propSet=[pc.PropertySpec(type=kind, pathSet=["name"])],
            )  # fmt: skip
            out = []
            for obj in content.propertyCollector.RetrieveContents([spec]) or []:
                if obj.missingSet:
                    continue
                out.append((obj.obj, str(obj.propSet[0].val) if obj.propSet else ""))
            return out
        finally:
            view.Destroy()

    def _named(self, kind: Any, what: str, name: str, root: Any = None) -> Any:
        found = self._objects(kind, root)
        for obj, n in found:
            if n == name:
                return obj
        raise NotFound(what, name, [n for _, n in found])

    def _path(self, obj: Any) -> str:
        parts = []
        while obj is not None and not isinstance(obj, vim.Datacenter):
            parts.append(str(obj.name))
            obj = obj.parent
        return "/" + "/".join([self.datacenter, *reversed(parts)])

    def _ref(self, vm: Any) -> VMRef:
        return VMRef(vm._moId, self._path(vm), str(vm.config.instanceUuid or ""))

    def _vm(self, ref: VMRef) -> Any:
        return vim.VirtualMachine(ref.id, self._si._stub)

    def _find_vm(self, path: str) -> Any:
        index = self._content.searchIndex
        clean = path.strip("/")
        prefix = f"{self.datacenter}/vm/"
        full = clean if clean.startswith(prefix) else prefix + clean
        found = index.FindByInventoryPath(full)
        if found is None and "/" not in clean:
            found = next((o for o, n in self._objects(vim.VirtualMachine) if n == clean), None)
        return found if isinstance(found, vim.VirtualMachine) else None

    def find_vm(self, path: str) -> VMRef | None:
        def run() -> VMRef | None:
            vm = self._find_vm(path)
            return self._ref(vm) if vm is not None else None

        return self._call("FindVM", run)

    def vm_by_id(self, id: str) -> VMRef | None:
        def run() -> VMRef | None:
            try:
                return self._ref(vim.VirtualMachine(id, self._si._stub))
            except vmodl.fault.ManagedObjectNotFound:
                return None

        return self._call("FindVM", run)

    def _template(self, name: str) -> Any:
        vm = self._find_vm(name)
        if vm is None:
            raise NotFound("template", name, [n for _, n in self._objects(vim.VirtualMachine)])
        return vm

    def _folder(self, path: str) -> Any:
        """The vm folder `path` under the datacenter, made where missing (as 1.6.6)."""
        folder = self._dc.vmFolder
        for part in [p for p in path.split("/") if p]:
            child = next(
                (c for c in folder.childEntity if isinstance(c, vim.Folder) and c.name == part),
                None,
            )
            folder = child if child is not None else folder.CreateFolder(part)
        return folder

    def _compute(self, place: Placement) -> tuple[Any, Any]:
        """(resource pool, host or None) for the cluster/host/resource_pool options."""
        host = None
        if place.cluster:
            compute = self._named(vim.ClusterComputeResource, "cluster", place.cluster)
            if place.host:
                host = self._named(vim.HostSystem, "host", place.host, compute)
        else:
            host = self._named(vim.HostSystem, "host", place.host)
            compute = host.parent
        pool = compute.resourcePool
        for part in [p for p in place.resource_pool.split("/") if p]:
            children = list(pool.resourcePool or [])
            match = next((c for c in children if c.name == part), None)
            if match is None:
                raise NotFound("resource pool", place.resource_pool, [c.name for c in children])
            pool = match
        return pool, host

    def _datastore(self, name: str, host: Any, pool: Any) -> Any:
        if name:
            return self._named(vim.Datastore, "datastore", name)
        stores = list(host.datastore) if host is not None else list(pool.owner.datastore)
        if len(stores) != 1:
            raise DriverError("Host has multiple datastores. Specify it explicitly")
        return stores[0]

    def _network_backing(self, name: str) -> Any:
        net: Any = self._named(vim.Network, "network", name)
        if isinstance(net, vim.dvs.DistributedVirtualPortgroup):
            conn = vim.dvs.PortConnection(
                portgroupKey=net.key, switchUuid=net.config.distributedVirtualSwitch.uuid
            )
            return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(port=conn)
        return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=name, network=net)

    def datastore_names(self) -> list[str]:
        return self._call("FindDatastore", lambda: [n for _, n in self._objects(vim.Datastore)])

    # ------------------------------------------------------------------ VMs
    def clone_vm(self, spec: CloneSpec, cancel: CancelToken) -> VMRef:

        def run() -> VMRef:
            source = self._template(spec.template)
            folder = self._folder(spec.placement.folder)
            pool, host = self._compute(spec.placement)
            store = self._datastore(spec.placement.datastore, host, pool)
            location = vim.vm.RelocateSpec(pool=pool, datastore=store, host=host)
            clone = vim.vm.CloneSpec(location=location, powerOn=False, template=False)
            if spec.linked_clone:
                if source.snapshot is None:
                    raise DriverError("`linked_clone=true`, but template has no snapshots")
                location.diskMoveType = "createNewChildDiskBacking"
                clone.snapshot = source.snapshot.currentSnapshot
            config = vim.vm.ConfigSpec()
            if spec.annotation:
                config.annotation = spec.annotation
            devices = list(source.config.hardware.device)
            config.deviceChange = storage_changes(spec.storage, devices)
            if spec.network:
                backing = self._network_backing(spec.network)
                config.deviceChange.append(nic_edit(devices, backing, spec.mac_address))
            if spec.vapp_properties:
                config.vAppConfig = vapp_update(source, dict(spec.vapp_properties))
            clone.config = config
            made = self._wait(source.Clone(folder=folder, name=spec.name, spec=clone), cancel)
            if spec.annotation and made.config.annotation != spec.annotation:
                # the simulator drops CloneSpec.config.annotation; vCenter keeps it
                self._wait(made.ReconfigVM_Task(spec=vim.vm.ConfigSpec(annotation=spec.annotation)))
            if spec.run_id:
                self._set_run_id(made, spec.run_id)
            return self._ref(made)

        return self._call("CloneVM", run)

    def create_vm(self, spec: CreateSpec) -> VMRef:

        def run() -> VMRef:
            folder = self._folder(spec.placement.folder)
            pool, host = self._compute(spec.placement)
            store = self._datastore(spec.placement.datastore, host, pool)
            config = create_config(spec, store.name, self._network_backing)
            task = folder.CreateVM_Task(config=config, pool=pool,
                                        host=host if spec.placement.cluster else None)  # fmt: skip
            made = self._wait(task)
            if spec.run_id:
                self._set_run_id(made, spec.run_id)
            return self._ref(made)

        return self._call("CreateVM", run)

    def _reconfigure(self, op: str, ref: VMRef, build: Callable[[Any], Any]) -> None:
        def run() -> None:
            vm = self._vm(ref)
            config = build(vm)
            if config is not None:
                self._wait(vm.ReconfigVM_Task(spec=config))

        self._call(op, run)

    def resize_disk(self, vm: VMRef, size_mb: int) -> None:

        self._reconfigure("ResizeDisk", vm, lambda v: resize(v, size_mb))

    def configure_hardware(self, vm: VMRef, spec: HardwareSpec) -> None:

        self._reconfigure("Reconfigure", vm, lambda v: hardware(v, spec))

    def add_config_params(
        self, vm: VMRef, params: Mapping[str, str], sync_time: bool, upgrade_at_power_cycle: bool
    ) -> None:
        def build(_: Any) -> Any:
            config = vim.vm.ConfigSpec()
            config.extraConfig = [vim.option.OptionValue(key=k, value=v) for k, v in params.items()]
            if sync_time or upgrade_at_power_cycle:
                tools = vim.vm.ToolsConfigInfo()
                if sync_time:
                    tools.syncTimeWithHost = True
                if upgrade_at_power_cycle:
                    tools.toolsUpgradePolicy = "UpgradeAtPowerCycle"
                config.tools = tools
            return config if (config.extraConfig or config.tools) else None

        self._reconfigure("AddConfigParams", vm, build)

    def customize(self, vm: VMRef, spec: CustomizeSpec) -> None:
        self._call("Customize", lambda: self._wait(
            self._vm(vm).CustomizeVM_Task(spec=customization(spec))
        ))  # fmt: skip

    def add_public_keys(self, vm: VMRef, keys: str) -> None:

        def build(v: Any) -> Any:
            return vim.vm.ConfigSpec(vAppConfig=vapp_update(v, {"public-keys": keys}))

        self._reconfigure("AddPublicKeys", vm, build)

    def set_boot_order(self, vm: VMRef, order: Sequence[str]) -> None:

        def build(v: Any) -> Any:
            devices = list(v.config.hardware.device)
            options = vim.vm.BootOptions(bootOrder=boot_order(devices, order))
            return vim.vm.ConfigSpec(bootOptions=options)

        self._reconfigure("SetBootOrder", vm, build)

    def _run_field(self) -> int:
        if self._field_key is None:
            manager = self._content.customFieldsManager
            for f in manager.field or []:
                if f.name == RUN_ATTRIBUTE:
                    self._field_key = int(f.key)
                    break
            else:
                made = manager.AddCustomFieldDef(name=RUN_ATTRIBUTE, moType=vim.VirtualMachine)
                self._field_key = int(made.key)
        return self._field_key

    def _set_run_id(self, vm: Any, run_id: str) -> None:
        self._run_field()
        vm.SetCustomValue(key=RUN_ATTRIBUTE, value=run_id)

    def set_run_id(self, vm: VMRef, run_id: str) -> None:
        self._call("SetCustomValue", lambda: self._set_run_id(self._vm(vm), run_id))

    def vms_with_run_id(self) -> list[tuple[VMRef, str]]:
        def run() -> list[tuple[VMRef, str]]:
            key = self._run_field()
            out = []
            for vm, _ in self._objects(vim.VirtualMachine):
                # the last value of the key counts (the simulator appends on every set)
                values = [str(v.value) for v in vm.customValue or [] if v.key == key]
                if values and values[-1]:
                    out.append((self._ref(vm), values[-1]))
            return out

        return self._call("FindVMs", run)

    def vm_info(self, vm: VMRef) -> VMInfo:
        def run() -> VMInfo:
            v = self._vm(vm)
            cfg = v.config
            snaps = []
            stack = list(v.snapshot.rootSnapshotList) if v.snapshot else []
            while stack:
                tree = stack.pop(0)
                snaps.append(str(tree.name))
                stack.extend(tree.childSnapshotList or [])
            vapp = cfg.vAppConfig
            return VMInfo(
                ref=vm,
                power_state=str(v.runtime.powerState),
                template=bool(cfg.template),
                cpus=int(cfg.hardware.numCPU),
                cpu_cores=int(cfg.hardware.numCoresPerSocket or 0),
                ram_mb=int(cfg.hardware.memoryMB),
                annotation=str(cfg.annotation or ""),
                guest_ips=tuple(dict.fromkeys(self._ips(v))),
                snapshots=tuple(snaps),
                vapp_properties=tuple(str(p.id) for p in (vapp.property if vapp else [])),
                extra_config=tuple((str(o.key), str(o.value)) for o in cfg.extraConfig or []),
            )

        return self._call("VMInfo", run)

    def vm_directory(self, vm: VMRef) -> str:
        def run() -> str:
            path = str(self._vm(vm).config.files.vmPathName)
            found = re.match(r"^\[.*\] (.*)/[^/]*\.vmx$", path)
            if found is None:
                raise DriverError(f"cannot tell the VM's directory from {path!r}")
            return found.group(1)

        return self._call("VMDirectory", run)

    # ------------------------------------------------------------------ power and guest
    def power_on(self, vm: VMRef) -> None:
        self._call("PowerOn", lambda: self._wait(self._vm(vm).PowerOnVM_Task()))

    def power_state(self, vm: VMRef) -> str:
        return self._call("PowerState", lambda: str(self._vm(vm).runtime.powerState))

    def power_off(self, vm: VMRef) -> None:
        def run() -> None:
            v = self._vm(vm)
            if v.runtime.powerState != "poweredOff":
                self._wait(v.PowerOffVM_Task())

        self._call("PowerOff", run)

    def shutdown_guest(self, vm: VMRef) -> None:
        self._call("ShutdownGuest", lambda: self._vm(vm).ShutdownGuest())

    @staticmethod
    def _ips(v: Any) -> Iterator[str]:
        guest = v.guest
        for nic in guest.net or []:
            yield from (str(ip) for ip in nic.ipAddress or [])
        if guest.ipAddress:
            yield str(guest.ipAddress)

    def guest_ips(self, vm: VMRef) -> list[str]:
        return self._call("GuestIP", lambda: list(dict.fromkeys(self._ips(self._vm(vm)))))

    def put_usb_scan_codes(self, vm: VMRef, events: Sequence[UsbKeyEvent]) -> int:

        spec = usb_scan_codes(events)
        return self._call("PutUsbScanCodes", lambda: int(self._vm(vm).PutUsbScanCodes(spec)))

    # ------------------------------------------------------------------ devices
    def _device_change(self, op: str, vm: VMRef, build: Callable[[list[Any]], list[Any]]) -> None:
        def config(v: Any) -> Any:
            changes = build(list(v.config.hardware.device))
            return vim.vm.ConfigSpec(deviceChange=changes) if changes else None

        self._reconfigure(op, vm, config)

    def add_cdrom(self, vm: VMRef, controller: str, iso_path: str) -> None:

        self._device_change("AddCdrom", vm, lambda d: [cdrom(d, controller, iso_path)])

    def add_sata_controller(self, vm: VMRef) -> bool:

        added: list[bool] = []

        def build(devices: list[Any]) -> list[Any]:
            change = sata_controller(devices)
            added.append(change is not None)
            return [change] if change is not None else []

        self._device_change("AddSATAController", vm, build)
        return bool(added and added[0])

    def eject_cdroms(self, vm: VMRef) -> None:

        self._device_change("EjectCdroms", vm, eject_cdroms)

    def remove_cdroms(self, vm: VMRef) -> None:

        self._device_change("RemoveCdroms", vm, lambda d: remove(d, vim.vm.device.VirtualCdrom))

    def add_floppy(self, vm: VMRef, image_path: str) -> None:

        self._device_change("AddFloppy", vm, lambda d: [floppy(d, image_path)])

    def remove_floppies(self, vm: VMRef) -> None:

        self._device_change("RemoveFloppy", vm, lambda d: remove(d, vim.vm.device.VirtualFloppy))

    # ------------------------------------------------------------------ finish
    def create_snapshot(self, vm: VMRef, name: str) -> None:
        self._call("CreateSnapshot", lambda: self._wait(
            self._vm(vm).CreateSnapshot_Task(name=name, description="", memory=False, quiesce=False)
        ))  # fmt: skip

    def mark_as_template(self, vm: VMRef) -> None:
        self._call("MarkAsTemplate", lambda: self._vm(vm).MarkAsTemplate())

    def destroy_vm(self, vm: VMRef) -> bool:
        def run() -> bool:
            v = self._vm(vm)
            try:
                state = v.runtime.powerState
            except vmodl.fault.ManagedObjectNotFound:
                return False
            if state == "poweredOn":
                self._wait(v.PowerOffVM_Task())
            self._wait(v.Destroy_Task())
            return True

        return self._call("Destroy", run)

    def export_ovf(
        self,
        vm: VMRef,
        directory: str,
        name: str,
        images: bool,
        options: Sequence[str],
        on_file: Callable[[str], None],
        cancel: CancelToken,
    ) -> tuple[str, list[ExportedFile], list[str]]:

        def run() -> tuple[str, list[ExportedFile], list[str]]:
            v = self._vm(vm)
            manager = self._content.ovfManager
            known = {str(o.option) for o in manager.ovfExportOption or []} if options else set()
            unknown = [o for o in options if o not in known]
            lease = v.ExportVm()
            files = lease_download(
                lease, self.host, self.port, self._ssl(), self._cookie(), directory, name,
                images, on_file, cancel,
            )  # fmt: skip
            params = vim.OvfManager.CreateDescriptorParams(
                name=name,
                ovfFiles=[vim.OvfManager.OvfFile(deviceId=f.device_id, path=os.path.basename(f.path),
                                                 size=f.size) for f in files],
                exportOption=list(options),
            )  # fmt: skip
            result = manager.CreateDescriptor(obj=v, cdp=params)
            return str(result.ovfDescriptor), files, unknown

        return self._call("ExportVm", run)

    # ------------------------------------------------------------------ datastore files
    def _cookie(self) -> str:
        return str(self._si._stub.cookie).split(";", 1)[0]

    def _file_request(self, method: str, datastore: str, path: str, body: Any = None,
                      length: int = 0) -> int:  # fmt: skip
        query = urllib.parse.urlencode({"dcPath": self.datacenter, "dsName": datastore})
        url = f"/folder/{urllib.parse.quote(path)}?{query}"
        conn = http.client.HTTPSConnection(self.host, self.port, context=self._ssl(), timeout=60)
        try:
            headers = {"Cookie": self._cookie()}
            if body is not None:
                headers["Content-Length"] = str(length)
                headers["Content-Type"] = "application/octet-stream"
            conn.request(method, url, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            return int(response.status)
        finally:
            conn.close()

    def upload_file(
        self, local_path: str, datastore: str, remote_path: str, host: str, cancel: CancelToken
    ) -> str:
        def run() -> str:
            self._named(vim.Datastore, "datastore", datastore)
            size = os.path.getsize(local_path)
            with open(local_path, "rb") as f:
                status = self._file_request("PUT", datastore, remote_path, f, size)
            if status not in (200, 201, 204):
                raise DriverError(f"upload of {local_path}: HTTP {status}")
            return f"[{datastore}] {remote_path}"

        return self._call("UploadFile", run)

    def delete_file(self, datastore: str, remote_path: str) -> bool:
        def run() -> bool:
            manager = self._content.fileManager
            try:
                self._wait(manager.DeleteDatastoreFile_Task(
                    name=f"[{datastore}] {remote_path}", datacenter=self._dc
                ))  # fmt: skip
            except vim.fault.FileNotFound:
                return False
            return True

        return self._call("DeleteFile", run)

    def file_exists(self, datastore: str, remote_path: str) -> bool:
        return self._call("FileExists",
                          lambda: self._file_request("HEAD", datastore, remote_path) == 200)  # fmt: skip

    # ------------------------------------------------------------------ content library (REST)
    def _library(self, library_id: str) -> dict[str, Any] | None:
        found = self._rest.get(f"{LIBRARY}/id:{library_id}")
        return found if isinstance(found, dict) else None

    def find_library(self, name: str) -> ContentLibrary:
        ids = self._rest.post(f"{LIBRARY}?~action=find", {"spec": {"name": name}}) or []
        for lib in filter(None, (self._library(i) for i in ids)):
            if lib.get("name") == name:
                return ContentLibrary(str(lib["id"]), name, str(lib.get("type", "")))
        names = sorted(str(lib.get("name", "")) for lib in filter(
            None, (self._library(i) for i in self._rest.get(LIBRARY) or [])
        ))  # fmt: skip
        text = f"library name ({name}) not found"
        if names:
            text += f"; the libraries that exist: {', '.join(names)}"
        raise DriverError(text)

    def library_item(self, item_id: str) -> LibraryItem | None:
        found = self._rest.get(f"{ITEM}/id:{item_id}")
        if not isinstance(found, dict):
            return None
        return LibraryItem(str(found["id"]), str(found.get("name", "")),
                           str(found.get("library_id", "")), str(found.get("type", "")))  # fmt: skip

    def find_library_item(self, library_id: str, name: str) -> LibraryItem | None:
        spec = {"spec": {"library_id": library_id, "name": name}}
        for item_id in self._rest.post(f"{ITEM}?~action=find", spec) or []:
            item = self.library_item(str(item_id))
            if item is not None and item.name == name and item.library_id == library_id:
                return item
        return None

    def create_ovf_item(self, vm: VMRef, library_id: str, name: str, item_id: str = "") -> str:
        target = {"library_id": library_id}
        if item_id:
            target["library_item_id"] = item_id
        body = {"create_spec": {"name": name}, "source": {"type": "VirtualMachine", "id": vm.id},
                "target": target}  # fmt: skip
        result = self._rest.post(OVF_ITEM, body) or {}
        if not result.get("succeeded"):
            raise DriverError(f"CreateOVF: {ovf_error(result.get('error'))}")
        return str(result.get("ovf_library_item_id") or item_id)

    def create_template_item(self, vm: VMRef, library_id: str, spec: TemplateItemSpec) -> str:
        place = spec.placement

        def resolve() -> tuple[dict[str, str], str]:
            out: dict[str, str] = {}
            if place.cluster:
                out["cluster"] = self._named(vim.ClusterComputeResource, "cluster",
                                             place.cluster)._moId  # fmt: skip
            # 1.6.6's default, the source VM's folder, sent explicitly (vcsim needs one)
            folder = self._existing_folder(place.folder) if place.folder else self._vm(vm).parent
            out["folder"] = folder._moId
            if place.host:
                out["host"] = self._named(vim.HostSystem, "host", place.host)._moId
            if place.resource_pool:
                out["resource_pool"] = self._compute(place)[0]._moId
            store = self._named(vim.Datastore, "datastore", place.datastore)._moId \
                if place.datastore else ""  # fmt: skip
            return out, store

        placement, store = self._call("FindPlacement", resolve)
        template: dict[str, Any] = {"name": spec.name, "library": library_id,
                                    "source_vm": vm.id, "placement": placement}  # fmt: skip
        if spec.description:
            template["description"] = spec.description
        if store:
            template["vm_home_storage"] = {"datastore": store}
        return str(self._rest.post(VMTX_ITEMS, {"spec": template}))

    def _existing_folder(self, path: str) -> Any:
        """The vm folder at `path` (1.6.6's FindFolder: it must exist)."""
        clean = path.strip("/")
        found = self._content.searchIndex.FindByInventoryPath(f"{self.datacenter}/vm/{clean}")
        if not isinstance(found, vim.Folder):
            raise NotFound("folder", path)
        return found

    def delete_library_item(self, item_id: str) -> bool:
        return self._rest.delete(f"{ITEM}/id:{item_id}")

    def end_library_session(self) -> None:
        self._rest.logout()


LIBRARY = "/com/vmware/content/library"
ITEM = "/com/vmware/content/library/item"
OVF_ITEM = "/com/vmware/vcenter/ovf/library-item"
VMTX_ITEMS = "/vcenter/vm-template/library-items"
SESSION = "/com/vmware/cis/session"
SESSION_HEADER = "vmware-api-session-id"


def ovf_error(error: Any) -> str:
    """govmomi's DeploymentError text: the first message of the first error."""
    for err in (error or {}).get("errors") or []:
        message = (err.get("message") or {}).get("default_message")
        if not message:
            messages = (err.get("error") or {}).get("messages") or [{}]
            message = messages[0].get("default_message")
        if message:
            return f"deploy error: {message}"
    return f"deploy error: {json.dumps(error)}"


class _Rest:
    """The vSphere Automation REST session of one driver (JSON over http.client)."""

    def __init__(self, driver: PyVmomiDriver):
        self.driver = driver
        self.session = ""

    def _send(
        self, method: str, path: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, str, bytes]:
        d = self.driver
        data = json.dumps(body).encode() if body is not None else None
        heads = {"Accept": "application/json", **headers}
        if data is not None:
            heads["Content-Type"] = "application/json"
        conn = http.client.HTTPSConnection(d.host, d.port, context=d._ssl(), timeout=120)
        try:
            conn.request(method, "/rest" + path, body=data, headers=heads)
            response = conn.getresponse()
            return int(response.status), str(response.reason), response.read()
        except ssl.SSLError as exc:
            raise DriverError(
                f"cannot connect to vcenter_server {d.settings.vcenter_server}: "
                f'{exc.reason or exc} (a self-signed certificate needs "insecure_connection": true)'
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise DriverError(
                f"{method} /rest{path}: lost the connection to {d.settings.vcenter_server}: {exc}"
            ) from exc
        finally:
            conn.close()

    def login(self) -> None:
        s = self.driver.settings
        token = base64.b64encode(f"{s.username}:{s.password}".encode()).decode()
        status, reason, raw = self._send(
            "POST", SESSION, None,
            {"Authorization": f"Basic {token}", "vmware-use-header-authn": "true"},
        )  # fmt: skip
        if status == 401:
            raise DriverError(
                f"cannot log in to the REST API of vcenter_server {s.vcenter_server} as "
                f"{s.username!r}: incorrect user name or password"
            )
        self.session = str(self._value("POST", SESSION, status, reason, raw))

    def logout(self) -> None:
        session, self.session = self.session, ""
        if session:
            try:
                self._send("DELETE", SESSION, None, {SESSION_HEADER: session})
            except DriverError:
                pass  # a server gone away has forgotten the session too

    @staticmethod
    def _value(method: str, path: str, status: int, reason: str, raw: bytes) -> Any:
        if status not in (200, 201, 204):
            detail = raw.decode("utf-8", "replace").strip()
            raise DriverError(
                f"{method} /rest{path}: {status} {reason}" + (f": {detail}" if detail else "")
            )
        if not raw.strip():
            return None
        try:
            return json.loads(raw).get("value")
        except (ValueError, AttributeError) as exc:
            raise DriverError(f"{method} /rest{path}: not a JSON answer: {raw[:200]!r}") from exc

    def call(self, method: str, path: str, body: Any = None) -> tuple[bool, Any]:
        """One request in the session (logging in first, and again once if it was lost):
        (False, None) on 404, else (True, the answer's value)."""
        status, reason, raw = 0, "", b""
        for _ in range(2):
            if not self.session:
                self.login()
            status, reason, raw = self._send(method, path, body, {SESSION_HEADER: self.session})
            if status != 401:
                break
            self.session = ""  # expired or ended on the server: log in again
        if status == 404:
            return False, None
        return True, self._value(method, path, status, reason, raw)

    def get(self, path: str) -> Any:
        return self.call("GET", path)[1]

    def post(self, path: str, body: Any) -> Any:
        found, value = self.call("POST", path, body)
        if not found:
            raise DriverError(f"POST /rest{path}: 404 Not Found")
        return value

    def delete(self, path: str) -> bool:
        """True when deleted, False when it was not there."""
        return self.call("DELETE", path)[0]


# ---------------------------------------------------------------------- spec builders
Dev = vim.vm.device
DevSpec = vim.vm.device.VirtualDeviceSpec
_SCSI = {
    "": Dev.VirtualLsiLogicController,
    "scsi": Dev.VirtualLsiLogicController,
    "lsilogic": Dev.VirtualLsiLogicController,
    "lsilogic-sas": Dev.VirtualLsiLogicSASController,
    "pvscsi": Dev.ParaVirtualSCSIController,
    "buslogic": Dev.VirtualBusLogicController,
}
_NICS = {
    "e1000": Dev.VirtualE1000,
    "e1000e": Dev.VirtualE1000e,
    "vmxnet2": Dev.VirtualVmxnet2,
    "vmxnet3": Dev.VirtualVmxnet3,
    "pcnet32": Dev.VirtualPCNet32,
}


class _Keys:
    """Temporary (negative) device keys for one spec."""

    def __init__(self) -> None:
        self.next = -100

    def __call__(self) -> int:
        self.next -= 1
        return self.next


def _add(device: Any) -> Any:
    return DevSpec(operation=DevSpec.Operation.add, device=device)


def _edit(device: Any) -> Any:
    return DevSpec(operation=DevSpec.Operation.edit, device=device)


def _controller(kind: str, key: int, bus: int) -> Any:
    if kind == "nvme":
        return Dev.VirtualNVMEController(key=key, busNumber=bus)
    cls = _SCSI.get(kind)
    if cls is None:
        raise DriverError(f"unknown disk controller type {kind!r}")
    return cls(key=key, busNumber=bus, sharedBus="noSharing")


def storage_changes(storage: StorageSpec, devices: Sequence[Any]) -> list[Any]:
    """New controllers (after the ones there are) and their disks, as 1.6.6 adds them."""
    keys, changes = _Keys(), []
    scsi_buses = {d.busNumber for d in devices if isinstance(d, Dev.VirtualSCSIController)}
    nvme_buses = {d.busNumber for d in devices if isinstance(d, Dev.VirtualNVMEController)}
    controllers = []
    for kind in storage.controller_types:
        used = nvme_buses if kind == "nvme" else scsi_buses
        bus = next(b for b in range(8) if b not in used)
        used.add(bus)
        controller = _controller(kind, keys(), bus)
        controllers.append(controller)
        changes.append(_add(controller))
    units: dict[int, int] = {}
    for disk in storage.disks:
        controller = controllers[disk.controller_index]
        unit = units.get(controller.key, 0)
        if unit == 7 and not isinstance(controller, Dev.VirtualNVMEController):
            unit += 1  # the SCSI controller's own unit
        units[controller.key] = unit + 1
        backing = Dev.VirtualDisk.FlatVer2BackingInfo(
            diskMode="persistent",
            thinProvisioned=disk.thin_provisioned,
            eagerlyScrub=disk.eagerly_scrub,
        )
        made = Dev.VirtualDisk(key=keys(), controllerKey=controller.key, unitNumber=unit,
                               capacityInKB=disk.size_mb * 1024, backing=backing)  # fmt: skip
        change = _add(made)
        change.fileOperation = DevSpec.FileOperation.create
        changes.append(change)
    return changes


def nic_edit(devices: Sequence[Any], backing: Any, mac: str) -> Any:
    cards = [d for d in devices if isinstance(d, Dev.VirtualEthernetCard)]
    if not cards:
        raise DriverError("no network adapter device found")
    card = cards[0]
    card.backing = backing
    if mac:
        card.addressType, card.macAddress = "manual", mac
    return _edit(card)


def vapp_update(vm: Any, wanted: dict[str, str]) -> Any:
    """1.6.6's updateVAppConfig: edit user-configurable properties that exist."""
    config = vm.config.vAppConfig
    if config is None:
        raise DriverError(
            "this VM lacks a vApp configuration and cannot have vApp properties set on it"
        )
    left, specs = dict(wanted), []
    for prop in config.property or []:
        if prop.id not in left:
            continue
        if not prop.userConfigurable:
            raise DriverError(
                f"vApp property with userConfigurable=false specified in vapp.properties: "
                f"{sorted(wanted)}"
            )
        info = vim.vApp.PropertyInfo(key=prop.key, id=prop.id, value=left.pop(prop.id),
                                     userConfigurable=True)  # fmt: skip
        specs.append(vim.vApp.PropertySpec(operation="edit", info=info))
    if left:
        raise DriverError(f"unsupported vApp properties in vapp.properties: {sorted(left)}")
    return vim.vApp.VmConfigSpec(property=specs)


def create_config(spec: CreateSpec, datastore: str, backing: Callable[[str], Any]) -> Any:
    config = vim.vm.ConfigSpec(name=spec.name, annotation=spec.annotation,
                               guestId=spec.guest_os_type)  # fmt: skip
    if spec.version:
        config.version = f"vmx-{spec.version:02d}"
    changes = storage_changes(spec.storage, [])
    keys = _Keys()
    keys.next = -500
    if not spec.nics:
        raise DriverError("no network adapters have been defined")
    for nic in spec.nics:
        cls = _NICS.get(nic.card)
        if cls is None:
            raise DriverError(f"unknown network card type {nic.card!r}")
        card = cls(
            key=keys(), backing=backing(nic.network), uptCompatibilityEnabled=nic.passthrough
        )
        if nic.mac_address:
            card.addressType, card.macAddress = "manual", nic.mac_address
        changes.append(_add(card))
    for usb in spec.usb_controllers:
        if usb in ("usb", "true", "1"):
            changes.append(_add(Dev.VirtualUSBController(key=keys(), ehciEnabled=True)))
        elif usb == "xhci":
            changes.append(_add(Dev.VirtualUSBXHCIController(key=keys())))
    config.deviceChange = changes
    config.files = vim.vm.FileInfo(vmPathName=f"[{datastore}]")
    if spec.firmware:
        config.firmware = "efi" if spec.firmware == "efi-secure" else spec.firmware
    return config


def resize(vm: Any, size_mb: int) -> Any:
    disks = [d for d in vm.config.hardware.device if isinstance(d, Dev.VirtualDisk)]
    if not disks:
        raise DriverError("no disk found to resize")
    disk = disks[0]
    disk.capacityInKB = size_mb * 1024
    return vim.vm.ConfigSpec(deviceChange=[_edit(disk)])


def hardware(vm: Any, spec: HardwareSpec) -> Any:
    """1.6.6's Configure: every option in one ReconfigVM."""
    config: Any = vim.vm.ConfigSpec()
    if spec.cpus:
        config.numCPUs = spec.cpus
    if spec.cpu_cores:
        config.numCoresPerSocket = spec.cpu_cores
    if spec.ram_mb:
        config.memoryMB = spec.ram_mb
    cpu = vim.ResourceAllocationInfo(reservation=spec.cpu_reservation)
    if spec.cpu_limit:
        cpu.limit = spec.cpu_limit
    config.cpuAllocation = cpu
    config.memoryAllocation = vim.ResourceAllocationInfo(reservation=spec.ram_reservation)
    config.memoryReservationLockedToMax = spec.ram_reserve_all
    config.nestedHVEnabled = spec.nested_hv
    config.cpuHotAddEnabled = spec.cpu_hot_plug
    config.memoryHotAddEnabled = spec.ram_hot_plug
    changes = []
    if spec.video_ram_kb:
        cards = [d for d in vm.config.hardware.device if isinstance(d, Dev.VirtualVideoCard)]
        if len(cards) == 1:
            cards[0].videoRamSizeInKB = spec.video_ram_kb
            changes.append(_edit(cards[0]))
    if spec.vgpu_profile:
        backing = Dev.VirtualPCIPassthrough.VmiopBackingInfo(vgpu=spec.vgpu_profile)
        label = vim.Description(summary="", label=f"New vGPU {spec.vgpu_profile} PCI device")
        changes.append(_add(Dev.VirtualPCIPassthrough(deviceInfo=label, backing=backing)))
    config.deviceChange = changes
    if spec.firmware:
        config.firmware = "efi" if spec.firmware == "efi-secure" else spec.firmware
    config.bootOptions = vim.vm.BootOptions(
        enterBIOSSetup=spec.force_bios_setup, efiSecureBootEnabled=spec.firmware == "efi-secure"
    )
    return config


def customization(spec: CustomizeSpec) -> Any:
    c = vim.vm.customization
    if spec.linux is not None:
        lx = spec.linux
        identity: Any = c.LinuxPrep(hostName=c.FixedName(name=lx.host_name), domain=lx.domain,
                                    timeZone=lx.time_zone, hwClockUTC=lx.hw_clock_utc)  # fmt: skip
    else:
        identity = c.SysprepText(value=spec.sysprep_text)
    mappings = []
    for nic in spec.nics:
        ip = c.IPSettings(dnsServerList=list(nic.dns_server_list), dnsDomain=nic.dns_domain or None)
        if nic.ipv4_address:
            ip.ip = c.FixedIp(ipAddress=nic.ipv4_address)
            ip.subnetMask = dotted_mask(nic.ipv4_netmask)
            if nic.ipv4_gateway:
                ip.gateway = [nic.ipv4_gateway]
        else:
            ip.ip = c.DhcpIpGenerator()
        if nic.ipv6_address:
            v6 = c.IPSettings.IpV6AddressSpec(ip=[
                c.FixedIpV6(ipAddress=nic.ipv6_address, subnetMask=nic.ipv6_netmask)
            ])  # fmt: skip
            if nic.ipv6_gateway:
                v6.gateway = [nic.ipv6_gateway]
            ip.ipV6Spec = v6
        mappings.append(c.AdapterMapping(adapter=ip))
    globals_ = c.GlobalIPSettings(dnsServerList=list(spec.dns_server_list),
                                  dnsSuffixList=list(spec.dns_suffix_list))  # fmt: skip
    return c.Specification(identity=identity, nicSettingMap=mappings, globalIPSettings=globals_)


def dotted_mask(bits: int) -> str:
    value = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF if bits else 0
    return ".".join(str((value >> s) & 0xFF) for s in (24, 16, 8, 0))


def boot_order(devices: Sequence[Any], order: Sequence[str]) -> list[Any]:
    """govmomi's BootOrder: device kinds to bootable devices ("-" clears the order)."""
    if list(order) == ["-"]:
        return []
    boot = vim.vm.BootOptions
    out: list[Any] = []
    for kind in order:
        if kind == "floppy":
            out.append(boot.BootableFloppyDevice())
        elif kind == "cdrom":
            out.append(boot.BootableCdromDevice())
        elif kind == "ethernet":
            out += [boot.BootableEthernetDevice(deviceKey=d.key) for d in devices
                    if isinstance(d, Dev.VirtualEthernetCard)]  # fmt: skip
        elif kind == "disk":
            out += [boot.BootableDiskDevice(deviceKey=d.key) for d in devices
                    if isinstance(d, Dev.VirtualDisk)]  # fmt: skip
    return out


_MODIFIER_FIELDS = (
    ("left_control", "leftControl"),
    ("left_shift", "leftShift"),
    ("left_alt", "leftAlt"),
    ("left_gui", "leftGui"),
    ("right_control", "rightControl"),
    ("right_shift", "rightShift"),
    ("right_alt", "rightAlt"),
    ("right_gui", "rightGui"),
)


def usb_scan_codes(events: Sequence[UsbKeyEvent]) -> Any:
    """1.6.6's encoding: (usage << 16) | 7, the modifiers held (ctrl, shift, alt always set)."""
    spec = vim.vm.UsbScanCodeSpec()
    for event in events:
        mods = vim.vm.UsbScanCodeSpec.ModifierType()
        for ours, theirs in _MODIFIER_FIELDS:
            value = getattr(event, ours)
            if value or theirs in ("leftControl", "leftShift", "leftAlt"):
                setattr(mods, theirs, value)
        spec.keyEvents.append(
            vim.vm.UsbScanCodeSpec.KeyEvent(usbHidCode=(event.usage << 16) | 7, modifiers=mods)
        )
    return spec


def cdrom(devices: Sequence[Any], controller: str, iso_path: str) -> Any:
    kind = Dev.VirtualAHCIController if controller == "sata" else Dev.VirtualIDEController
    ctrls = [d for d in devices if isinstance(d, kind)]
    taken = {(d.controllerKey, d.unitNumber) for d in devices if d.controllerKey is not None}
    limit = 30 if controller == "sata" else 2
    for ctrl in ctrls:
        free = [u for u in range(limit) if (ctrl.key, u) not in taken]
        if free:
            break
    else:
        raise DriverError(f"no free {'SATA' if controller == 'sata' else 'IDE'} controller")
    if iso_path:
        backing: Any = Dev.VirtualCdrom.IsoBackingInfo(fileName=iso_path)
    else:
        backing = Dev.VirtualCdrom.RemotePassthroughBackingInfo(deviceName="", exclusive=False)
    conn = Dev.VirtualDevice.ConnectInfo(startConnected=True, allowGuestControl=True,
                                         connected=False)  # fmt: skip
    drive = Dev.VirtualCdrom(key=-300 - len(taken), controllerKey=ctrl.key, unitNumber=free[0],
                             backing=backing, connectable=conn)  # fmt: skip
    return _add(drive)


def sata_controller(devices: Sequence[Any]) -> Any | None:
    if any(isinstance(d, Dev.VirtualAHCIController) for d in devices):
        return None
    return _add(Dev.VirtualAHCIController(key=-250, busNumber=0))


def eject_cdroms(devices: list[Any]) -> list[Any]:
    out = []
    for d in devices:
        if isinstance(d, Dev.VirtualCdrom):
            d.backing = Dev.VirtualCdrom.RemotePassthroughBackingInfo(
                deviceName="", exclusive=False
            )
            out.append(_edit(d))
    return out


def remove(devices: list[Any], kind: Any) -> list[Any]:
    return [DevSpec(operation=DevSpec.Operation.remove, device=d) for d in devices
            if isinstance(d, kind)]  # fmt: skip


def floppy(devices: Sequence[Any], image: str) -> Any:
    sio = next((d for d in devices if isinstance(d, Dev.VirtualSIOController)), None)
    if sio is None:
        raise DriverError("no SIO controller for a floppy drive")
    backing: Any = (
        Dev.VirtualFloppy.ImageBackingInfo(fileName=image)
        if image
        else Dev.VirtualFloppy.RemoteDeviceBackingInfo(deviceName="")
    )
    conn = Dev.VirtualDevice.ConnectInfo(startConnected=True, allowGuestControl=True)
    return _add(
        Dev.VirtualFloppy(key=-400, controllerKey=sio.key, backing=backing, connectable=conn)
    )


def lease_download(
    lease: Any,
    host: str,
    port: int,
    context: ssl.SSLContext,
    cookie: str,
    directory: str,
    name: str,
    images: bool,
    on_file: Callable[[str], None],
    cancel: CancelToken,
) -> list[ExportedFile]:
    """Wait for the lease, GET each (disk) file into `directory`, complete the lease."""
    while lease.state == vim.HttpNfcLease.State.initializing:
        if cancel.wait(0.1):
            lease.HttpNfcLeaseAbort()
            raise BuildCancelled()
    if lease.state == vim.HttpNfcLease.State.error:
        raise lease.error
    out: list[ExportedFile] = []
    try:
        for item in lease.info.deviceUrl or []:
            path = str(item.targetId or os.path.basename(urllib.parse.urlsplit(item.url).path))
            if not images and not path.endswith(".vmdk"):
                continue
            if not path.startswith(name):
                path = f"{name}-{path}"
            target = os.path.join(directory, path)
            on_file(target)
            url = urllib.parse.urlsplit(str(item.url).replace("*", host, 1))
            size = _download(url, host, port, context, cookie, target, cancel)
            out.append(ExportedFile(target, str(item.key), size))
        lease.HttpNfcLeaseComplete()
    except BaseException:
        try:
            lease.HttpNfcLeaseAbort()
        except Exception:  # noqa: BLE001 - the first error is the one to report
            pass
        raise
    return out


def _download(url: Any, host: str, port: int, context: ssl.SSLContext, cookie: str,
              target: str, cancel: CancelToken) -> int:  # fmt: skip
    conn = http.client.HTTPSConnection(url.hostname or host, url.port or port, context=context,
                                       timeout=60)  # fmt: skip
    try:
        conn.request("GET", url.path + (f"?{url.query}" if url.query else ""),
                     headers={"Cookie": cookie})  # fmt: skip
        response = conn.getresponse()
        if response.status != 200:
            raise DriverError(f"export download {url.path}: HTTP {response.status}")
        size = 0
        with open(target, "wb") as f:
            while chunk := response.read(1 << 20):
                cancel.check()
                f.write(chunk)
                size += len(chunk)
        return size
    finally:
        conn.close()
