"""StepExport: the VM as OVF (+ disks, + a manifest) in a local directory (`export`).

Every file is `local.file` in the ledger before it is written; a failed or cancelled
build removes them, a finished one keeps them (the artifact's files).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from builder.common.plan import Creates
from builder.errors import BuildError, DriverError
from builder.ledger import LOCAL
from builder.vsphere.common.run import VSphereRun

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.vsphere.common.config import ExportConfig, VSphereConfig


def file_digest(path: str, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class StepExport:
    name: ClassVar[str] = "StepExport"
    build_name: str = ""
    _files: list[Resource] = field(default_factory=list, init=False, repr=False)

    def plan(self, config: VSphereConfig, build_name: str) -> list[Creates]:
        export = config.export
        if export is None:
            return []
        where = export.target_dir(build_name)
        name = export.ovf_name(config.vm_name)
        return [
            Creates(f"{LOCAL}.file", "the exported OVF, disks and manifest", f"{where}/{name}.ovf")
        ]

    def run(self, ctx: VSphereRun[Any]) -> None:
        export: ExportConfig | None = ctx.config.export
        if export is None:
            return
        directory = export.target_dir(self.build_name)
        name = export.ovf_name(ctx.config.vm_name)
        ctx.ui.message("Starting export...")
        os.makedirs(directory, mode=export.directory_permission, exist_ok=True)

        def writing(path: str) -> None:
            res = ctx.resources.creating(LOCAL, "file", name=path)
            res.created(path)
            self._files.append(res)
            ctx.ui.message(f"Downloading: {os.path.basename(path)}")

        try:
            descriptor, files, unknown = ctx.driver.export_ovf(
                ctx.require_vm(), directory, name, export.images, export.options, writing,
                ctx.cancel,
            )  # fmt: skip
        except DriverError as exc:
            raise BuildError(f"error exporting vm: {exc}") from exc
        if unknown:
            ctx.ui.error(f"unknown export options {','.join(unknown)}")
        for item in files:
            ctx.ui.message(f"Exporting file: {os.path.basename(item.path)}")
        target = os.path.join(directory, f"{name}.ovf")
        writing_ovf = ctx.resources.creating(LOCAL, "file", name=target)
        self._files.append(writing_ovf)
        ctx.ui.message("Writing ovf...")
        with open(target, "w", encoding="utf-8") as f:
            f.write(descriptor)
        writing_ovf.created(target)
        ctx.export_files[:] = [*(i.path for i in files), target]
        if export.manifest == "none":
            return
        ctx.ui.message("Creating manifest...")
        manifest = os.path.join(directory, f"{name}.mf")
        res = ctx.resources.creating(LOCAL, "file", name=manifest)
        self._files.append(res)
        algo = export.manifest
        lines = [
            f"{algo.upper()}({os.path.basename(p)})= {file_digest(p, algo)}\n"
            for p in ctx.export_files
        ]
        with open(manifest, "w", encoding="utf-8") as f:
            f.writelines(lines)
        res.created(manifest)
        ctx.export_files.append(manifest)
        ctx.ui.message("Finished exporting...")

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        for res in self._files:
            if ctx.state.failed:
                try:
                    os.remove(res.name)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    ctx.ui.error(f"Error removing {res.name}: {exc}")
                    continue
                res.released()
            else:
                res.kept()
        self._files.clear()
