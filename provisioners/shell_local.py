"""The shell-local provisioner: runs commands on the pybuild host, not on the machine.

The code here is shared by the shell-local post-processor (and the shell provisioner's
environment helpers).
"""

from __future__ import annotations

import os
import random
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, ClassVar

from builder.components import Provisioner
from builder.config import IntList, PluginConfig, StrList, config_check, option_error
from builder.errors import BuildCancelled, BuildError, RemoteCommandFailed, TemplateError

if TYPE_CHECKING:
    from builder.communicator.base import Communicator
    from builder.components import PluginOptions
    from builder.multistep import CancelToken
    from builder.ui import Ui

DEFAULT_EXECUTE_COMMAND = ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"]
DEFAULT_SHEBANG = "/bin/sh -e"
DEFAULT_ENV_VAR_FORMAT = "%s='%s' "
SUPPORTED_OS = ("darwin", "freebsd", "linux", "openbsd", "solaris", "windows")
HTTP_ENV = {
    "PackerHTTPAddr": "PACKER_HTTP_ADDR",
    "PackerHTTPIP": "PACKER_HTTP_IP",
    "PackerHTTPPort": "PACKER_HTTP_PORT",
}
TAIL_LINES = 10
POLL_SECONDS = 0.2
KILL_GRACE_SECONDS = 2.0
DRAIN_SECONDS = 1.0  # after the child exits, how long a silent pipe is still read


class ShellLocalConfig(PluginConfig):
    """Options of shell-local (provisioner and post-processor alike)."""

    deferred: ClassVar[frozenset[str]] = frozenset(
        {"execute_command", "inline", "command", "environment_vars"}
    )

    command: str = ""
    inline: StrList = []
    script: str = ""
    scripts: StrList = []
    environment_vars: StrList = []
    env_var_format: str = ""
    execute_command: StrList = []
    inline_shebang: str = ""
    only_on: StrList = []
    tempfile_extension: str = ""
    use_linux_pathing: bool = False  # WSL path conversion; nothing to do on a POSIX host
    valid_exit_codes: IntList = [0]
    binary: bool = False  # accepted like Packer; local scripts are never converted

    def script_paths(self) -> list[str]:
        """The local script files to run (empty when running inline commands)."""
        return [self.script] if self.script else list(self.scripts)

    def inline_lines(self) -> list[str]:
        """The inline lines (`command` is a one-line inline)."""
        return [self.command] if self.command else list(self.inline)

    def argv_template(self) -> list[str]:
        """execute_command with its default; a single element runs through `/bin/sh -c`."""
        argv = list(self.execute_command) or list(DEFAULT_EXECUTE_COMMAND)
        return ["/bin/sh", "-c", argv[0]] if len(argv) == 1 else argv

    def allowed_codes(self) -> list[int]:
        return list(self.valid_exit_codes) or [0]

    @config_check
    def check_commands(self) -> list[TemplateError]:
        """Packer's checks: exactly one of command/inline/script/scripts, scripts exist,
        known OS names, key=value variables."""
        errors = self._family_errors()
        for i, path in enumerate(self.script_paths()):
            if not os.path.exists(path):
                keys: tuple[str | int, ...] = ("script",) if self.script else ("scripts", i)
                errors.append(option_error(f"file '{path}' does not exist", *keys))
        for i, name in enumerate(self.only_on):
            if name not in SUPPORTED_OS:
                hint = "supported OS names: " + ", ".join(SUPPORTED_OS)
                errors.append(option_error(f"invalid OS '{name}'", "only_on", i, hint=hint))
        for i, kv in enumerate(self.environment_vars):
            if not is_key_value(kv):
                msg = f"Environment variable not in format 'key=value': {kv}"
                errors.append(option_error(msg, "environment_vars", i))
        return errors

    def _family_errors(self) -> list[TemplateError]:
        given = [n for n in ("command", "inline", "script", "scripts") if getattr(self, n)]
        if not given:
            return [
                option_error("Command, Inline, Script and Scripts options cannot all be empty.")
            ]
        if len(given) > 1:
            msg = (
                "You may only specify one of the following options: Command, Inline, Script or "
                "Scripts. Please consolidate these options in your config."
            )
            return [option_error(msg, hint="given: " + ", ".join(given))]
        return []


def is_key_value(kv: str) -> bool:
    key, sep, _ = kv.partition("=")
    return bool(sep and key)


def script_env(
    options: PluginOptions,
    build_data: Mapping[str, str],
    environment_vars: Sequence[str],
    render: Callable[[str, str], str],
) -> dict[str, str]:
    """A script's variables: build name and type, the HTTP address, then the user's
    `environment_vars` (each rendered with `render(field, raw)` and checked)."""
    env = {
        "PACKER_BUILD_NAME": options.build_name,
        "PACKER_BUILDER_TYPE": options.build_type,
        **http_env(build_data),
    }
    for i, raw in enumerate(environment_vars):
        kv = render(f"environment_vars[{i}]", raw)
        if not is_key_value(kv):
            raise BuildError(f"Environment variable not in format 'key=value': {kv}")
        key, _, value = kv.partition("=")
        env[key] = value
    return env


