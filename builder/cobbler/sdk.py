"""The Cobbler driver over XML-RPC: the only module that imports `xmlrpc.client`.

Cobbler 3.3's API (cobbler/remote.py): `login` gives a token every changing call takes;
`xapi_object_edit(kind, name, "add", attrs, token)` makes an object in one call
(new + modify each attribute + save, done by the server), `remove_item(..., recursive=False)`,
`find_items`, `get_item` ("~" when absent), `sync`, `background_import` and
`get_task_status`/`get_event_log`. Faults arrive as `<class 'ValueError'>:message`; the
class is cut off, the message kept.
"""

from __future__ import annotations

import http.client
import re
import ssl
import xmlrpc.client
from collections.abc import Mapping
from typing import Any

from builder.cobbler.driver import CobblerError, CobblerSettings, Task

_FAULT_CLASS = re.compile(r"^<class '[\w.]+'>:")


class _Transport(xmlrpc.client.Transport):
    """HTTP with a timeout on every connection."""

    def __init__(self, timeout: float):
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


class _SafeTransport(xmlrpc.client.SafeTransport):
    """HTTPS with a timeout; the certificate is checked unless told otherwise."""

    def __init__(self, timeout: float, context: ssl.SSLContext):
        super().__init__(context=context)
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPSConnection:
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


def _message(fault: xmlrpc.client.Fault) -> str:
    text = _FAULT_CLASS.sub("", str(fault.faultString)).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text


class XmlRpcCobblerDriver:
    """A CobblerDriver over one ServerProxy; counts its calls."""

    def __init__(self, settings: CobblerSettings):
        self.settings = settings
        self._calls = 0
        self._token = ""
        transport: xmlrpc.client.Transport
        if settings.url.startswith("https:"):
            context = ssl.create_default_context()
            if settings.insecure_skip_tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            transport = _SafeTransport(settings.timeout, context)
        else:
            transport = _Transport(settings.timeout)
        self._proxy = xmlrpc.client.ServerProxy(settings.url, transport=transport, allow_none=True)

    @property
    def calls(self) -> int:
        return self._calls

    def _call(self, operation: str, method: str, *args: Any) -> Any:
        self._calls += 1
        try:
            return getattr(self._proxy, method)(*args)
        except xmlrpc.client.Fault as exc:
            raise CobblerError(operation, _message(exc), answered=True) from None
        except xmlrpc.client.ProtocolError as exc:
            raise CobblerError(
                operation,
                f"{self.settings.url} answered HTTP {exc.errcode} {exc.errmsg} "
                "(is this Cobbler's XML-RPC endpoint?)",
                answered=False,
            ) from None
        except (OSError, http.client.HTTPException) as exc:  # TimeoutError is an OSError
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise CobblerError(
                operation, f"cannot reach Cobbler at {self.settings.url}: {reason}", answered=False
            ) from None
        except xmlrpc.client.ResponseError as exc:
            raise CobblerError(operation, f"not an XML-RPC answer: {exc}", answered=False) from None

    def login(self) -> str:
        user = self.settings.username
        self._token = str(self._call(f"login as {user}", "login", user, self.settings.password))
        # extended_version's "version" is the release (3.3.10); version() answers a float
        # (3.31 for 3.3.10) that reads like another release.
        found = self._call("version", "extended_version", self._token)
        if isinstance(found, dict) and found.get("version"):
            return str(found["version"])
        return str(self._call("version", "version"))

    def valid(self, what: str) -> list[str]:
        return [str(v) for v in self._call(f"valid {what}", f"get_valid_{what}", self._token)]

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        found = self._call(f"get {kind} {name}", "get_item", kind, name)
        return dict(found) if isinstance(found, dict) else None

    def find(self, kind: str, criteria: Mapping[str, str]) -> list[str]:
        return [
            str(n)
            for n in self._call(f"find {kind}", "find_items", kind, dict(criteria), "name", False)
        ]

    def add(self, kind: str, name: str, attrs: Mapping[str, Any]) -> None:
        self._call(f"add {kind} {name}", "xapi_object_edit", kind, name, "add",
                   {"name": name, **attrs}, self._token)  # fmt: skip

    def edit(self, kind: str, name: str, attrs: Mapping[str, Any]) -> None:
        self._call(f"edit {kind} {name}", "xapi_object_edit", kind, name, "edit", dict(attrs),
                   self._token)  # fmt: skip

    def remove(self, kind: str, name: str) -> None:
        self._call(f"remove {kind} {name}", "remove_item", kind, name, self._token, False)

    def sync(self) -> None:
        self._call("sync", "sync", self._token)

    def start_import(self, options: Mapping[str, str]) -> str:
        what = f"import {options.get('path', '')}"
        return str(self._call(what, "background_import", dict(options), self._token))

    def task(self, task_id: str) -> Task:
        status = self._call(f"task {task_id}", "get_task_status", task_id)
        state = str(status[2]) if isinstance(status, list) and len(status) > 2 else "unknown"
        tail = ""
        if state == "failed":
            log = str(self._call(f"task {task_id} log", "get_event_log", task_id))
            lines = [ln for ln in log.splitlines() if ln.strip() and "TASK FAILED" not in ln]
            tail = "\n".join(lines[-3:])
        return Task(task_id, state, tail)

    def tftpboot(self) -> str:
        found = self._call("settings", "get_settings", self._token)
        return str(found.get("tftpboot_location", "")) if isinstance(found, dict) else ""

    def close(self) -> None:
        if self._token:
            try:
                self._call("logout", "logout", self._token)
            except CobblerError:
                pass
            self._token = ""
        self._proxy("close")()
