"""StepSourceImageInfo: the source image by id, name or filter (or imported from a URL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.common.plan import Creates
from builder.common.wait import WaitFailed, wait_until
from builder.errors import BuildError
from builder.openstack.driver import PLATFORM, Image, NotFound, OpenStackError
from builder.openstack.run import Polling

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.openstack.config import OpenStackConfig
    from builder.openstack.run import OpenStackRun

IMPORT_POLLING = Polling(interval=10.0, timeout=3600.0)  # 1.6.6 looks every 10 s


@dataclass
class StepSourceImageInfo:
    """Resolve the source image; with external_source_image_url, import it first.

    The imported image is temporary: recorded in the ledger before its create call and
    deleted in cleanup.
    """

    name: ClassVar[str] = "StepSourceImageInfo"
    external_name: str = ""  # packer_<uuid>: the name of the imported source image
    _imported: Resource | None = None

    def plan(self, config: OpenStackConfig, build_name: str) -> list[Creates]:
        if not config.external_source_image_url:
            return []
        what = f"temporary source image imported from {config.external_source_image_url}"
        return [Creates(f"{PLATFORM}.image", what, "packer_<uuid>")]

    def run(self, ctx: OpenStackRun) -> None:
        cfg = ctx.config
        if cfg.external_source_image_url:
            ctx.source_image_id = self._import(ctx)
            return
        if cfg.source_image:
            ctx.source_image_id = self._by_id(ctx, cfg.source_image)
            return
        image = self._query(ctx)
        ctx.ui.message(f"Found Image ID: {image.id}")
        ctx.source_image_id = image.id

    def _by_id(self, ctx: OpenStackRun, image_id: str) -> str:
        try:
            found = ctx.driver.get_image(image_id)
            if found is not None:
                return found.id
            names = ctx.driver.image_names()
        except OpenStackError as exc:
            raise BuildError(f"Error querying image: {exc}") from exc
        error = NotFound("image", image_id, names)
        hint = ""
        if image_id in names:
            hint = " (source_image takes an image id; use source_image_name for a name)"
        raise BuildError(f"Error using source_image: {error}{hint}") from error

    def _query(self, ctx: OpenStackRun) -> Image:
        cfg = ctx.config
        query = cfg.image_query()
        props = dict(cfg.source_image_filter.filters.properties)
        most_recent = cfg.source_image_filter.most_recent
        try:
            found = [
                i
                for i in ctx.driver.find_images(query)
                if all(i.properties.get(k) == v for k, v in props.items())
            ]
        except OpenStackError as exc:
            raise BuildError(f"Error querying image: {exc}") from exc
        terms = query.describe() + (f" properties {props}" if props else "")
        if not found:
            message = f"No image was found matching filters: {terms}"
            if query.name:
                try:
                    names = ctx.driver.image_names()
                except OpenStackError:
                    names = []
                message = f"{message}; {NotFound('image', query.name, names)}"
            raise BuildError(message)
        if len(found) > 1 and not most_recent:
            raise BuildError(
                "Your query returned more than one result. Please try a more specific "
                f"search, or set most_recent to true. Search filters: {terms}"
            )
        return found[0]  # newest first

    def _import(self, ctx: OpenStackRun) -> str:
        cfg, ui, driver = ctx.config, ctx.ui, ctx.driver
        fmt, url, name = cfg.external_format(), cfg.external_source_image_url, self.external_name
        ui.say(f"Creating image using external source image with name {name}")
        ui.say(f"Using disk format {fmt}")
        properties = {
            "packer_external_source_image_url": url,
            "packer_external_source_image_format": fmt,
        }
        res = ctx.record("image", name)
        try:
            image = driver.create_image(name, fmt, properties)
        except OpenStackError as exc:
            ctx.not_created(res, exc)
            raise BuildError(f"Error creating source image: {exc}") from exc
        res.created(image.id)
        self._imported = res
        ui.say(f"Created image with ID {image.id}")
        ui.say(f"Importing External Source Image from URL {url}")
        try:
            driver.import_image(image.id, url)
        except OpenStackError as exc:
            raise BuildError(f"Error importing source image: {exc}") from exc

        def active() -> Image | None:
            now = driver.get_image(image.id)
            if now is None:
                raise WaitFailed("the image disappeared")
            if now.status in ("killed", "deleted", "deactivated"):
                raise WaitFailed(f"the import ended in status {now.status}")
            if now.status == "active":
                return now
            ui.message("Image not Active, retrying in 10 seconds")
            return None

        try:
            wait_until("external_image_active", active, IMPORT_POLLING, ctx.cancel)
        except (WaitFailed, OpenStackError) as exc:
            raise BuildError(f"Error querying image: {exc}") from exc
        return image.id

    def cleanup(self, ctx: OpenStackRun) -> None:
        res = self._imported
        if res is None:
            return
        ctx.ui.say(f"Deleting temporary external source image: {res.name} ...")
        try:
            ctx.driver.delete_image(res.id)
        except OpenStackError as exc:
            ctx.ui.error(f"error cleaning up external source image: {exc}")
            return
        res.released()
        self._imported = None
