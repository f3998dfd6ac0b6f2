"""The `cobbler` post-processor's artifact: a profile (and its systems) registered in Cobbler."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from builder.artifact import Artifact
from builder.cobbler.driver import COBBLER, CobblerError, CobblerSettings
from builder.cobbler.resources import remove_file
from builder.errors import PybuildError

BUILDER_ID = "pybuild.post-processor.cobbler"


class CobblerArtifact(Artifact):
    """`Cobbler profile P (systems …) at URL`; files: what was copied for Cobbler to read.

    State: distro, profile, systems (names), boot_files (paths under the server's TFTP root
    that its sync wrote for them), tftpboot (that root), image_url, url, xmlrpc_calls.
    `destroy()` logs in again and removes the systems, the profile, the distro and the files.
    """

    def __init__(
        self,
        settings: CobblerSettings,
        *,
        distro: str,
        profile: str,
        systems: Sequence[str],
        files: Sequence[str],
        state: dict[str, Any],
        own_distro: bool = True,
        made: Sequence[tuple[str, str]] = (),
    ):
        state = {"distro": distro, "profile": profile, "systems": list(systems),
                 "url": settings.url, **state}  # fmt: skip
        super().__init__(BUILDER_ID, profile, files, state=state)
        self.settings = settings
        self.distro, self.profile, self.systems = distro, profile, list(systems)
        self.own_distro = own_distro
        self.made = list(made)  # (kind, name) of everything the run made, e.g. by an import

    def string(self) -> str:
        systems = f" (systems: {', '.join(self.systems)})" if self.systems else ""
        return f"Cobbler profile {self.profile}{systems} on distro {self.distro} at {self.settings.url}"

    def destroy(self) -> None:
        objects = [("system", s) for s in self.systems] + [("profile", self.profile)]
        rank = {
            "system": 0,
            "profile": 1,
            "distro": 2,
            "repo": 3,
        }  # nothing removed before its children
        for kind, name in sorted(self.made, key=lambda o: rank.get(o[0], 3)):
            if (kind, name) not in objects and (kind != "distro" or self.own_distro):
                objects.append((kind, name))
        if self.own_distro and ("distro", self.distro) not in objects:
            objects.append(("distro", self.distro))
        objects.sort(key=lambda o: rank.get(o[0], 3))
        try:
            with COBBLER.open(self.settings) as driver:
                driver.login()
                for kind, name in objects:
                    driver.remove(kind, name)
                driver.sync()
        except CobblerError as exc:
            raise PybuildError(f"Error destroying Cobbler profile {self.profile}: {exc}") from exc
        for path in self.files:
            remove_file(path)