def host_os() -> str:
    """This host's OS under Go's GOOS name (linux, darwin, windows, ...)."""
    plat = sys.platform
    if plat in ("win32", "cygwin"):
        return "windows"
    if plat.startswith("sunos"):
        return "solaris"
    return next((n for n in SUPPORTED_OS if plat.startswith(n)), plat)


def go_sprintf(fmt: str, *args: str) -> str:
    """Go's fmt.Sprintf for string arguments, enough for env_var_format."""
    used = 0

    def verb(m: re.Match[str]) -> str:
        nonlocal used
        v = m.group(1)
        if v == "%":
            return "%"
        if used >= len(args):
            return f"%!{v}(MISSING)"
        used += 1
        arg = args[used - 1]
        return arg if v in "sv" else f"%!{v}(string={arg})"

    out = re.sub(r"%([%a-zA-Z])", verb, fmt)
    if used < len(args):
        out += "%!(EXTRA " + ", ".join(f"string={a}" for a in args[used:]) + ")"
    return out


def flatten_vars(env: Mapping[str, str], fmt: str) -> str:
    """The `.Vars` string: variables in byte order, single quotes escaped as `'"'"'`."""
    keys = sorted(env, key=lambda k: k.encode())
    return "".join(go_sprintf(fmt, k, env[k].replace("'", "'\"'\"'")) for k in keys)


def http_env(build_data: Mapping[str, Any]) -> dict[str, str]:
    """PACKER_HTTP_ADDR/IP/PORT for the values the builder really provided."""
    out = {}
    for key, name in HTTP_ENV.items():
        value = build_data.get(key)
        if value not in (None, "") and not str(value).startswith("ERR_HTTP_"):
            out[name] = str(value)
    return out


class ShellLocalRun:
    """One run of a shell-local config against one set of build data."""

    def __init__(
        self,
        config: ShellLocalConfig,
        options: PluginOptions,
        ui: Ui,
        build_data: Mapping[str, Any] | None,
    ):
        self.config, self.options, self.ui = config, options, ui
        self.build_data: dict[str, Any] = dict(build_data or {})

    def run(self) -> None:
        """Run every script in order; raise on failure or cancellation."""
        if self.config.only_on and host_os() not in self.config.only_on:
            self.ui.say("Skipping shell-local due to runtime OS")
            return
        with self._scripts() as scripts:
            flat = flatten_vars(self._vars(), self.config.env_var_format or DEFAULT_ENV_VAR_FORMAT)
            for script in scripts:
                self.options.cancel.check()
                abs_script = os.path.abspath(script)
                argv = self._argv(abs_script, flat)
                self.ui.say(f"Running local shell script: {script}")
                self._execute(argv, abs_script)

    def _render(self, field: str, text: str, data: Mapping[str, Any]) -> str:
        try:
            return self.options.render_text(text, data=data, build_data=self.build_data)
        except TemplateError as exc:
            raise BuildError(f"render '{field}': {exc}") from exc

    def _vars(self) -> dict[str, str]:
        """Variables for `.Vars`: build name and type, HTTP address, then the user's."""
        return script_env(
            self.options,
            self.build_data,
            self.config.environment_vars,
            lambda field, raw: self._render(field, raw, self.build_data),
        )

    def _argv(self, script: str, flat: str) -> list[str]:
        data = {**self.build_data, "Vars": flat, "Script": script, "Command": script}
        return [
            self._render(f"execute_command[{i}]", part, data)
            for i, part in enumerate(self.config.argv_template())
        ]

    @contextmanager
    def _scripts(self) -> Iterator[list[str]]:
        """The script paths; inline lines go to a 0700 temp file removed afterwards."""
        paths = self.config.script_paths()
        if paths:
            yield paths
            return
        lines = [
            self._render(f"inline[{i}]", line, self.build_data)
            for i, line in enumerate(self.config.inline_lines())
        ]
        shebang = self.config.inline_shebang or DEFAULT_SHEBANG
        path = write_inline_script(lines, shebang, self.config.tempfile_extension)
        try:
            yield [path]
        finally:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        run_uuid = self.options.run_uuid or str(self.build_data.get("PackerRunUUID") or "")
        if run_uuid:
            env["PACKER_RUN_UUID"] = run_uuid
        env["PACKER_BUILD_NAME"] = env["PYBUILD_BUILD_NAME"] = self.options.build_name
        env["PACKER_BUILDER_TYPE"] = env["PYBUILD_BUILDER_TYPE"] = self.options.build_type
        env.update(http_env(self.build_data))
        return env

    def _execute(self, argv: list[str], abs_script: str) -> None:
        """Run one command, streaming its output; check the exit code."""
        tail: deque[str] = deque(maxlen=TAIL_LINES)

        def on_line(line: str) -> None:
            tail.append(line)
            self.ui.message(line)

        try:
            proc = spawn(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._child_env(),
                start_new_session=True,
            )
        except OSError as exc:
            reason = f"cannot start '{argv[0]}': {exc.strerror or exc}"
            raise BuildError(f"Error executing script: {abs_script}\n\n{reason}") from exc
        with proc:
            try:
                cancelled = stream_output(proc, on_line, self.options.cancel)
            finally:
                if proc.poll() is None:
                    terminate(proc)
        if cancelled:
            raise BuildCancelled(f"Cancelled while running local shell script: {abs_script}")
        code = proc.returncode
        if code not in self.config.allowed_codes():
            raise RemoteCommandFailed(" ".join(argv), code, self.config.allowed_codes(), tail)


