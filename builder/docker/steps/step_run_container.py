"""StepRunContainer: create and start the build container from `run_command`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from builder.common.plan import Creates
from builder.docker.config import DockerConfig
from builder.docker.resources import PLATFORM, container_name
from builder.docker.run import DockerRun
from builder.docker.runargs import ContainerSpec, RunArgsError, parse_run_command, shell_join
from builder.errors import BuildError, DriverError
from builder.ledger import Resource


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
        run.name = container_name(ctx.options.build_name, ctx.resources.run_id)
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


@dataclass
class StepRunContainer:
    """Create and start the build container; cleanup kills and removes it, always.

    The ledger gets the container's name before the create call and its id after, so a
    build killed at any point leaves a record `pybuild cleanup` can remove it by.
    """

    name: ClassVar[str] = "StepRun"
    _started: str = ""
    _res: Resource | None = None

    def plan(self, config: DockerConfig, build_name: str) -> list[Creates]:
        try:
            named = parse_run_command(config.run_args).name
        except RunArgsError:
            named = ""
        base = container_name(build_name, "").rsplit("_", 1)[0]
        name = named or f"{base}_<run id>_<random>"
        what = f"container {name} from image {config.image}"
        return [Creates(f"{PLATFORM}.container", what, name)]

    def run(self, ctx: DockerRun) -> None:
        ctx.ui.say("Starting docker container...")
        spec, line = container_spec(ctx)
        ctx.ui.message(f"Run command: {line}")
        res = ctx.resources.creating(PLATFORM, "container", name=spec.run.name)
        try:
            cid = ctx.driver.start_container(spec)
        except DriverError as exc:
            res.released()  # the driver removes a container that would not start
            raise BuildError(f"Error running container: {exc}{_run_hint(ctx, exc)}") from exc
        self._started, self._res = cid, res
        res.created(cid)
        ctx.container_id = cid
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
        if self._res is not None:
            self._res.released()
        self._started, self._res = "", None


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
