"""The docker builder's steps (Packer's order and messages); each cleanup undoes only its own work."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from builder.common.steps import StepProvision
from builder.communicator.docker import DockerCommunicator
from builder.docker.runargs import ContainerSpec, RunArgsError, parse_run_command, shell_join
from builder.errors import BuildCancelled, BuildError, DriverError
from builder.multistep import CancelToken, RunState

if TYPE_CHECKING:
    from builder.components import Hook, PluginOptions
    from builder.docker.config import DockerConfig
    from builder.docker.driver import DockerDriver
    from builder.ui import Ui

NAME_PREFIX = "pybuild_"


@dataclass
class DockerRun:
    """The typed run context of one docker build."""

    ui: Ui
    cancel: CancelToken
    hook: Hook
    config: DockerConfig
    driver: DockerDriver
    options: PluginOptions
    temp_dir: str = ""
    container_id: str = ""
    container_ip: str = ""
    container_user: str = ""  # Config.User, for fix_upload_owner
    auto_remove: bool = False  # run_command --rm: the engine removes it once stopped
    image_id: str = ""
    communicator: Any = None
    connect_data: dict[str, str] = field(default_factory=dict)  # filled by the ssh StepConnect
    ssh_key: Any = None
    state: RunState = field(default_factory=RunState)

    def build_data(self) -> dict[str, str]:
        """`{{build ...}}` values: ID is the container id, ImageSha256 once committed."""
        data = {"ID": self.container_id, "ConnType": self.config.communicator, "Host": ""}
        data.update(self.connect_data)
        if self.image_id:
            data["ImageSha256"] = self.image_id
        return data


def packer_tmp_root() -> str:
    """Packer's ConfigTmpDir: $PACKER_TMP_DIR, else ~/.packer.d (created when missing)."""
    root = os.environ.get("PACKER_TMP_DIR") or os.path.join(os.path.expanduser("~"), ".packer.d")
    root = os.path.abspath(root)
    os.makedirs(root, mode=0o755, exist_ok=True)
    return root


@dataclass
class StepTempDir:
    """A host directory mounted into the container at `container_dir`."""

    name: ClassVar[str] = "StepTempDir"
    _made: str = ""

    def run(self, ctx: DockerRun) -> None:
        ctx.ui.say("Creating a temporary directory for sharing data...")
        try:
            self._made = ctx.temp_dir = tempfile.mkdtemp(prefix="tmp", dir=packer_tmp_root())
        except OSError as exc:
            raise BuildError(f"Error making temp dir: {exc}") from exc

    def cleanup(self, ctx: DockerRun) -> None:
        if self._made:
            shutil.rmtree(self._made, ignore_errors=True)
            self._made = ""


@dataclass
class StepPull:
    """`docker pull` (with login/logout around it when asked)."""

    name: ClassVar[str] = "StepPull"

    def run(self, ctx: DockerRun) -> None:
        cfg = ctx.config
        ctx.ui.say(f"Pulling Docker image: {cfg.image}")
        logged_in = False
        if cfg.login:
            ctx.ui.message("Logging in...")
            try:
                ctx.driver.login(cfg.login_server, cfg.login_username, cfg.login_password)
            except DriverError as exc:
                raise BuildError(f"Error logging in: {exc}") from exc
            logged_in = True
        try:
            ctx.driver.pull(cfg.image, cfg.platform, ctx.ui.message, ctx.cancel)
        except DriverError as exc:
            raise BuildError(f"Error pulling Docker image: {exc}") from exc
        finally:
            if logged_in:
                ctx.ui.message("Logging out...")
                ctx.driver.logout(cfg.login_server)

    def cleanup(self, ctx: DockerRun) -> None:
        pass


def container_spec(ctx: DockerRun) -> tuple[ContainerSpec, str]:
    """The container to start, and Packer's `Run command:` line describing it."""
    cfg = ctx.config
    args = [ctx.options.render_text(a, data={"Image": cfg.image}) for a in cfg.run_args]
    try:
        run = parse_run_command(args)
    except RunArgsError as exc:
        raise BuildError(f"run_command: {exc}") from exc
    binds = {ctx.temp_dir: cfg.shared_dir, **cfg.volumes} if ctx.temp_dir else dict(cfg.volumes)
    if not run.name:
        run.name = container_name(ctx.options.build_name)
    spec = ContainerSpec(
        run,
        binds,
        cfg.privileged,
        list(cfg.cap_add),
        list(cfg.cap_drop),
        list(cfg.tmpfs),
        list(cfg.device),
        cfg.platform,
    )
    line = ["docker", "run"]
    for flag, values in (
        ("--device", cfg.device),
        ("--cap-add", cfg.cap_add),
        ("--cap-drop", cfg.cap_drop),
    ):
        for v in values:
            line += [flag, v]
    if cfg.privileged:
        line.append("--privileged")
    for v in cfg.tmpfs:
        line += ["--tmpfs", v]
    for host, guest in binds.items():
        line += ["-v", f"{host}:{guest}"]
    return spec, shell_join(line + args)


def container_name(build_name: str) -> str:
    """`pybuild_<build>_<random>`: every build container can be found by its name prefix.

    Names rather than labels: `docker commit` copies a container's labels into the image.
    """
    safe = re.sub(r"[^a-zA-Z0-9_.-]+", "-", build_name).strip("-.") or "build"
    return f"{NAME_PREFIX}{safe[:40]}_{secrets.token_hex(4)}"


