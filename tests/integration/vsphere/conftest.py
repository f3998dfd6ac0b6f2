"""vSphere integration fixtures: the govmomi simulator (vcsim) that tests/testbed/vsphere.sh
builds once per machine, started by the session over TLS on 127.0.0.1 with random
credentials, and a leak check around each test.

The simulator is `simulator.VPX()` (../../testbed/vcsim/main.go): datacenter DC0, cluster
DC0_C0 (hosts DC0_C0_H0..H2), standalone host DC0_H0, datastore LocalDS_0, networks
"VM Network" and DC0_DVPG0, VMs DC0_C0_RP0_VM0/VM1 and DC0_H0_VM0/VM1 (powered on, 1 CPU,
32 MB). The launcher adds what govmomi 0.24 lacks (../../testbed/vcsim/simulator/pybuild_ext.go):
PutUsbScanCodes (recorded: `Vcsim.usb_scan_codes`), ExportVm (a lease whose device URLs
serve the VM's files), OvfManager.CreateDescriptor, a SOAP call log (`Vcsim.soap_calls`),
the open sessions and dropping them (`Vcsim.sessions`, `Vcsim.drop_sessions`). Datastore
files (`/folder/...`) need a session cookie or HTTP basic auth, as on vCenter. The vAPI REST
simulator (/rest) serves content libraries: `Vcsim.rest()` calls it in a session of its own,
the `content_library` fixture makes a LOCAL library on LocalDS_0 for the session, and the
leak check covers library items and REST sessions too.

A clone with a customization spec whose NIC has a fixed IP reports that IP as the guest IP
once powered on: 127.0.0.1 plus `ssh_port` of an sshd test host makes SSH work.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.util
import json
import os
import secrets
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.integration.conftest import service_missing

ROOT = Path(__file__).resolve().parents[3]
LAUNCHER_SOURCES = ROOT / "tests" / "testbed" / "vcsim"
VSPHERE_SETUP_HINT = "run `bash tests/testbed/vsphere.sh` as root"
# Read at import: the autouse isolation fixture clears PYBUILD_* before each test.
TESTBED_CACHE = Path(os.environ.get("PYBUILD_TESTBED_CACHE", "/var/cache/pybuild-testbed"))
LAUNCHER_NAME = "pybuild-vcsim"
GOVMOMI_SIMULATOR = Path("/usr/share/gocode/src/github.com/vmware/govmomi/simulator")
START_TIMEOUT = 30.0

DATACENTER = "DC0"
CLUSTER = "DC0_C0"
HOSTS = ("DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2")
STANDALONE_HOST = "DC0_H0"
RESOURCE_POOL = "Resources"
DATASTORE = "LocalDS_0"
NETWORK = "VM Network"
DV_PORTGROUP = "DC0_DVPG0"
VMS = ("DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1", "DC0_H0_VM0", "DC0_H0_VM1")
SOURCE_VM = "DC0_C0_RP0_VM0"  # the template a clone starts from in these tests
INVENTORY_KINDS = ("vm", "template", "file", "session", "library_item", "rest_session")


def launcher_recipe() -> str:
    """The cache key: the first 16 hex digits of a sha256 over the launcher's sources, as
    tests/testbed/vsphere.sh computes it (path under vcsim/, NUL, bytes, NUL; sorted)."""
    digest = hashlib.sha256()
    files = sorted(
        p.relative_to(LAUNCHER_SOURCES).as_posix() for p in LAUNCHER_SOURCES.rglob("*.go")
    )
    for name in files:
        digest.update(name.encode() + b"\0" + (LAUNCHER_SOURCES / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def launcher_path() -> Path:
    return TESTBED_CACHE / "vsphere" / f"vcsim-{launcher_recipe()}" / LAUNCHER_NAME


def _require_launcher() -> Path:
    path = launcher_path()
    if path.is_file() and os.access(path, os.X_OK):
        return path
    missing = []
    if shutil.which("go") is None:
        missing.append("go (Debian package golang-go)")
    if not GOVMOMI_SIMULATOR.is_dir():
        missing.append("govmomi (Debian package golang-github-vmware-govmomi-dev)")
    what = f"; {' and '.join(missing)} missing too" if missing else ""
    service_missing(
        f"vSphere simulator launcher for these sources missing ({path}{what}): {VSPHERE_SETUP_HINT}"
    )


def _require_pyvmomi() -> None:
    if importlib.util.find_spec("pyVmomi") is None:
        service_missing("Python package pyvmomi missing: .venv/bin/pip install pyvmomi")


class UsbKeyEvent(NamedTuple):
    """One key event PutUsbScanCodes received: `code` as sent ((usage << 16) | 7), the HID
    `usage` ID, and the modifiers that were true (leftControl, leftShift, leftAlt, leftGui,
    rightControl, rightShift, rightAlt, rightGui). A tuple, so that it compares equal to one
    made by a test module however pytest imported this conftest."""

    code: int
    usage: int
    modifiers: frozenset[str] = frozenset()


class SoapCall(NamedTuple):
    """One line of the simulator's SOAP log: seconds since it started, the method, the
    `_this` object as `Type:value`, the first 8 characters of the session cookie ("-" before
    Login) and the client's User-Agent ("Go-http-client/1.1" for packer 1.6.6, "pyvmomi ..." for
    pybuild)."""

    seconds: float
    method: str
    obj: str
    session: str
    agent: str


@dataclass
class Vcsim:
    """A running simulator. `url` is the SDK endpoint (https://127.0.0.1:PORT/sdk);
    `vcenter_server` is what a template's vcenter_server takes (host:port)."""

    url: str
    host: str
    port: int
    username: str
    password: str
    workdir: Path
    process: subprocess.Popen[bytes]
    insecure: bool = True
    cert_path: Path = field(default=Path())
    soap_log_path: Path = field(default=Path())
    log_path: Path = field(default=Path())

    @property
    def vcenter_server(self) -> str:
        return f"{self.host}:{self.port}"

    def connect_settings(self, **overrides: Any) -> dict[str, Any]:
        """The connection options of a vsphere-clone/vsphere-iso builder block."""
        settings: dict[str, Any] = {
            "vcenter_server": self.vcenter_server,
            "username": self.username,
            "password": self.password,
            "insecure_connection": self.insecure,
            "datacenter": DATACENTER,
        }
        settings.update(overrides)
        return settings

    # --- pyvmomi ------------------------------------------------------------------------

    def connect(self, username: str | None = None, password: str | None = None) -> Any:
        """A logged-in pyvmomi ServiceInstance; the caller disconnects it
        (`pyVim.connect.Disconnect(si)`), or use `connection()`."""
        from pyVim.connect import SmartConnect

        return SmartConnect(
            host=self.host,
            port=self.port,
            user=self.username if username is None else username,
            pwd=self.password if password is None else password,
            sslContext=ssl._create_unverified_context(),
        )

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """`with vcsim.connection() as si:` a ServiceInstance, logged out afterwards."""
        from pyVim.connect import Disconnect

        si = self.connect()
        try:
            yield si
        finally:
            Disconnect(si)

    def vm(self, si: Any, name: str) -> Any:
        """The VirtualMachine (or template) called `name` in DC0, or None."""
        return si.content.searchIndex.FindByInventoryPath(f"{DATACENTER}/vm/{name}")

    def vm_properties(self, si: Any, paths: list[str]) -> list[dict[str, Any]]:
        """`paths` (e.g. ["name", "config.template"]) of every VM, plus "obj" (the moref).
        VMs whose object is gone (a destroyed template's dangling ref) are left out."""
        from pyVmomi import vim, vmodl

        content = si.content
        view = content.viewManager.CreateContainerView(
            content.rootFolder, [vim.VirtualMachine], True
        )
        try:
            spec = vmodl.query.PropertyCollector.FilterSpec(
                objectSet=[
                    vmodl.query.PropertyCollector.ObjectSpec(
                        obj=view,
                        skip=True,
                        selectSet=[
                            vmodl.query.PropertyCollector.TraversalSpec(
                                name="view", path="view", skip=False, type=vim.view.ContainerView
                            )
                        ],
                    )
                ],
                propSet=[
                    vmodl.query.PropertyCollector.PropertySpec(
                        type=vim.VirtualMachine, pathSet=paths
                    )
                ],
            )
            options = vmodl.query.PropertyCollector.RetrieveOptions()
            result = content.propertyCollector.RetrievePropertiesEx([spec], options)
            out = []
            while result is not None:
                for obj in result.objects:
                    if obj.missingSet:
                        continue
                    row = {p.name: p.val for p in obj.propSet}
                    row["obj"] = obj.obj
                    out.append(row)
                if not result.token:
                    break
                result = content.propertyCollector.ContinueRetrievePropertiesEx(result.token)
            return out
        finally:
            view.Destroy()

    def inventory(self) -> dict[str, set[str]]:
        """What exists now: "vm" and "template" entries (`NAME vm-ID`), "file" (every file on
        LocalDS_0, relative to its root), "session" (`USER id`, the open sessions; read after
        this helper's own connection has logged out)."""
        with self.connection() as si:
            rows = self.vm_properties(si, ["name", "config.template"])
        out: dict[str, set[str]] = {kind: set() for kind in INVENTORY_KINDS}
        for row in rows:
            kind = "template" if row.get("config.template") else "vm"
            out[kind].add(f"{row['name']} {row['obj']._moId}")
        out["file"] = {
            f"{path.relative_to(self.datastore_dir).as_posix()}"
            for path in self.datastore_dir.rglob("*")
            if not path.is_dir()
        }
        out["session"] = {f"{s['user']} {s['id']}" for s in self.sessions()}
        out["library_item"] = {
            f"{item['name']} {item['type']} {item['id']}" for item in self.library_items()
        }
        out["rest_session"] = set(self.rest_sessions())
        return out

    # --- vSphere Automation REST API ----------------------------------------------------

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        """One REST call (`path` under /rest) in a session of its own, logged out after:
        the answer's "value"; None on 404."""
        status, raw = self._request("POST", "/rest/com/vmware/cis/session", b"", self._basic_auth())
        assert status == 200, f"REST login: HTTP {status} {raw[:200]!r}"
        session = {"vmware-api-session-id": json.loads(raw)["value"]}
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {**session, "Content-Type": "application/json"}
            status, raw = self._request(method, "/rest" + path, data, headers)
        finally:
            self._request("DELETE", "/rest/com/vmware/cis/session", None, session)
        if status == 404:
            return None
        assert status == 200, f"{method} /rest{path}: HTTP {status} {raw[:300]!r}"
        return json.loads(raw).get("value") if raw.strip() else None

    def library_items(self) -> list[dict[str, Any]]:
        """Every item of every content library (id, name, type, library_id)."""
        items = []
        for library in self.rest("GET", "/com/vmware/content/library") or []:
            query = urllib.parse.urlencode({"library_id": library})
            for item in self.rest("GET", f"/com/vmware/content/library/item?{query}") or []:
                found = self.rest("GET", f"/com/vmware/content/library/item/id:{item}")
                if found is not None:
                    items.append(found)
        return items

    def rest_sessions(self) -> list[str]:
        """The REST sessions opened and not logged out (first 8 characters of each id)."""
        status, body = self._request("GET", "/pybuild/rest-sessions")
        assert status == 200, f"rest-sessions: HTTP {status}"
        return list(json.loads(body)["open"])

    def create_library(self, name: str, type: str = "LOCAL") -> str:
        """A content library on LocalDS_0; its id."""
        with self.connection() as si:
            store = next(d for d in si.content.rootFolder.childEntity[0].datastore
                         if d.name == DATASTORE)  # fmt: skip
            backing = {"datastore_id": store._moId, "type": "DATASTORE"}
        spec = {"name": name, "type": type, "storage_backings": [backing]}
        where = "local-library" if type == "LOCAL" else "subscribed-library"
        if type != "LOCAL":
            spec["subscription_info"] = {"authentication_method": "NONE",
                                         "subscription_url": "https://127.0.0.1/lib.json"}  # fmt: skip
        return str(self.rest("POST", f"/com/vmware/content/{where}", {"create_spec": spec}))

    @property
    def datastore_dir(self) -> Path:
        """LocalDS_0's directory on this machine."""
        found = sorted((self.workdir / "tmp").glob(f"govcsim-{DATACENTER}-{DATASTORE}-*"))
        assert found, f"no datastore directory under {self.workdir / 'tmp'}"
        return found[0]

    # --- HTTPS endpoints ----------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"https://{self.host}:{self.port}{path}", data=data, method=method
        )
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        context = ssl._create_unverified_context()
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _basic_auth(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @staticmethod
    def folder_path(path: str) -> str:
        """The /folder URL path of a datastore file on LocalDS_0 in DC0."""
        query = urllib.parse.urlencode({"dcPath": DATACENTER, "dsName": DATASTORE})
        return f"/folder/{urllib.parse.quote(path.lstrip('/'))}?{query}"

    def upload(self, path: str, data: bytes) -> None:
        """PUT a file onto LocalDS_0 (HTTP basic auth)."""
        status, body = self._request("PUT", self.folder_path(path), data, self._basic_auth())
        assert status in (200, 201), f"PUT {path}: HTTP {status} {body[:200]!r}"

    def download(self, path: str) -> bytes | None:
        """A file of LocalDS_0 over /folder (HTTP basic auth), or None when it is absent."""
        status, body = self._request("GET", self.folder_path(path), None, self._basic_auth())
        if status == 404:
            return None
        assert status == 200, f"GET {path}: HTTP {status} {body[:200]!r}"
        return body

    def usb_scan_calls(self, vm_name: str) -> list[list[UsbKeyEvent]]:
        """The key events of each PutUsbScanCodes call on the VM called (or with moref id)
        `vm_name`, oldest first."""
        query = urllib.parse.urlencode({"vm": vm_name})
        status, body = self._request("GET", f"/pybuild/usb-scan-codes?{query}")
        assert status == 200, f"usb-scan-codes: HTTP {status}"
        return [
            [
                UsbKeyEvent(e["usbHidCode"], e["usage"], frozenset(e["modifiers"]))
                for e in call["events"]
            ]
            for call in json.loads(body)["calls"]
        ]

    def usb_scan_codes(self, vm_name: str) -> list[UsbKeyEvent]:
        """Every key event the VM received through PutUsbScanCodes, in order."""
        return [event for call in self.usb_scan_calls(vm_name) for event in call]

    def sessions(self) -> list[dict[str, str]]:
        """The open sessions: [{"user": ..., "id": first 8 characters of the key}]."""
        status, body = self._request("GET", "/pybuild/sessions")
        assert status == 200, f"sessions: HTTP {status}"
        return list(json.loads(body)["sessions"])

    def drop_sessions(self) -> int:
        """End every session, as a vCenter restart would; the number ended."""
        status, body = self._request("POST", "/pybuild/sessions/drop", b"")
        assert status == 200, f"sessions/drop: HTTP {status}"
        return int(json.loads(body)["dropped"])

    # --- SOAP call log ------------------------------------------------------------------

    def soap_mark(self) -> int:
        """A position in the SOAP log: pass it to `soap_calls(since=...)`."""
        return self.soap_log_path.stat().st_size if self.soap_log_path.exists() else 0

    def soap_calls(self, since: int = 0, agent_filter: str = "") -> list[SoapCall]:
        """The SOAP calls logged after position `since` (every call when 0), only those whose
        User-Agent contains `agent_filter` when given ("Go-http-client" for packer 1.6.6)."""
        if not self.soap_log_path.exists():
            return []
        with self.soap_log_path.open("rb") as log:
            log.seek(since)
            text = log.read().decode("utf-8", "replace")
        calls = []
        for line in text.splitlines():
            seconds, method, obj, session, agent = line.split("\t", 4)
            if agent_filter in agent:
                calls.append(SoapCall(float(seconds), method, obj, session, agent))
        return calls

    def log(self) -> str:
        """The launcher's own output (start-up line, simulator messages)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _about_answers(url: str) -> bool:
    about = url.rsplit("/sdk", 1)[0] + "/about"
    try:
        with urllib.request.urlopen(
            about, context=ssl._create_unverified_context(), timeout=2
        ) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start_vcsim(workdir: Path, timeout: float = START_TIMEOUT) -> Vcsim:
    """Start the launcher on 127.0.0.1 (a port the kernel picks) with random credentials and
    wait until /about answers. The caller stops it with `stop_vcsim`."""
    binary = _require_launcher()
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    username = f"pybuild-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(18)
    ready, cert = workdir / "url", workdir / "cert.pem"
    soap_log, log_path = workdir / "soap.log", workdir / "vcsim.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TMPDIR": str(workdir / "tmp"),  # the datastore's directories
        "VCSIM_PASSWORD": password,
    }
    command = [
        str(binary),
        "-listen", "127.0.0.1:0",
        "-username", username,
        "-soap-log", str(soap_log),
        "-cert", str(cert),
        "-ready-file", str(ready),
        "-exit-with-parent",
    ]  # fmt: skip
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"vcsim exited with status {process.returncode} before answering:\n"
                f"{log_path.read_text(errors='replace')}",
                pytrace=False,
            )
        if ready.exists():
            url = ready.read_text().strip()
            if _about_answers(url):
                parsed = urllib.parse.urlsplit(url)
                assert parsed.hostname and parsed.port
                return Vcsim(
                    url=url,
                    host=parsed.hostname,
                    port=parsed.port,
                    username=username,
                    password=password,
                    workdir=workdir,
                    process=process,
                    cert_path=cert,
                    soap_log_path=soap_log,
                    log_path=log_path,
                )
        time.sleep(0.05)
    process.kill()
    process.wait()
    pytest.fail(
        f"vcsim did not answer within {timeout} s:\n{log_path.read_text(errors='replace')}",
        pytrace=False,
    )


def stop_vcsim(vcsim: Vcsim) -> None:
    """SIGTERM (the launcher removes its datastore directories), SIGKILL after 10 s."""
    vcsim.process.terminate()
    try:
        vcsim.process.wait(10)
    except subprocess.TimeoutExpired:
        vcsim.process.kill()
        vcsim.process.wait()


@pytest.fixture(scope="session")
def vcsim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vcsim]:
    """One simulator for the session (tests share its inventory: use the `vsphere` fixture
    for the leak check, and unique VM names)."""
    _require_pyvmomi()
    server = start_vcsim(tmp_path_factory.mktemp("vcsim"))
    try:
        yield server
    finally:
        stop_vcsim(server)


@dataclass(frozen=True)
class Library:
    """The session's LOCAL content library (and a SUBSCRIBED one, to be refused)."""

    name: str
    id: str
    subscribed: str


@pytest.fixture(scope="session")
def content_library(vcsim: Vcsim) -> Iterator[Library]:
    """A LOCAL library "pybuild-lib" on LocalDS_0 made through the REST API, for the session;
    tests delete the items they make (the leak check lists items)."""
    library = Library("pybuild-lib", vcsim.create_library("pybuild-lib"), "pybuild-sub")
    sub = vcsim.create_library(library.subscribed, "SUBSCRIBED")
    yield library
    for lib in (library.id, sub):
        vcsim.rest("DELETE", f"/com/vmware/content/local-library/id:{lib}")


def _register_builders(plugins: Callable[..., None]) -> None:
    """Register vsphere-clone/vsphere-iso with the registry where their packages exist, until
    pyproject's entry points name them."""
    for name, module in (
        ("vsphere-clone", "builder.vsphere.clone"),
        ("vsphere-iso", "builder.vsphere.iso"),
    ):
        if importlib.util.find_spec(module) is None:
            continue
        builder = getattr(importlib.import_module(module), "Builder", None)
        if builder is not None:
            plugins("builder", name, builder)


@dataclass
class LeakCheck:
    """The `vsphere` fixture's value: the simulator, and what the check leaves out."""

    server: Vcsim
    before: dict[str, set[str]]
    ignore: set[str] = field(default_factory=set)  # inventory kinds not to check, e.g. "session"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)


@pytest.fixture
def vsphere(vcsim: Vcsim, plugins: Callable[..., None]) -> Iterator[LeakCheck]:
    """The simulator, with the vSphere builders registered; fails the test if anything the
    test made is left: a VM, a template, a datastore file, an open session. A test that
    means to leave something removes it itself, or adds its kind to `.ignore`."""
    _register_builders(plugins)
    check = LeakCheck(vcsim, vcsim.inventory())
    yield check
    after = vcsim.inventory()
    leaked = {
        kind: sorted(after[kind] - check.before[kind])
        for kind in INVENTORY_KINDS
        if kind not in check.ignore and after[kind] - check.before[kind]
    }
    assert leaked == {}, f"left behind in the simulator: {leaked}"
