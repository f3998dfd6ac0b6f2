"""What pybuild asks of a Cobbler server, in its own words; `sdk.py` implements it over XML-RPC.

Objects are Cobbler's distros, profiles and systems, each by name. `add` makes one object
with all its attributes in one call (Cobbler's `xapi_object_edit`): Cobbler checks every
attribute before it saves anything, so a refused object leaves nothing behind. A Cobbler
refusal (an XML-RPC fault) is a `CobblerError` with `answered` set; a server that cannot
be reached is one without.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol

from builder.common.drivers import DriverFactory, secret
from builder.errors import DriverError

PLATFORM = "cobbler"
DEFAULT_URL = "http://127.0.0.1:25151/"
KINDS = ("distro", "profile", "system", "repo")  # repo: made by an import of an apt tree
# Every object pybuild registers carries this comment, with the run id after it: what
# makes an object ours (a re-run replaces it, cleanup removes only its own run's).
OWNER_MARK = "pybuild run "


@dataclass(frozen=True)
class CobblerSettings:
    """Where Cobbler's XML-RPC API is and who logs in (the password never goes to the ledger)."""

    url: str = DEFAULT_URL
    username: str = "cobbler"
    password: str = secret()
    insecure_skip_tls_verify: bool = False
    timeout: float = 60.0

    @classmethod
    def from_record(
        cls, recorded: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> CobblerSettings:
        """The settings a ledger recorded; the password from COBBLER_PASSWORD."""
        env = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)} - {"password"}
        values = {k: v for k, v in recorded.items() if k in known}
        return cls(password=env.get("COBBLER_PASSWORD", ""), **values)


class CobblerError(DriverError):
    """A Cobbler call failed: `operation` names it; `answered` when Cobbler refused it."""

    def __init__(self, operation: str, message: str, *, answered: bool):
        self.operation, self.reason, self.answered = operation, message, answered
        super().__init__(f"{operation}: {message}")


@dataclass(frozen=True)
class Task:
    """A background task (an import): its state is running, complete or failed."""

    id: str
    state: str
    log_tail: str = ""


def owner_comment(run_id: str) -> str:
    return f"{OWNER_MARK}{run_id}"


def is_ours(found: Mapping[str, Any] | None) -> bool:
    """True when an object was registered by pybuild (any run)."""
    return found is not None and str(found.get("comment", "")).startswith(OWNER_MARK)


class CobblerDriver(Protocol):
    """One logged-in conversation with one Cobbler server."""

    @property
    def calls(self) -> int:
        """XML-RPC calls made so far (the figure in the closing note of issue 14)."""

    def login(self) -> str:
        """Log in; Cobbler's version. A wrong password is a CobblerError (answered)."""

    def valid(self, what: str) -> list[str]:
        """What Cobbler accepts for `what`: "archs" or "breeds"."""

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """The object's attributes, or None when there is none of that name."""

    def find(self, kind: str, criteria: Mapping[str, str]) -> list[str]:
        """Names of the objects matching every criterion (Cobbler's glob matching)."""

    def add(self, kind: str, name: str, attrs: Mapping[str, Any]) -> None:
        """Make a new object; refused when one of that name exists."""

    def edit(self, kind: str, name: str, attrs: Mapping[str, Any]) -> None:
        """Change attributes of an existing object."""

    def remove(self, kind: str, name: str) -> None:
        """Remove an object (not its children: Cobbler refuses if it has any); none is fine."""

    def sync(self) -> None:
        """Write the TFTP/PXE tree and the boot files from the objects."""

    def start_import(self, options: Mapping[str, str]) -> str:
        """Start importing an installer tree (path, name, arch, breed, os_version); task id."""

    def task(self, task_id: str) -> Task:
        """A background task's state."""

    def tftpboot(self) -> str:
        """The server's TFTP root (its `tftpboot_location` setting)."""

    def close(self) -> None: ...


COBBLER = DriverFactory[CobblerSettings, CobblerDriver](
    PLATFORM, "builder.cobbler.sdk:XmlRpcCobblerDriver"
)
