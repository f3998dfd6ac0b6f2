"""The `cobbler` post-processor: hand an image to Cobbler, so bare-metal machines PXE-boot it.

pybuild's own (Packer 1.6.6 has none: packer issue 955). Flow: find the kernel, initrd and
disk image (the artifact's, or named); log in; check everything Cobbler would refuse
half-way (architecture, breed, objects of those names that are not ours, MACs that belong
to other systems) before changing anything; remove the objects of those names an earlier
pybuild run registered (a re-run replaces them); copy the files to `files_dir` (the disk
converted to raw with qemu-img); register the distro (or import an installer tree), the
profile and the systems, one XML-RPC call each; `sync`. Every object and file is in the
ledger before it is made, and on any failure or Ctrl-C what this run made is removed:
nothing is left half-registered. Objects carry the comment `pybuild run <run id>`: what
makes them ours. `-force` replaces objects of those names that pybuild did not make.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from builder import faults
from builder.cobbler.artifact import CobblerArtifact
from builder.cobbler.driver import (
    COBBLER,
    PLATFORM,
    CobblerDriver,
    CobblerError,
    CobblerSettings,
    is_ours,
    owner_comment,
)
from builder.cobbler.resources import remove_file
from builder.common.drivers import public_settings
from builder.common.names import closest
from builder.common.plan import RUNTIME, Creates
from builder.components import PostProcessor
from builder.errors import BuildCancelled, PostProcessorError
from postprocessors.cobbler_config import CobblerConfig
from postprocessors.cobbler_files import (
    INITRD,
    KERNEL,
    Inputs,
    convert,
    copy,
    find_boot_file,
    one_disk,
)

if TYPE_CHECKING:
    from builder.artifact import Artifact
    from builder.ledger import Resource
    from builder.ui import Ui

__all__ = ["CobblerConfig", "CobblerPostProcessor"]
IMPORT_POLL = 1.0


@dataclass
class _Made:
    """What this run made so far, oldest first, for the clean-up on failure."""

    objects: list[tuple[Resource, str, str]] = field(default_factory=list)  # (res, kind, name)
    files: list[tuple[Resource, str]] = field(default_factory=list)


class CobblerPostProcessor(PostProcessor):
    """Registers a distro, a profile and systems in Cobbler from a built image."""

    Config = CobblerConfig
    config: CobblerConfig

    def plan_creates(self) -> list[Creates]:
        cfg = self.config
        out = []
        if cfg.import_path:
            out.append(Creates(f"{PLATFORM}.distro", f"imported from {cfg.import_path}", RUNTIME))
        else:
            out.append(Creates(f"{PLATFORM}.distro", "the distro", cfg.distro.name))
        out.append(Creates(f"{PLATFORM}.profile", "the profile", cfg.profile_name()))
        out += [Creates(f"{PLATFORM}.system", f"system {s.mac}", s.name) for s in cfg.systems]
        if cfg.files_dir:
            where = os.path.join(cfg.files_dir, cfg.distro.name)
            out.append(Creates(f"{PLATFORM}.file", "kernel, initrd and disk image", where))
        return out

    # ------------------------------------------------------------------ the run
    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        cfg = self.config
        started = time.monotonic()
        inputs = self._inputs(artifact)
        settings = cfg.settings()
        self.options.resources.platform(PLATFORM, public_settings(settings))
        made = _Made()
        try:
            with COBBLER.open(settings) as driver:
                version = self._login(ui, driver, settings)
                self._check(driver)
                self._replace(ui, driver)
                files = self._place_files(ui, inputs, made)
                if cfg.import_path:
                    distro = self._import(ui, driver, made)
                else:
                    distro = self._add_distro(ui, driver, files, made)
                self._add_profile(ui, driver, distro, files, made)
                for system in cfg.systems:
                    name = system.name
                    self._add(ui, driver, made, "system", name, self._system_attrs(system))
                if cfg.sync:
                    ui.message("Syncing Cobbler (writes the TFTP tree)")
                    driver.sync()
                tftpboot = driver.tftpboot()
                calls = driver.calls
        except BaseException as exc:
            self._undo(ui, settings, made)
            if isinstance(exc, CobblerError):
                raise PostProcessorError(_explain(exc, settings)) from exc
            raise
        # Objects made besides the profile and systems (the distro; with import_path, every
        # distro and profile the import made): destroy() removes them too, profiles first.
        made_objects = [(k, n) for r, k, n in made.objects if r.state == "created"]
        for res, _kind, _name in made.objects:
            res.kept()
        for res, _path in made.files:
            res.kept()
        seconds = time.monotonic() - started
        ui.message(
            f"Registered profile {cfg.profile_name()} in Cobbler {version} "
            f"({calls} XML-RPC calls, {seconds:.2f} s)"
        )
        state = {
            "boot_files": self._boot_files(distro, files),
            "tftpboot": tftpboot,
            "image_url": files.get("image_url", ""),
            "xmlrpc_calls": calls,
            "seconds": round(seconds, 3),
        }
        out = CobblerArtifact(
            settings,
            distro=distro,
            profile=cfg.profile_name(),
            systems=[s.name for s in cfg.systems],
            files=[path for _res, path in made.files],
            state=state,
            made=made_objects,
        )
        # Without files_dir Cobbler reads the input's own kernel and initrd: keep them.
        return out, True, not cfg.files_dir and not cfg.import_path

    # ------------------------------------------------------------------ inputs
    def _inputs(self, artifact: Artifact) -> Inputs:
        cfg = self.config
        kernel = initrd = ""
        if not cfg.import_path:
            kernel = cfg.distro.kernel or find_boot_file(artifact, KERNEL)
            initrd = cfg.distro.initrd or find_boot_file(artifact, INITRD)
            listed = ", ".join(artifact.files) or "none"
            for key, path, like in (
                ("kernel", kernel, "vmlinuz"),
                ("initrd", initrd, "initrd.img"),
            ):
                if not path:
                    raise PostProcessorError(
                        f"distro.{key}: not set, and the artifact has no one file named like "
                        f"{like} (files: {listed})"
                    )
                if not os.path.isfile(path):
                    raise PostProcessorError(f"distro.{key}: {path}: no such file")
                pattern = KERNEL if key == "kernel" else INITRD
                if not cfg.files_dir and not pattern.match(os.path.basename(path)):
                    raise PostProcessorError(
                        f"distro.{key}: Cobbler takes a {key} only by a name like {like}, not "
                        f"{os.path.basename(path)}: set files_dir to have it copied"
                    )
        disk = kind = ""
        if cfg.image_base_url:
            disk, kind = one_disk(artifact, (kernel, initrd))
            if not disk:
                raise PostProcessorError(
                    "image_base_url is set but the artifact has no one disk image "
                    f"(files: {', '.join(artifact.files) or 'none'})"
                )
        return Inputs(kernel, initrd, disk, kind)

    # ------------------------------------------------------------------ checks
    def _login(self, ui: Ui, driver: CobblerDriver, settings: CobblerSettings) -> str:
        ui.message(f"Logging in to Cobbler at {settings.url} as {settings.username}")
        return driver.login()

    def _check(self, driver: CobblerDriver) -> None:
        """What Cobbler would refuse after part of the registration is made: refused first."""
        cfg = self.config
        for key in ("arch", "breed"):
            value = getattr(cfg.distro, key)
            if cfg.import_path and key == "breed" and not cfg.distro.was_set("breed"):
                continue
            valid = driver.valid(f"{key}s")
            if value not in valid:
                near = closest(value, valid)
                hint = f" (did you mean '{near}'?)" if near else ""
                raise PostProcessorError(
                    f"distro.{key}: Cobbler knows no {key} '{value}'{hint}; it knows "
                    f"{', '.join(sorted(valid))}"
                )
        mine = {s.name for s in cfg.systems}
        for system in cfg.systems:
            owners = [n for n in driver.find("system", {"mac_address": system.mac.lower()})
                      if n != system.name]  # fmt: skip
            if owners:
                raise PostProcessorError(
                    f"systems[{cfg.systems.index(system)}].mac: MAC {system.mac.lower()} "
                    f"already belongs to Cobbler system '{owners[0]}'"
                )
        objects = [("distro", cfg.distro.name), ("profile", cfg.profile_name())]
        objects += [("system", name) for name in mine]
        for kind, name in objects:
            found = driver.get(kind, name)
            if found is not None and not is_ours(found) and not self.options.force:
                raise PostProcessorError(
                    f"Cobbler already has a {kind} '{name}' that pybuild did not register; "
                    "pybuild replaces only its own (-force replaces it)"
                )
        others = [
            n for n in driver.find("system", {"profile": cfg.profile_name()}) if n not in mine
        ]
        profiles = [p for p in driver.find("profile", {"distro": cfg.distro.name})
                    if p != cfg.profile_name()]  # fmt: skip
        for what, parent, children in (
            ("profile", cfg.profile_name(), others),
            ("distro", cfg.distro.name, profiles),
        ):
            if children:
                raise PostProcessorError(
                    f"Cobbler {what} '{parent}' is used by objects this template does not "
                    f"register ({', '.join(sorted(children))}): remove them, or list them"
                )

    def _replace(self, ui: Ui, driver: CobblerDriver) -> None:
        """Remove the objects of these names (systems, then profile, then distro)."""
        cfg = self.config
        objects = [("system", s.name) for s in cfg.systems]
        objects += [("profile", cfg.profile_name()), ("distro", cfg.distro.name)]
        for kind, name in objects:
            if driver.get(kind, name) is not None:
                ui.message(f"Replacing Cobbler {kind} {name}")
                driver.remove(kind, name)

    # ------------------------------------------------------------------ files
    def _place_files(self, ui: Ui, inputs: Inputs, made: _Made) -> dict[str, str]:
        """kernel, initrd (paths Cobbler reads) and image_url: copied when files_dir is set."""
        cfg = self.config
        out = {"kernel": inputs.kernel, "initrd": inputs.initrd}
        if not cfg.files_dir:
            return out
        where = os.path.join(os.path.abspath(cfg.files_dir), cfg.distro.name)
        os.makedirs(where, exist_ok=True)
        cancel = self.options.cancel
        for key, name in (("kernel", "vmlinuz"), ("initrd", "initrd.img")):
            source = getattr(inputs, key)
            if not source:
                continue
            target = os.path.join(where, name)
            ui.message(f"Copying {source} to {target}")
            res = self.options.resources.creating(PLATFORM, "file", name=target)
            made.files.append((res, target))
            copy(source, target, cancel)
            res.created(target)
            out[key] = target
        if inputs.disk:
            fmt = cfg.image_format
            image = f"{cfg.distro.name}.{fmt}"
            target = os.path.join(where, image)
            res = self.options.resources.creating(PLATFORM, "file", name=target)
            made.files.append((res, target))
            if inputs.disk_format == fmt:
                ui.message(f"Copying {inputs.disk} to {target}")
                copy(inputs.disk, target, cancel)
            else:
                ui.message(f"Converting {inputs.disk} ({inputs.disk_format}) to {fmt} at {target}")
                convert(inputs.disk, fmt, target, cancel)
            res.created(target)
            out["image_url"] = f"{cfg.image_base_url.rstrip('/')}/{cfg.distro.name}/{image}"
        faults.point("cobbler:files")
        return out

    # ------------------------------------------------------------------ objects
    def _add(
        self,
        ui: Ui,
        driver: CobblerDriver,
        made: _Made,
        kind: str,
        name: str,
        attrs: dict[str, Any],
    ) -> None:
        ui.message(f"Registering Cobbler {kind} {name}")
        res = self.options.resources.creating(PLATFORM, kind, name=name)
        made.objects.append((res, kind, name))
        driver.add(kind, name, {**attrs, "comment": self._comment()})
        res.created(name)

    def _comment(self) -> str:
        return owner_comment(self.options.resources.run_id)

    def _add_distro(self, ui: Ui, driver: CobblerDriver, files: dict[str, str], made: _Made) -> str:
        d = self.config.distro
        attrs: dict[str, Any] = {"kernel": files["kernel"], "initrd": files["initrd"],
                                 "arch": d.arch, "breed": d.breed}  # fmt: skip
        if d.os_version:
            attrs["os_version"] = d.os_version
        if d.kernel_options:
            attrs["kernel_options"] = d.kernel_options
        self._add(ui, driver, made, "distro", d.name, attrs)
        return d.name

    def _add_profile(
        self, ui: Ui, driver: CobblerDriver, distro: str, files: dict[str, str], made: _Made
    ) -> None:
        cfg = self.config
        p = cfg.profile
        options = dict(p.kernel_options)
        if files.get("image_url"):
            options[cfg.image_url_option] = files["image_url"]
        attrs: dict[str, Any] = {"distro": distro}
        if options:
            attrs["kernel_options"] = options
        if p.autoinstall:
            attrs["autoinstall"] = p.autoinstall
        self._add(ui, driver, made, "profile", cfg.profile_name(), attrs)

    def _system_attrs(self, s: Any) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "profile": self.config.profile_name(),
            "netboot_enabled": s.netboot_enabled,
            "interface": s.interface,
            "mac_address": s.mac.lower(),
        }
        for key in ("hostname", "ip_address", "netmask", "gateway"):
            if getattr(s, key):
                attrs[key] = getattr(s, key)
        if s.kernel_options:
            attrs["kernel_options"] = s.kernel_options
        return attrs

    def _import(self, ui: Ui, driver: CobblerDriver, made: _Made) -> str:
        """Cobbler's import of an installer tree: its distros and profiles become ours."""
        cfg = self.config
        d = cfg.distro
        pattern = f"{d.name}*"
        before = set(driver.find("distro", {"name": pattern}))
        options = {"path": cfg.import_path, "name": d.name, "arch": d.arch}
        if cfg.distro.was_set("breed"):
            options["breed"] = d.breed
        if d.os_version:
            options["os_version"] = d.os_version
        ui.message(f"Importing {cfg.import_path} into Cobbler as {d.name}")
        task_id = driver.start_import(options)
        deadline = time.monotonic() + cfg.import_timeout
        while True:
            task = driver.task(task_id)
            if task.state == "complete":
                break
            if task.state == "failed":
                raise PostProcessorError(
                    f"Cobbler's import of {cfg.import_path} failed:\n{task.log_tail}"
                )
            if time.monotonic() > deadline:
                raise PostProcessorError(f"Cobbler's import of {cfg.import_path} did not finish "
                                         f"within {cfg.import_timeout:g} s (task {task_id})")  # fmt: skip
            if self.options.cancel.wait(IMPORT_POLL):
                raise BuildCancelled()
        new = sorted(set(driver.find("distro", {"name": pattern})) - before)
        if not new:
            raise PostProcessorError(f"Cobbler's import of {cfg.import_path} made no distro")
        comment = {"comment": self._comment()}
        for name in new:
            # Cobbler's import also adds a repo named after each distro whose kernel it copied
            # to its distro_mirror (repo_finder; an apt tree's always): ours too. Recorded
            # before the distro, so cleanup (newest first) removes it last.
            found = driver.get("distro", name) or {}
            if "distro_mirror" in str(found.get("kernel", "")) and driver.get("repo", name):
                res = self.options.resources.creating(PLATFORM, "repo", name=name)
                made.objects.append((res, "repo", name))
                driver.edit("repo", name, comment)  # ours from here: cleanup checks the comment
                res.created(name)
            res = self.options.resources.creating(PLATFORM, "distro", name=name)
            made.objects.append((res, "distro", name))
            driver.edit("distro", name, comment)
            res.created(name)
            for profile in driver.find("profile", {"distro": name}):
                res = self.options.resources.creating(PLATFORM, "profile", name=profile)
                made.objects.append((res, "profile", profile))
                driver.edit("profile", profile, comment)
                res.created(profile)
                if profile == cfg.profile_name():  # the import's own profile: ours to replace
                    driver.remove("profile", profile)
                    res.released()
        return next((n for n in new if d.arch in n), new[0])

    def _boot_files(self, distro: str, files: dict[str, str]) -> list[str]:
        """Paths under the TFTP root that Cobbler's sync writes for these objects."""
        if not self.config.sync:
            return []
        out = []
        if files.get("kernel"):
            out += [f"images/{distro}/{os.path.basename(files[k])}" for k in ("kernel", "initrd")]
        for s in self.config.systems:
            mac = s.mac.lower()
            out += [f"pxelinux.cfg/01-{mac.replace(':', '-')}", f"grub/system/{mac}"]
        return out

    # ------------------------------------------------------------------ on failure
    def _undo(self, ui: Ui, settings: CobblerSettings, made: _Made) -> None:
        """Remove what this run made, newest first; errors are reported, cleanup has the rest."""
        objects = [(r, k, n) for r, k, n in made.objects if r.state in ("creating", "created")]
        # newest first, and nothing before what refers to it (an import's profiles, then
        # its distros, then its repo)
        objects.reverse()
        objects.sort(key=lambda o: _REMOVAL_RANK.get(o[1], len(_REMOVAL_RANK)))
        if objects:
            try:
                with COBBLER.open(settings) as driver:
                    driver.login()
                    for res, kind, name in objects:
                        found = driver.get(kind, name)
                        if found is not None and found.get("comment") == self._comment():
                            ui.message(f"Removing Cobbler {kind} {name}")
                            driver.remove(kind, name)
                        res.released()
            except (CobblerError, BuildCancelled) as exc:
                ui.error(f"Error cleaning up after cobbler: {exc}; run `pybuild cleanup`")
        for res, path in reversed(made.files):
            remove_file(path)
            res.released()


_REMOVAL_RANK = {"system": 0, "profile": 1, "distro": 2, "repo": 3}


def _explain(exc: CobblerError, settings: CobblerSettings) -> str:
    """A Cobbler error as a user reads it: the server, and the likely cause."""
    if not exc.answered:
        return f"{exc.reason} (is cobblerd running, and is url right?)"
    if exc.operation.startswith("login"):
        return (
            f"Cobbler at {settings.url} refused the login of '{settings.username}': {exc.reason} "
            "(check username and password)"
        )
    return f"Cobbler at {settings.url} refused to {exc.operation}: {exc.reason}"
