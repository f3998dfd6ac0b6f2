"""The shell provisioner: uploads scripts to the machine and runs them (Packer 1.6.6)."""

from __future__ import annotations

import errno
import io
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from builder.communicator.base import Disconnected, Tail
from builder.components import Provisioner
from builder.config import (
    Duration,
    IntList,
    PluginConfig,
    StrList,
    config_check,
    format_go_duration,
    option_error,
)
from builder.errors import (
    BuildCancelled,
    BuildError,
    CommunicatorTimeout,
    RemoteCommandFailed,
    TemplateError,
)
from builder.logs import logger
from provisioners.shell_local import flatten_vars, is_key_value, script_env, write_inline_script

if TYPE_CHECKING:
    from builder.communicator.base import Communicator
    from builder.components import PluginOptions
    from builder.ui import Ui

log = logger("pybuild.shell")

DEFAULT_EXECUTE_COMMAND = "chmod +x {{.Path}}; {{.Vars}} {{.Path}}"
ENV_FILE_EXECUTE_COMMAND = "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}"
DEFAULT_ENV_VAR_FORMAT = "%s='%s' "
ENV_FILE_VAR_FORMAT = "export %s='%s'\n"
DEFAULT_SHEBANG = "/bin/sh -e"
DEFAULT_REMOTE_FOLDER = "/tmp"
DEFAULT_START_RETRY_TIMEOUT = 300.0
RETRY_DELAY = 2.0  # Packer's retry.Config default; tests shorten it
CMD_DISCONNECT = 2300218  # Packer's exit status for a dropped connection
DISCONNECT_HINT = (
    "Script disconnected unexpectedly. If you expected your script to disconnect, i.e. from "
    'a restart, you can try adding `"expect_disconnect": true` or '
    '`"valid_exit_codes": [0, 2300218]` to the shell provisioner parameters.'
)
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNABORTED,
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.EPIPE,
        errno.ETIMEDOUT,
    }
)


class ShellConfig(PluginConfig):
    """Options of the remote shell provisioner."""

    deferred: ClassVar[frozenset[str]] = frozenset(
        {
            "inline",
            "execute_command",
            "environment_vars",
            "remote_folder",
            "remote_file",
            "remote_path",
        }
    )

    inline: StrList = []
    script: str = ""
    scripts: StrList = []
    environment_vars: StrList = []
    env_var_format: str = ""
    use_env_var_file: bool = False
    execute_command: str = ""
    inline_shebang: str = ""
    remote_folder: str = ""
    remote_file: str = ""
    remote_path: str = ""
    binary: bool = False
    expect_disconnect: bool = False
    valid_exit_codes: IntList = [0]
    skip_clean: bool = False
    start_retry_timeout: Duration = DEFAULT_START_RETRY_TIMEOUT
    pause_after: Duration = 0.0

    def script_paths(self) -> list[str]:
        """The local script files to upload (empty for inline)."""
        return [self.script] if self.script else list(self.scripts)

    def allowed_codes(self) -> list[int]:
        return list(self.valid_exit_codes) or [0]

    def retry_timeout(self) -> float:
        """start_retry_timeout; zero means Packer's default of 5m."""
        return self.start_retry_timeout or DEFAULT_START_RETRY_TIMEOUT

    @config_check
    def check_scripts(self) -> list[TemplateError]:
        """Packer's prepare-time checks: one script family, readable scripts, key=value vars."""
        errors: list[TemplateError] = []
        if self.script and self.scripts:
            errors.append(option_error("Only one of script or scripts can be specified.", "script"))
        if not self.script_paths() and not self.inline:
            errors.append(option_error("Either a script file or inline script must be specified."))
        elif self.script_paths() and self.inline:
            msg = "Only a script file or an inline script can be specified, not both."
            errors.append(option_error(msg, "inline"))
        for i, path in enumerate(self.script_paths()):
            problem = _local_file_problem(path)
            if problem:
                keys: tuple[str | int, ...] = ("script",) if self.script else ("scripts", i)
                errors.append(option_error(f"Bad script '{path}': {problem}", *keys))
        for i, kv in enumerate(self.environment_vars):
            if not is_key_value(kv):
                msg = f"Environment variable not in format 'key=value': {kv}"
                errors.append(option_error(msg, "environment_vars", i))
        return errors