# Writing a script and starting a process take turns. A process forked by another build's
# thread while a script is still open for writing holds that descriptor until it execs,
# and executing the script in that window fails with "Text file busy" (ETXTBSY); with
# many parallel shell-local builds it happened (6 of 200 builds). Popen returns once the
# child has exec'd, so no child forked under the lock can hold a script open afterwards.
SPAWN_LOCK = threading.Lock()


def spawn(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen`, never while a script is being written."""
    with SPAWN_LOCK:
        return subprocess.Popen(list(argv), **kwargs)


def write_inline_script(lines: Sequence[str], shebang: str, extension: str = "") -> str:
    """Write `#!shebang` and the lines to `$TMPDIR/packer-shell<digits>[.ext]` (0700)."""
    tmpdir = os.path.abspath(os.environ.get("TMPDIR") or "/tmp")
    ext = extension.removeprefix(".")
    suffix = f".{ext}" if ext else ""
    head = [f"#!{shebang}"] if shebang else []
    body = "".join(f"{line}\n" for line in [*head, *lines])
    for _ in range(1000):
        path = os.path.join(tmpdir, f"packer-shell{random.randrange(10**9):09d}{suffix}")
        with SPAWN_LOCK:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body)
        os.chmod(path, 0o700)
        return path
    raise BuildError(f"Error preparing shell script: no free temp file name in {tmpdir}")


def clean_line(raw: bytes | bytearray) -> str:
    """Packer's output line cleaning: drop trailing space, keep text after the last CR."""
    line = raw.decode("utf-8", errors="replace").rstrip()
    return line[line.rfind("\r") + 1 :]


def stream_output(
    proc: subprocess.Popen[bytes], on_line: Callable[[str], None], cancel: CancelToken
) -> bool:
    """Hand stdout/stderr lines to `on_line` as they arrive until the child ends.

    Returns True when `cancel` fired (the child's process group is then terminated).
    A background grandchild that keeps the pipes open is not waited for: once the
    child has exited, reading stops after DRAIN_SECONDS without output.
    """
    pipes: list[IO[bytes]] = [p for p in (proc.stdout, proc.stderr) if p is not None]
    with selectors.DefaultSelector() as sel:
        for pipe in pipes:
            sel.register(pipe, selectors.EVENT_READ, bytearray())
        quiet_since: float | None = None
        while sel.get_map():
            if cancel.cancelled:
                terminate(proc)
                return True
            ready = sel.select(POLL_SECONDS)
            for key, _ in ready:
                _read_ready(sel, key, on_line)
            if proc.poll() is None or ready:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > DRAIN_SECONDS:
                break
        for key in list(sel.get_map().values()):
            if key.data:
                on_line(clean_line(bytes(key.data)))
    return _wait(proc, cancel)


def _read_ready(
    sel: selectors.BaseSelector, key: selectors.SelectorKey, on_line: Callable[[str], None]
) -> None:
    """Read what one pipe has; pass on its complete lines, the rest at EOF."""
    buf: bytearray = key.data
    chunk = os.read(key.fd, 65536)
    if not chunk:
        sel.unregister(key.fileobj)
        if buf:
            on_line(clean_line(bytes(buf)))
        return
    buf.extend(chunk)
    *lines, rest = buf.split(b"\n")
    for line in lines:
        on_line(clean_line(line))
    buf[:] = rest


def _wait(proc: subprocess.Popen[bytes], cancel: CancelToken) -> bool:
    """Wait for the child, polling the cancel token; True when cancelled."""
    while True:
        try:
            proc.wait(timeout=POLL_SECONDS)
            return False
        except subprocess.TimeoutExpired:
            if cancel.cancelled:
                terminate(proc)
                return True


def terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child's process group, SIGKILL whatever is left after a grace period."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class ShellLocalProvisioner(Provisioner):
    """Runs inline commands or local scripts with the build's data; ignores the communicator."""

    Config = ShellLocalConfig
    config: ShellLocalConfig

    def provision(self, ui: Ui, communicator: Communicator | None, data: dict[str, str]) -> None:
        ShellLocalRun(self.config, self.options, ui, data).run()
