"""StepDownload: fetch the ISO (or use the cached copy) and put its path on the run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from builder.common.iso.checksum import Checksum, ChecksumError, parse_checksum
from builder.common.iso.config import ISOConfig
from builder.common.plan import RUNTIME, Creates
from builder.ledger import LOCAL

if TYPE_CHECKING:
    from builder.ledger import BuildLedger
    from builder.multistep import CancelToken
    from builder.ui import Ui


class ISORun(Protocol):
    """What StepDownload needs of a platform's run: its ISO config and an `iso_path` field."""

    @property
    def ui(self) -> Ui: ...
    @property
    def cancel(self) -> CancelToken: ...
    @property
    def resources(self) -> BuildLedger: ...
    @property
    def config(self) -> ISOConfig: ...

    iso_path: str


@dataclass
class StepDownload:
    """Packer's StepDownload: `Retrieving ISO`, each URL in turn, the cache path on success.

    Nothing to undo in cleanup: a verified download is the cache's, and a partial one is
    removed by the download itself when it fails.
    """

    name: ClassVar[str] = "StepDownload"
    description: str = "ISO"

    def plan(self, config: ISOConfig, build_name: str) -> list[Creates]:
        """The `.part` file of the first URL (mirrors share it), unless nothing is cached."""
        from builder.common.iso.download import cache_target, is_local

        urls = config.urls
        if config.iso_skip_cache or not urls or is_local(urls[0]):
            return []
        try:
            spec = parse_checksum(config.iso_checksum)
        except ChecksumError:
            return []
        if isinstance(spec, Checksum) or spec is None:
            target = cache_target(
                urls[0],
                spec,
                target_path=config.iso_target_path,
                extension=config.iso_target_extension,
            )
        else:
            target = f"<sha1 of the checksum read from {spec.url}>.{config.iso_target_extension}"
            target += f" {RUNTIME}"
        what = f"partial download of the {self.description}, kept in the cache as {target}"
        return [Creates(f"{LOCAL}.file", what, target + ".part")]

    def run(self, ctx: ISORun) -> None:
        from builder.common.iso.download import download

        cfg = ctx.config
        ctx.iso_path = download(
            cfg.urls,
            cfg.iso_checksum,
            target_path=cfg.iso_target_path,
            extension=cfg.iso_target_extension,
            skip_cache=cfg.iso_skip_cache,
            ui=ctx.ui,
            cancel=ctx.cancel,
            resources=ctx.resources,
            description=self.description,
        )

    def cleanup(self, ctx: ISORun) -> None:
        ctx.iso_path = ""
