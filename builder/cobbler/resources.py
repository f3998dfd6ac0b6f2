"""How `pybuild cleanup` removes what a dead run registered in Cobbler.

Kinds (platform "cobbler"), each recorded before its create call:
- "distro", "profile", "system": name = the object's name. Removed only while the object
  carries this run's owner comment (`pybuild run <run id>`): a later run that replaced it
  owns it now. Newest first, so a system goes before its profile, a profile before its distro.
- "repo": a repo Cobbler's import of an apt (Debian/Ubuntu) tree made alongside its distro;
  named after its distro and recorded before it, so removed after it and its profiles.
- "file": a file the post-processor copied for Cobbler to read (kernel, initrd, disk image
  under `files_dir`), on this machine; its directory goes too once empty.

There is no sweep: a finished run's objects carry the same comment and are the artifact.
The password is never in the ledger: set COBBLER_PASSWORD for cleanup (the user comes from
the ledger).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

from builder.cobbler.driver import (
    COBBLER,
    KINDS,
    CobblerDriver,
    CobblerSettings,
    owner_comment,
)
from builder.errors import PybuildError
from builder.ledger import LeftResource


def remove_file(path: str) -> bool:
    """Remove a copied file and its directory when that is left empty; False when gone."""
    try:
        os.remove(path)
    except FileNotFoundError:
        return False
    try:
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass  # not empty, or gone
    return True


class CobblerRemover:
    """Removes one run's objects; logs in to Cobbler only when an object is to go."""

    def __init__(self, settings: CobblerSettings, stack: ExitStack):
        self.settings, self._stack = settings, stack
        self._driver: CobblerDriver | None = None

    def driver(self) -> CobblerDriver:
        if self._driver is None:
            if not self.settings.password:
                raise PybuildError(
                    f"no password for {self.settings.username} at {self.settings.url}: "
                    "set COBBLER_PASSWORD"
                )
            driver = self._stack.enter_context(COBBLER.open(self.settings))
            driver.login()
            self._driver = driver
        return self._driver

    def remove(self, res: LeftResource) -> bool:
        if res.kind == "file":
            return remove_file(res.id or res.name)
        if res.kind not in KINDS:
            raise PybuildError(f"unknown cobbler resource kind {res.kind!r}")
        driver = self.driver()
        found = driver.get(res.kind, res.name)
        if found is None or found.get("comment") != owner_comment(res.run_id):
            return False  # gone, or replaced by another run (it owns it now)
        driver.remove(res.kind, res.name)
        return True

    def sweep(self) -> Iterable[LeftResource]:
        return ()


class CobblerHandler:
    """The `pybuild.resources` handler for platform `cobbler`."""

    @contextmanager
    def open(self, recorded: Mapping[str, Any], full: Any | None) -> Iterator[CobblerRemover]:
        if isinstance(full, CobblerSettings):
            settings = full
        else:
            settings = CobblerSettings.from_record(full if isinstance(full, Mapping) else recorded)
        with ExitStack() as stack:
            yield CobblerRemover(settings, stack)


HANDLER = CobblerHandler()