@dataclass
class StepRunContainer:
    """Create and start the build container; cleanup kills and removes it, always."""

    name: ClassVar[str] = "StepRun"
    _started: str = ""

    def run(self, ctx: DockerRun) -> None:
        ctx.ui.say("Starting docker container...")
        spec, line = container_spec(ctx)
        ctx.ui.message(f"Run command: {line}")
        try:
            cid = ctx.driver.start_container(spec)
        except DriverError as exc:
            raise BuildError(f"Error running container: {exc}{_run_hint(ctx, exc)}") from exc
        self._started = ctx.container_id = cid
        ctx.auto_remove = spec.run.auto_remove
        ctx.ui.message(f"Container ID: {cid}")
        state = ctx.driver.container_state(cid)
        if not state.running:
            logs = ctx.driver.container_logs(cid).strip()
            raise BuildError(
                f"Error running container: it exited at once with status {state.exit_code}"
                + (f"; its output:\n{logs}" if logs else "")
                + "\nrun_command must keep the container running (Packer's default: "
                "-d -i -t --entrypoint=/bin/sh -- {{.Image}})"
            )
        ctx.container_ip, ctx.container_user = state.ip_address, state.user

    def cleanup(self, ctx: DockerRun) -> None:
        if not self._started:
            return
        ctx.ui.say(f"Killing the container: {self._started}")
        ctx.driver.remove_container(self._started)
        self._started = ""


def _run_hint(ctx: DockerRun, exc: DriverError) -> str:
    """A likely fix for a container the engine would not create or start."""
    text = str(exc).lower()
    if ctx.config.privileged and "apply caps" in text:
        return (
            "\nprivileged: true asks the engine for every capability, and the Docker daemon "
            "itself lacks some here (it runs in a restricted VM or container): use cap_add "
            "for the capabilities the build needs instead"
        )
    if ctx.config.pull or not ("no such image" in text or "not found" in text):
        return ""
    return (
        f'\nThe image {ctx.config.image!r} is not in the local engine and "pull" is false, '
        "so pybuild did not pull it: build or import it first, or let pybuild pull it."
    )


@dataclass
class StepConnectDocker:
    """The docker communicator: exec and archive calls against the container."""

    name: ClassVar[str] = "StepConnect"

    def run(self, ctx: DockerRun) -> None:
        ctx.ui.say(f"Using docker communicator to connect: {ctx.container_ip}")
        cfg = ctx.config
        ctx.communicator = DockerCommunicator(
            ctx.driver,
            ctx.container_id,
            exec_user=cfg.exec_user,
            container_user=ctx.container_user,
            fix_upload_owner=cfg.fix_upload_owner,
            pty=cfg.pty,
        )

    def cleanup(self, ctx: DockerRun) -> None:
        ctx.communicator = None


@dataclass
class StepDockerProvision(StepProvision):
    """The provisioners; a failure caused by the container dying says so."""

    def run(self, ctx: DockerRun) -> None:
        try:
            super().run(ctx)
        except BuildCancelled:
            raise
        except Exception as exc:
            gone = _container_gone(ctx)
            if gone:
                raise BuildError(f"{gone} while provisioning: {exc}") from exc
            raise

    def cleanup(self, ctx: DockerRun) -> None:
        super().cleanup(ctx)


def _container_gone(ctx: DockerRun) -> str:
    try:
        state = ctx.driver.container_state(ctx.container_id)
    except DriverError as exc:
        return f"The container {ctx.container_id[:12]} disappeared ({exc})"
    if state.running:
        return ""
    why = f"exit status {state.exit_code}"
    if state.exit_code == 137:
        why += ", killed"
    if state.oom_killed:
        why += ", out of memory"
    return f"The container {ctx.container_id[:12]} stopped ({why})"


@dataclass
class StepCommit:
    """`docker commit` with changes, author and message; removes the image if the build fails.

    Packer's `docker commit` pauses the running container (a cgroup freeze and thaw) to get
    a consistent file system. The container is of no more use once provisioning is over, so
    it is killed instead: the same consistent snapshot, less work for the engine (which
    matters with many builds at once). With `--rm` in run_command a stopped container
    would vanish, so that one is paused as Packer does.
    """

    name: ClassVar[str] = "StepCommit"
    _image: str = ""

    def run(self, ctx: DockerRun) -> None:
        cfg = ctx.config
        ctx.ui.say("Committing the container")
        try:
            if not ctx.auto_remove:
                ctx.driver.kill_container(ctx.container_id)
            image = ctx.driver.commit(
                ctx.container_id, cfg.changes, cfg.author, cfg.message, pause=ctx.auto_remove
            )
        except DriverError as exc:
            raise BuildError(f"Error committing container: {exc}") from exc
        self._image = ctx.image_id = image
        ctx.ui.message(f"Image ID: {image}")

    def cleanup(self, ctx: DockerRun) -> None:
        if self._image and ctx.state.halted:
            ctx.driver.remove_image(self._image, force=True)
        self._image = ""


@dataclass
class StepExport:
    """`docker export` streamed to export_path (parent dirs made); a failed build deletes it."""

    name: ClassVar[str] = "StepExport"
    _path: str = ""

    def run(self, ctx: DockerRun) -> None:
        path = ctx.config.export_path
        try:
            os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
            f = open(path, "wb")
        except OSError as exc:
            raise BuildError(f"Error creating output file: {exc}") from exc
        self._path = path
        ctx.ui.say("Exporting the container")
        with f:
            try:
                ctx.driver.export(ctx.container_id, f, ctx.cancel)
            except DriverError as exc:
                raise BuildError(f"Error exporting: {exc}") from exc

    def cleanup(self, ctx: DockerRun) -> None:
        if self._path and ctx.state.halted:
            try:
                os.remove(self._path)
            except OSError:
                pass
        self._path = ""
