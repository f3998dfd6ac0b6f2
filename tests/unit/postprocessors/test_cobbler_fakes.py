"""FakeCobbler: a stateful fake BELOW THE XML-RPC BOUNDARY — of our CobblerDriver Protocol.

Not a mock of xmlrpc.client: dictionaries of distros, profiles and systems that refuse
what Cobbler 3.3 refuses (an existing name, an unknown arch or breed, a kernel file that
is not there, a duplicate MAC, removing an object that has children), a password, a
sync that counts, an import task that runs for `import_polls` reads. `fail[op] = exc`
makes that operation raise once. The integration tests run the same flows against the
real cobblerd through sdk.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from builder.cobbler.driver import CobblerDriver, CobblerError, CobblerSettings, Task

ARCHS = ["i386", "x86_64", "aarch64", "ppc64le", "s390x"]
BREEDS = ["debian", "generic", "redhat", "suse", "ubuntu"]
PASSWORD = "cobbler"


class FakeCobbler:
    """One fake server; `factory` makes drivers that talk to it."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {
            "distro": {}, "profile": {}, "system": {}
        }  # fmt: skip
        self.syncs = 0
        self.calls = 0
        self.log: list[str] = []
        self.fail: dict[str, BaseException] = {}
        self.import_polls = 2
        self.tasks: dict[str, int] = {}
        self.import_makes: list[str] = ["imported-x86_64"]
        self.down = False

    def factory(self, settings: CobblerSettings) -> FakeCobblerDriver:
        return FakeCobblerDriver(self, settings)

    def call(self, op: str) -> None:
        self.calls += 1
        self.log.append(op)
        if self.down:
            raise CobblerError(
                op, "cannot reach Cobbler at fake: Connection refused", answered=False
            )
        exc = self.fail.pop(op, None)
        if exc is not None:
            raise exc


class FakeCobblerDriver:
    def __init__(self, server: FakeCobbler, settings: CobblerSettings):
        self.server, self.settings = server, settings
        self._calls = 0
        self.closed = False

    @property
    def calls(self) -> int:
        return self._calls

    def _call(self, op: str) -> None:
        self._calls += 1
        self.server.call(op)

    def login(self) -> str:
        self._call("login")
        if self.settings.password != PASSWORD:
            raise CobblerError(f"login as {self.settings.username}", "login failed", answered=True)
        return "3.3.10"

    def valid(self, what: str) -> list[str]:
        self._call(f"valid {what}")
        return list(ARCHS if what == "archs" else BREEDS)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        self._call(f"get {kind}")
        found = self.server.objects[kind].get(name)
        return dict(found) if found is not None else None

    def find(self, kind: str, criteria: Mapping[str, str]) -> list[str]:
        self._call(f"find {kind}")
        import fnmatch

        out = []
        for name, obj in self.server.objects[kind].items():
            if all(fnmatch.fnmatch(str(obj.get(k, "")), v) for k, v in criteria.items()):
                out.append(name)
        return sorted(out)

    def add(self, kind: str, name: str, attrs: Mapping[str, Any]) -> None:
        op = f"add {kind} {name}"
        self._call(op)
        objects = self.server.objects
        if name in objects[kind]:
            raise CobblerError(op, f"It seems unwise to overwrite the object {name}", answered=True)
        obj = {"name": name, "comment": "", **attrs}
        if kind == "distro":
            if obj.get("arch", "x86_64") not in ARCHS:
                raise CobblerError(op, f"{obj['arch']} must be one of {ARCHS}", answered=True)
            if obj.get("breed", "generic") not in BREEDS:
                raise CobblerError(op, f"Invalid value for breed ({obj['breed']})", answered=True)
            if not os.path.isfile(str(obj.get("kernel", ""))):
                raise CobblerError(op, f"kernel not found: {obj.get('kernel')}", answered=True)
        if kind == "profile" and obj.get("distro") not in objects["distro"]:
            raise CobblerError(op, f"distro not found: {obj.get('distro')}", answered=True)
        if kind == "system":
            if obj.get("profile") not in objects["profile"]:
                raise CobblerError(op, f"profile not found: {obj.get('profile')}", answered=True)
            for other, found in objects["system"].items():
                if found.get("mac_address") == obj.get("mac_address"):
                    raise CobblerError(
                        op,
                        f'MAC address duplicate found "{obj["mac_address"]}". Object with the '
                        f'conflict has the name "{other}"',
                        answered=True,
                    )
        objects[kind][name] = obj

    def edit(self, kind: str, name: str, attrs: Mapping[str, Any]) -> None:
        self._call(f"edit {kind} {name}")
        self.server.objects[kind][name].update(attrs)

    def remove(self, kind: str, name: str) -> None:
        op = f"remove {kind} {name}"
        self._call(op)
        objects = self.server.objects
        child = {"distro": ("profile", "distro"), "profile": ("system", "profile")}.get(kind)
        if child is not None:
            users = [n for n, o in objects[child[0]].items() if o.get(child[1]) == name]
            if users:
                raise CobblerError(
                    op, f"removal would orphan {child[0]}: {users[0]}", answered=True
                )
        objects[kind].pop(name, None)

    def sync(self) -> None:
        self._call("sync")
        self.server.syncs += 1

    def start_import(self, options: Mapping[str, str]) -> str:
        self._call("import")
        task_id = f"task-{len(self.server.tasks) + 1}"
        self.server.tasks[task_id] = 0
        return task_id

    def task(self, task_id: str) -> Task:
        self._call("task")
        polls = self.server.tasks[task_id] = self.server.tasks[task_id] + 1
        if polls < self.server.import_polls:
            return Task(task_id, "running")
        for name in self.server.import_makes:
            objects = self.server.objects
            objects["distro"].setdefault(name, {"name": name, "comment": "", "arch": "x86_64"})
            objects["profile"].setdefault(name, {"name": name, "comment": "", "distro": name})
        return Task(task_id, "complete")

    def tftpboot(self) -> str:
        self._call("tftpboot")
        return "/srv/tftpboot"

    def close(self) -> None:
        self.closed = True


def check_protocol(factory: Callable[[CobblerSettings], FakeCobblerDriver]) -> CobblerDriver:
    """Binds the fake to the Protocol for mypy (a missing or mistyped method fails there)."""
    driver: CobblerDriver = factory(CobblerSettings(password=PASSWORD))
    return driver


def test_the_fake_is_a_cobbler_driver() -> None:
    driver = check_protocol(FakeCobbler().factory)
    assert driver.login() == "3.3.10"
    assert driver.calls == 1