def _local_file_problem(path: str) -> str | None:
    """Why `path` cannot be read as a script, in Go's words; None when it can."""
    try:
        os.stat(path)
    except OSError as exc:
        return f"stat {path}: {(exc.strerror or str(exc)).lower()}"
    return "is a directory" if os.path.isdir(path) else None


def unix_lines(data: bytes) -> bytes:
    """Packer's UnixReader: CRLF becomes LF and the last line always ends with LF."""
    if not data:
        return data
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return b"".join(line.removesuffix(b"\r") + b"\n" for line in lines)


def is_connection_error(exc: BaseException) -> bool:
    """Whether `exc` means the machine is unreachable for now (worth a retry)."""
    if isinstance(exc, (Disconnected, CommunicatorTimeout, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, EOFError):
        return True
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS


class ShellProvisioner(Provisioner):
    """Uploads inline commands or local scripts to the machine and runs them there."""

    Config = ShellConfig
    config: ShellConfig

    def __init__(self, config: ShellConfig, options: PluginOptions):
        super().__init__(config, options)
        # Packer picks the name once, so every script (and retry) reuses it
        self.default_remote_file = f"script_{random.randrange(9999)}.sh"

    def provision(self, ui: Ui, communicator: Communicator | None, data: dict[str, str]) -> None:
        if communicator is None:
            raise BuildError("the shell provisioner needs a communicator to reach the machine")
        ShellRun(self, ui, communicator, data).run()


class ShellRun:
    """One provision() of a shell provisioner against one communicator."""

    def __init__(
        self, prov: ShellProvisioner, ui: Ui, comm: Communicator, data: dict[str, str] | None
    ):
        self.config, self.options, self.ui, self.comm = prov.config, prov.options, ui, comm
        self.cancel = prov.options.cancel
        self.build_data: dict[str, Any] = dict(data or {})
        self.default_remote_file = prov.default_remote_file

    def run(self) -> None:
        """Upload and run every script, clean up, then pause_after."""
        cfg = self.config
        folder = self._render("remote_folder", cfg.remote_folder) or DEFAULT_REMOTE_FOLDER
        name = self._render("remote_file", cfg.remote_file) or self.default_remote_file
        remote_path = self._render("remote_path", cfg.remote_path) or f"{folder}/{name}"
        default_format = ENV_FILE_VAR_FORMAT if cfg.use_env_var_file else DEFAULT_ENV_VAR_FORMAT
        flat = flatten_vars(self._env(), cfg.env_var_format or default_format)
        with self._scripts() as scripts:
            env_file = self._upload_env_file(folder, flat) if cfg.use_env_var_file else ""
            default_command = (
                ENV_FILE_EXECUTE_COMMAND if cfg.use_env_var_file else DEFAULT_EXECUTE_COMMAND
            )
            dot = {**self.build_data, "Vars": flat, "EnvVarFile": env_file, "Path": remote_path}
            for script in scripts:
                self.cancel.check()
                self.ui.say(f"Provisioning with shell script: {script}")
                body = self._read(script)
                command = self._render(
                    "execute_command", cfg.execute_command or default_command, dot, "command"
                )
                self._upload_and_run(body, remote_path, command)
                if not cfg.skip_clean:
                    self._remove(remote_path)
        if env_file and not cfg.skip_clean:
            self._remove(env_file)
        if cfg.pause_after > 0:
            self.ui.say(f"Pausing {format_go_duration(cfg.pause_after)} after this provisioner...")
            if self.cancel.wait(cfg.pause_after):
                raise BuildCancelled()

    # ------------------------------------------------------------------ preparing
    def _render(self, field: str, text: str, data: Any = None, what: str = "") -> str:
        if not text:
            return text
        try:
            return self.options.render_text(
                text, data=self.build_data if data is None else data, build_data=self.build_data
            )
        except TemplateError as exc:
            raise BuildError(f"Error processing {what or field}: {exc}") from exc

    def _env(self) -> dict[str, str]:
        """PACKER_BUILD_NAME, PACKER_BUILDER_TYPE, the HTTP address, then the user's vars."""
        return script_env(self.options, self.build_data, self.config.environment_vars, self._render)

    @contextmanager
    def _scripts(self) -> Iterator[list[str]]:
        """Local scripts; inline lines go to a temp file with the shebang, removed after."""
        paths = self.config.script_paths()
        if paths:
            yield paths
            return
        lines = [self._render(f"inline[{i}]", line) for i, line in enumerate(self.config.inline)]
        path = write_inline_script(lines, self.config.inline_shebang or DEFAULT_SHEBANG)
        try:
            yield [path]
        finally:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass

    def _read(self, script: str) -> bytes:
        try:
            with open(script, "rb") as f:
                body = f.read()
        except OSError as exc:
            raise BuildError(f"Error opening shell script: {exc}") from exc
        return body if self.config.binary else unix_lines(body)

    # ------------------------------------------------------------------ remote work
    def _upload_env_file(self, folder: str, flat: str) -> str:
        """Upload the variables to `<folder>/varfile_<n>.sh` (0600); return its path."""
        path = f"{folder}/varfile_{random.randrange(9999)}.sh"
        body = flat.encode() if self.config.binary else unix_lines(flat.encode())
        self._retry(
            ("Error uploading envVarFile", lambda: self._upload(body, path)),
            (
                "Error chmodding script file to 0600 in remote machine",
                lambda: self.comm.run(f"chmod 0600 {path}", cancel=self.cancel),
            ),
        )
        return path

    def _upload(self, body: bytes, path: str) -> None:
        self.comm.upload(io.BytesIO(body), path, cancel=self.cancel)

    def _upload_and_run(self, body: bytes, remote_path: str, command: str) -> None:
        """Upload and chmod (retried while unreachable), then run and check the status."""
        self._retry(
            ("Error uploading script", lambda: self._upload(body, remote_path)),
            (
                "Error chmodding script file to 0755 in remote machine",
                lambda: self.comm.run(f"chmod 0755 {remote_path}", cancel=self.cancel),
            ),
        )
        tail = Tail()

        def on_output(line: str) -> None:
            tail.add(line)
            self.ui.message(line)

        allowed = self.config.allowed_codes()
        try:
            status = self.comm.run(command, on_output=on_output, cancel=self.cancel).exit_status
        except Disconnected as exc:
            log.info("shell: connection dropped while running %s: %s", remote_path, exc)
            status = CMD_DISCONNECT
        if status == CMD_DISCONNECT:
            if not (self.config.expect_disconnect or CMD_DISCONNECT in allowed):
                raise BuildError(DISCONNECT_HINT)
            return
        if status not in allowed:
            raise RemoteCommandFailed(command, status, allowed, tail.lines)

    def _remove(self, path: str) -> None:
        """`rm -f path`, retried while the machine is unreachable (after a reboot)."""

        def remove() -> None:
            status = self.comm.run(f"rm -f {path}", cancel=self.cancel).exit_status
            if status != 0:
                raise BuildError(f"rm -f exited with status {status}")

        self._retry((f"Error removing temporary script at {path}", remove))

    def _retry(self, *stages: tuple[str, Callable[[], object]]) -> None:
        """Run the stages in order; start over while the machine is unreachable.

        Gives up after start_retry_timeout; reconnects between tries when the
        communicator can. Errors that are not about the connection fail at once.
        """
        deadline = time.monotonic() + self.config.retry_timeout()
        while True:
            failure = self._attempt(stages)
            if failure is None:
                return
            what, exc = failure
            if not is_connection_error(exc) or time.monotonic() >= deadline:
                raise BuildError(f"{what}: {exc}") from exc
            log.info("shell: retryable error: %s: %s", what, exc)
            if self.cancel.wait(RETRY_DELAY):
                raise BuildCancelled()
            self._reconnect()

    @staticmethod
    def _attempt(
        stages: tuple[tuple[str, Callable[[], object]], ...],
    ) -> tuple[str, Exception] | None:
        for what, fn in stages:
            try:
                fn()
            except BuildCancelled:
                raise
            except Exception as exc:  # noqa: BLE001 - classified by the caller
                return what, exc
        return None

    def _reconnect(self) -> None:
        reconnect = getattr(self.comm, "reconnect", None)
        if not callable(reconnect):
            return
        try:
            reconnect(self.cancel)
        except BuildCancelled:
            raise
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            log.info("shell: reconnect failed, will retry: %s", exc)
