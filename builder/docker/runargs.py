"""`run_command`: the `docker run` arguments of a template, parsed into our own terms.

pybuild never runs the docker CLI: the flags a template gives are parsed here into
`RunArgs`, and the driver turns those into Engine API calls. Flags the API cannot
express (or that make no sense for a build container) are reported by name.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["bool", "value", "multi"]

# long name -> (RunArgs field, kind); short aliases below
FLAGS: dict[str, tuple[str, Kind]] = {
    "detach": ("detach", "bool"),
    "interactive": ("interactive", "bool"),
    "tty": ("tty", "bool"),
    "privileged": ("privileged", "bool"),
    "rm": ("auto_remove", "bool"),
    "init": ("init", "bool"),
    "read-only": ("read_only", "bool"),
    "entrypoint": ("entrypoint", "value"),
    "name": ("name", "value"),
    "user": ("user", "value"),
    "workdir": ("workdir", "value"),
    "hostname": ("hostname", "value"),
    "network": ("network", "value"),
    "net": ("network", "value"),
    "platform": ("platform", "value"),
    "shm-size": ("shm_size", "value"),
    "memory": ("memory", "value"),
    "cpus": ("cpus", "value"),
    "pull": ("pull", "value"),
    "env": ("env", "multi"),
    "volume": ("volumes", "multi"),
    "label": ("labels", "multi"),
    "publish": ("publish", "multi"),
    "cap-add": ("cap_add", "multi"),
    "cap-drop": ("cap_drop", "multi"),
    "tmpfs": ("tmpfs", "multi"),
    "device": ("devices", "multi"),
    "add-host": ("extra_hosts", "multi"),
    "dns": ("dns", "multi"),
    "security-opt": ("security_opt", "multi"),
    "expose": ("expose", "multi"),
}
SHORT = {
    "d": "detach",
    "i": "interactive",
    "t": "tty",
    "e": "env",
    "v": "volume",
    "u": "user",
    "w": "workdir",
    "h": "hostname",
    "l": "label",
    "p": "publish",
    "m": "memory",
}


class RunArgsError(ValueError):
    """A `run_command` that cannot be turned into an Engine API call."""


@dataclass
class RunArgs:
    """What a `docker run` command line asks for, in Engine API terms."""

    image: str = ""
    command: list[str] = field(default_factory=list)
    detach: bool = False
    interactive: bool = False
    tty: bool = False
    privileged: bool = False
    auto_remove: bool = False
    init: bool = False
    read_only: bool = False
    entrypoint: str | None = None
    name: str = ""
    user: str = ""
    workdir: str = ""
    hostname: str = ""
    network: str = ""
    platform: str = ""
    shm_size: str = ""
    memory: str = ""
    cpus: str = ""
    pull: str = ""
    env: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    publish: list[str] = field(default_factory=list)
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)

    def set(self, attr: str, kind: Kind, value: str) -> None:
        if kind == "bool":
            setattr(self, attr, _bool(value))
        elif kind == "multi":
            getattr(self, attr).append(value)
        else:
            setattr(self, attr, value)


def _bool(value: str) -> bool:
    low = value.lower()
    if low in ("", "true", "1", "t"):
        return True
    if low in ("false", "0", "f"):
        return False
    raise RunArgsError(f"expected true or false, got {value!r}")


def _unknown(flag: str) -> RunArgsError:
    known = ", ".join(sorted(f"--{n}" for n in FLAGS))
    return RunArgsError(
        f"docker run flag {flag!r} is not supported by pybuild (it uses the Engine API, "
        f"not the docker CLI); supported flags: {known}"
    )


def parse_run_command(argv: list[str]) -> RunArgs:
    """Parse `docker run` arguments (without `docker run`): flags, then IMAGE [COMMAND...]."""
    out = RunArgs()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            i -= 1
            break
        if arg.startswith("--"):
            name, eq, inline = arg[2:].partition("=")
            if name not in FLAGS:
                raise _unknown(f"--{name}")
            attr, kind = FLAGS[name]
            if kind == "bool" or eq:
                out.set(attr, kind, inline if eq else "")
                continue
            if i >= len(argv):
                raise RunArgsError(f"flag --{name} needs a value")
            out.set(attr, kind, argv[i])
            i += 1
            continue
        i = _short(argv, i, arg[1:], out)
    rest = argv[i:]
    if not rest:
        raise RunArgsError("no image: run_command must end with the image ({{.Image}})")
    out.image, out.command = rest[0], list(rest[1:])
    return out


def _short(argv: list[str], i: int, letters: str, out: RunArgs) -> int:
    """`-dit`, `-e K=V`, `-eK=V`, `-e=K=V`; returns the next index."""
    for pos, letter in enumerate(letters):
        if letter not in SHORT:
            raise _unknown(f"-{letter}")
        attr, kind = FLAGS[SHORT[letter]]
        if kind == "bool":
            out.set(attr, kind, "")
            continue
        inline = letters[pos + 1 :].removeprefix("=")
        if inline:
            out.set(attr, kind, inline)
            return i
        if i >= len(argv):
            raise RunArgsError(f"flag -{letter} needs a value")
        out.set(attr, kind, argv[i])
        return i + 1
    return i


def parse_size(text: str) -> int:
    """Docker's sizes: `512m`, `1g`, `64k`, plain bytes."""
    units = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    low = text.strip().lower().removesuffix("b") or "0"
    mult = units.get(low[-1], 1)
    number = low[:-1] if low[-1] in units else low
    try:
        return int(float(number) * mult)
    except ValueError:
        raise RunArgsError(f"invalid size {text!r}") from None


