"""How `pybuild cleanup` removes what a docker build left, and how it finds it by name.

Kinds (platform "docker"): "container" (name recorded before the create call, id after),
"image" (a commit: the source container as attr `container`; a docker-import: the name
and the image the name pointed to before, attr `previous`), "tag" (a docker-tag name,
attr `image`). Build containers are named `pybuild_<build>_<run id>_<nonce>`, never
labelled (`docker commit` would copy a label into the user's image), so `sweep()` finds
the containers of runs whose ledger lost them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from builder.docker.driver import DOCKER, DockerDriver, DockerSettings
from builder.errors import DriverError, PybuildError
from builder.ledger import LeftResource

PLATFORM = "docker"
CLOCK_SLACK = 60.0  # seconds: the engine's clock (image times) against ours (the record's)
NAME_PREFIX = "pybuild_"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Sweep trusts only names whose run id is a UUID (what the engine makes), so that an old
# `pybuild_<build>_<nonce>` container is never taken for one of a run named `<nonce>`.
_NAME = re.compile(rf"^pybuild_(?P<build>.+)_(?P<run>{_UUID})_(?P<nonce>[0-9a-f]{{8}})$")


def _safe(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9.-]+", "-", text).strip("-.")


def container_name(build_name: str, run_id: str) -> str:
    """`pybuild_<build>_<run id>_<nonce>`: the run is known from the name alone."""
    safe = re.sub(r"[^a-zA-Z0-9_.-]+", "-", build_name).strip("-._") or "build"
    parts = [f"{NAME_PREFIX}{safe[:40]}"]
    if _safe(run_id):
        parts.append(_safe(run_id)[:64])
    return "_".join([*parts, secrets.token_hex(4)])


def run_of(name: str) -> tuple[str, str] | None:
    """(build, run id) of a build container's name, or None when it is not one."""
    match = _NAME.match(name.lstrip("/"))
    if match is None:
        return None
    return match["build"], match["run"]


def remove_commit(
    driver: DockerDriver, container_id: str, since: float, *, strict: bool = True
) -> bool:
    """Remove the images committed from `container_id` since `since` (a commit not confirmed).

    The engine says which container an image was committed from (`Container` in image
    inspect). When an image made meanwhile does not say, it might be the one: with
    `strict` that is reported rather than guessed (a killed build); without, it is left
    (the build saw the commit call fail).
    """
    made = driver.images_since(since - CLOCK_SLACK)
    ours = [i for i in made if i.container == container_id]
    for image in ours:
        driver.remove_image(image.id, force=True)
    if ours:
        return True
    unknown = [i.id for i in made if not i.container]
    if unknown and strict:
        raise DriverError(
            f"the commit of container {container_id[:12]} was not confirmed, and the engine "
            f"does not say where these images made since then came from: {', '.join(unknown)}; "
            "remove the one that is not yours with `docker rmi`"
        )
    return False


def remove_name(driver: DockerDriver, ref: str, image: str) -> bool:
    """Untag `ref` while it still names `image` and the image has another name.

    The last name of an image is left alone: removing it would delete the image, which
    is the input of the post-processor that tagged it (a finished artifact).
    """
    info = driver.inspect_image(ref)
    if info is None or (image and info.id != image) or len(info.tags) < 2:
        return False
    return driver.remove_image(ref)


class DockerRemover:
    """Removes docker resources through one open driver."""

    def __init__(self, driver: DockerDriver):
        self.driver = driver

    def remove(self, res: LeftResource) -> bool:
        attrs = res.attrs
        if res.kind == "container":
            return self.driver.remove_container(res.id or res.name)
        if res.kind == "image":
            if res.state == "created" and res.id:
                return self.driver.remove_image(res.id, force=True)
            if attrs.get("container"):
                return remove_commit(self.driver, attrs["container"], _float(attrs.get("since")))
            current = self.driver.image_id(res.name) if res.name else None
            if current is None or current == attrs.get("previous", ""):
                return False  # the import never named an image
            return self.driver.remove_image(current, force=True)
        if res.kind == "tag":
            return remove_name(self.driver, res.name, attrs.get("image", ""))
        raise PybuildError(f"unknown docker resource kind {res.kind!r}")

    def sweep(self) -> Iterable[LeftResource]:
        """Build containers of any run, found by their name."""
        for c in self.driver.list_containers(NAME_PREFIX):
            found = run_of(c.name)
            if found is None:
                continue
            build, run_id = found
            yield LeftResource(
                run_id,
                f"sweep:{c.id[:12]}",
                build,
                PLATFORM,
                "container",
                name=c.name,
                id=c.id,
                state="created",
            )


class DockerHandler:
    """`pybuild cleanup`'s way to the engine a build used."""

    @contextmanager
    def open(self, recorded: Mapping[str, Any], full: Any | None) -> Iterator[DockerRemover]:
        settings = (
            full if isinstance(full, DockerSettings) else DockerSettings.from_record(recorded)
        )
        with DOCKER.open(settings) as driver:
            yield DockerRemover(driver)


def _float(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


HANDLER = DockerHandler()