def parse_key_values(items: list[str], what: str) -> dict[str, str]:
    """`K=V` (or bare `K`, an empty value) pairs into a dict."""
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise RunArgsError(f"invalid {what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def shell_join(args: list[str]) -> str:
    """The command line as Packer prints it (`Run command: docker run ...`)."""
    return " ".join(args)


@dataclass
class ContainerSpec:
    """A build container: the parsed `run_command` plus the builder's own options."""

    run: RunArgs
    binds: dict[str, str] = field(default_factory=dict)  # host path -> container path
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    platform: str = ""
    labels: dict[str, str] = field(default_factory=dict)


def create_kwargs(spec: ContainerSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """`create_container` and `create_host_config` arguments (Engine API) for a ContainerSpec."""
    run = spec.run
    binds = [f"{h}:{c}" for h, c in spec.binds.items()] + list(run.volumes)
    tmpfs: dict[str, str] = {}
    for item in [*spec.tmpfs, *run.tmpfs]:
        path, _, opts = item.partition(":")
        tmpfs[path] = opts
    host: dict[str, Any] = {
        "binds": binds or None,
        "privileged": spec.privileged or run.privileged,
        "cap_add": [*spec.cap_add, *run.cap_add] or None,
        "cap_drop": [*spec.cap_drop, *run.cap_drop] or None,
        "tmpfs": tmpfs or None,
        "devices": [*spec.devices, *run.devices] or None,
        "auto_remove": run.auto_remove,
        "init": run.init or None,
        "read_only": run.read_only or None,
        "network_mode": run.network or None,
        "extra_hosts": parse_key_values([h.replace(":", "=", 1) for h in run.extra_hosts], "host")
        or None,
        "dns": run.dns or None,
        "security_opt": run.security_opt or None,
    }
    if run.shm_size:
        host["shm_size"] = parse_size(run.shm_size)
    if run.memory:
        host["mem_limit"] = parse_size(run.memory)
    if run.cpus:
        try:
            host["nano_cpus"] = int(float(run.cpus) * 1e9)
        except ValueError:
            raise RunArgsError(f"invalid --cpus {run.cpus!r}") from None
    ports: dict[str, Any] = {}
    for p in run.publish:
        try:
            ports.update(_publish(p))
        except ValueError:
            raise RunArgsError(f"invalid --publish {p!r}") from None
    if ports:
        host["port_bindings"] = ports
    labels = {**parse_key_values(run.labels, "label"), **spec.labels}
    env = parse_key_values(run.env, "env")
    kwargs: dict[str, Any] = {
        "image": run.image,
        "command": run.command or None,
        "stdin_open": run.interactive,
        "tty": run.tty,
        "detach": True,
        "entrypoint": shlex.split(run.entrypoint) if run.entrypoint else None,
        "environment": env or None,
        "user": run.user or None,
        "working_dir": run.workdir or None,
        "hostname": run.hostname or None,
        "name": run.name or None,
        "labels": labels,
        "ports": [_port_key(k) for k in ports] + [_port_key(e) for e in run.expose] or None,
    }
    platform = spec.platform or run.platform
    if platform:
        kwargs["platform"] = platform
    return kwargs, host


def _port_key(text: str) -> tuple[int, str]:
    port, _, proto = text.partition("/")
    try:
        return int(port), proto or "tcp"
    except ValueError:
        raise RunArgsError(f"invalid port {text!r}") from None


def _publish(text: str) -> dict[str, Any]:
    """`[ip:][host_port:]container_port[/proto]` -> {container_port/proto: binding}."""
    spec, _, proto = text.partition("/")
    parts = spec.rsplit(":", 2)
    container = f"{parts[-1]}/{proto or 'tcp'}"
    if len(parts) == 1:
        return {container: None}
    if len(parts) == 2:
        return {container: int(parts[0]) if parts[0] else None}
    return {container: (parts[0], int(parts[1])) if parts[1] else (parts[0],)}
