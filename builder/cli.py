"""The `pybuild` command: Packer's CLI (flags, output, exit codes) over the library API.

Only this module prints, reads stdin, installs signal handlers and exits.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

from builder import PACKER_VERSION, __version__

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 127
EXIT_FMT_CHECK = 3  # fmt -check found files to format (terraform fmt's code, as Packer)


class UsageError(Exception):
    """A bad flag or argument; the command's usage follows the message."""


# --------------------------------------------------------------------------- Go-style flags
# Plain classes, not dataclasses: `pybuild version` and `--help` must not pay for importing
# dataclasses (and inspect) at start-up.
class Flag:
    __slots__ = ("name", "kind", "help", "default", "choices")

    def __init__(
        self, name: str, kind: str, help: str, default: Any = None, choices: Sequence[str] = ()
    ):
        self.name, self.kind, self.help = name, kind, help  # kind: bool | str | list | int | kv
        self.default, self.choices = default, choices


class Command:
    __slots__ = ("name", "synopsis", "usage", "flags", "run")

    def __init__(
        self,
        name: str,
        synopsis: str,
        usage: str,
        flags: list[Flag] | None = None,
        run: Callable[[dict[str, Any], list[str], Context], int] | None = None,
    ):
        self.name, self.synopsis, self.usage = name, synopsis, usage
        self.flags = flags if flags is not None else []
        self.run = run


def parse_flags(cmd: Command, argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Go `flag` syntax: -x or --x, -x=v or -x v; bools only take -x=v; stop at the first arg."""
    known = {f.name: f for f in cmd.flags}
    values: dict[str, Any] = {}
    for f in cmd.flags:
        values[f.name] = [] if f.kind in ("list", "kv") else f.default
    args = list(argv)
    while args:
        arg = args[0]
        if arg == "--":
            args.pop(0)
            break
        if not arg.startswith("-") or arg == "-":
            break
        args.pop(0)
        name = arg.lstrip("-")
        value: str | None = None
        if "=" in name:
            name, value = name.split("=", 1)
        if name in ("h", "help"):
            raise UsageError("")
        flag = known.get(name)
        if flag is None:
            raise UsageError(f"flag provided but not defined: -{name}")
        if flag.kind == "bool":
            if value is None:
                values[name] = True
            elif value.lower() in ("1", "t", "true"):
                values[name] = True
            elif value.lower() in ("0", "f", "false"):
                values[name] = False
            else:
                raise UsageError(f'invalid boolean value "{value}" for -{name}')
            continue
        if value is None:
            if not args:
                raise UsageError(f"flag needs an argument: -{name}")
            value = args.pop(0)
        if flag.kind == "int":
            try:
                values[name] = int(value)
            except ValueError:
                raise UsageError(f'invalid value "{value}" for flag -{name}: parse error') from None
        elif flag.kind == "list":
            values[name].extend(v for v in value.split(",") if v)
        elif flag.kind == "kv":
            values[name].append(value)
        else:
            if flag.choices and value not in flag.choices:
                raise UsageError(
                    f'invalid value "{value}" for flag -{name}: expected one of {list(flag.choices)}'
                )
            values[name] = value
    return values, args


def format_usage(cmd: Command) -> str:
    lines = [cmd.usage, "", cmd.synopsis, ""]
    if cmd.flags:
        lines.append("Options:")
        lines.append("")
        for f in cmd.flags:
            lines.append(
                f"  -{f.name}{'=' + f.kind.upper() if f.kind != 'bool' else ''}".ljust(30) + f.help
            )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- context
class Context:
    """What a command needs from the process: streams and the -machine-readable switch."""

    def __init__(
        self,
        out: IO[str],
        err: IO[str],
        machine: bool = False,
        redact: Callable[[str], str] | None = None,
    ):
        self.out, self.err, self.machine = out, err, machine
        self.redact: Callable[[str], str] = redact or (lambda text: text)

    def say(self, text: str) -> None:
        text = self.redact(text)
        if self.machine:
            from builder.render.machine import MachineReadableRenderer

            MachineReadableRenderer(self.out).record("", "ui", "say", text)
        else:
            self.out.write(text + "\n")

    def machine_record(self, type_: str, *data: Any) -> None:
        if self.machine:
            from builder.render.machine import MachineReadableRenderer

            MachineReadableRenderer(self.out).record("", type_, *data)

    def error(self, text: str) -> None:
        text = self.redact(text)
        if self.machine:
            from builder.render.machine import MachineReadableRenderer

            MachineReadableRenderer(self.out).record("", "ui", "error", text)
        else:
            self.out.write(text + "\n")


def _vars(values: dict[str, Any]) -> dict[str, str]:
    from builder.template.variables import parse_var_flag

    out: dict[str, str] = {}
    for arg in values.get("var", []):
        k, v = parse_var_flag(arg)
        out[k] = v
    return out


def _load(values: dict[str, Any], args: list[str], ctx: Context) -> Any:
    from builder.engine import load_template

    if len(args) != 1:
        raise UsageError("a template file is required" if not args else "too many arguments")
    loaded = load_template(args[0], _vars(values), values.get("var-file", []))
    ctx.redact = loaded.redactor  # from here on, nothing printed carries a secret
    return loaded


def _error_text(exc: BaseException) -> str:
    return f"Error: {exc}"


# --------------------------------------------------------------------------- commands
def cmd_version(values: dict[str, Any], args: list[str], ctx: Context) -> int:
    ctx.machine_record("version", __version__)
    ctx.machine_record("packer-version", PACKER_VERSION)
    ctx.say(f"pybuild v{__version__} (implements Packer v{PACKER_VERSION} JSON templates)")
    return EXIT_OK


def cmd_validate(values: dict[str, Any], args: list[str], ctx: Context) -> int:
    if values["syntax-only"]:
        from builder.template.template import read_template

        if len(args) != 1:
            raise UsageError("a template file is required")
        read_template(args[0])
        ctx.say("Syntax-only check passed. Everything looks okay.")
        return EXIT_OK
    prepared = _prepare_checked(values, args, ctx)
    if prepared is None:
        return EXIT_ERROR
    _print_warnings(prepared, ctx)
    if not ctx.machine:
        ctx.say("The configuration is valid.")
    return EXIT_OK


def _prepare_checked(
    values: dict[str, Any], args: list[str], ctx: Context, force: bool = False
) -> Any:
    """Prepare the builds as validate does; None after printing validate's errors."""
    from builder.engine import RunOptions, prepare
    from builder.errors import PybuildError

    loaded = _load(values, args, ctx)
    options = RunOptions(only=values["only"], except_=values["except"], force=force)
    try:
        prepared = prepare(loaded, options)
    except PybuildError as exc:
        ctx.error("Template validation failed. Errors are shown below.\n\n" + str(exc))
        return None
    if prepared.errors:
        parts = ["Template validation failed. Errors are shown below.\n"]
        for name, errs in sorted(prepared.errors.items()):
            parts.append(f"Errors validating build '{name}'. {errs}\n")
        ctx.error("\n".join(parts).rstrip())
        return None
    return prepared


def cmd_plan(values: dict[str, Any], args: list[str], ctx: Context) -> int:
    from builder import plan

    # Prepared as -force would be, so an existing output directory shows in the plan as
    # "-force needed" instead of stopping it; the user's -force decides what is reported.
    prepared = _prepare_checked(values, args, ctx, force=True)
    if prepared is None:
        return EXIT_ERROR
    doc = plan.make_plan(prepared, force=values["force"])
    render = {
        "text": plan.render_text,
        "json": plan.render_json,
        "github-matrix": plan.render_github_matrix,
        "gitlab-matrix": plan.render_gitlab_matrix,
    }[values["format"]]
    ctx.out.write(render(doc))
    return EXIT_OK


def _print_warnings(prepared: Any, ctx: Context) -> None:
    """An HCL2 template's own warnings (undeclared variables set), then Packer's `Warning
    when preparing build` block, per build with warnings."""
    for warning in getattr(prepared.loaded.template, "warnings", ()):
        ctx.say(f"Warning: {warning}\n")
    for build in prepared.builds:
        if build.warnings:
            text = "\n".join(build.warnings)
            ctx.say(f'Warning: Warning when preparing build: "{build.name}"\n\n{text}\n')


def cmd_cleanup(values: dict[str, Any], args: list[str], ctx: Context) -> int:
    from builder.leftovers import CleanupLine, cleanup

    full_settings, template_platforms = None, list[str]()
    if values["template"]:
        full_settings, template_platforms = _template_settings(values, ctx)
    counts: dict[str, int] = {}

    def show(line: CleanupLine) -> None:
        counts[line.outcome] = counts.get(line.outcome, 0) + 1
        if ctx.machine:
            ctx.machine_record(
                "cleanup", line.outcome, line.ref, line.what, line.run_id, line.build, line.reason
            )
            return
        where = f"run {line.run_id}" + (f", build {line.build}" if line.build else "")
        what = f"{line.ref} {line.what}".strip()
        text = f"==> {where}: {line.outcome} {what}".rstrip()
        if line.reason:
            text += f": {line.reason}"
        (ctx.error if line.outcome == "failed" else ctx.say)(text)

    report = cleanup(
        args,
        dry_run=values["dry-run"],
        sweep=values["sweep"],
        state_dir=values["state-dir"] or None,
        full_settings=full_settings,
        sweep_platforms=template_platforms,
        on_line=show,
    )
    if not ctx.machine:
        if not report.lines:
            ctx.say("Nothing to clean up: no run that ended without cleaning up left anything.")
        else:
            order = ("removed", "gone", "would remove", "in use", "skipped", "failed")
            parts = [f"{counts[k]} {k}" for k in order if counts.get(k)]
            ctx.say("Cleanup finished: " + ", ".join(parts) + ".")
    return EXIT_OK if report.ok else EXIT_ERROR


def _template_settings(
    values: dict[str, Any], ctx: Context
) -> tuple[Callable[[str, str], Any], list[str]]:
    """(build, platform) -> the build's driver settings, credentials included; platforms."""
    from builder.common.builder import PlatformBuilder
    from builder.engine import RunOptions, prepare

    loaded = _load(values, [values["template"]], ctx)
    prepared = prepare(loaded, RunOptions(record_resources=False))
    by_name: dict[str, Any] = {}
    by_platform: dict[str, Any] = {}
    for build in prepared.builds:
        b = build.builder
        if isinstance(b, PlatformBuilder) and b.drivers is not None:
            settings = b.driver_settings()
            by_name[build.name] = (b.drivers.platform, settings)
            by_platform.setdefault(b.drivers.platform, settings)

    def lookup(build: str, platform: str) -> Any:
        found = by_name.get(build)
        if found is not None and found[0] == platform:
            return found[1]
        return by_platform.get(platform)

    return lookup, sorted(by_platform)


def cmd_manifest(values: dict[str, Any], args: list[str], ctx: Context) -> int:
    if not args or args[0] != "merge":
        raise UsageError("the only manifest subcommand is merge: pybuild manifest merge OUT IN...")
    sub_values, rest = parse_flags(COMMANDS["manifest"], args[1:])  # flags after `merge` too
    values = {k: sub_values[k] or v for k, v in values.items()}
    args = ["merge", *rest]
    if len(args) < 3:
        raise UsageError("manifest merge needs an output file and at least one input manifest")
    from postprocessors.manifest import merge_manifests

    count = merge_manifests(args[1], args[2:], run_id=values["run-id"] or None)
    ctx.say(f"Merged {count} build(s) from {len(args) - 2} manifest(s) into {args[1]}")
    return EXIT_OK


def cmd_inspect(values: dict[str, Any], args: list[str], ctx: Context) -> int:
    from builder.template.template import read_template

    if len(args) != 1:
        raise UsageError("a template file is required")
    from builder.template import is_hcl2

    if is_hcl2(args[0]):
        return _inspect_hcl2(values, args[0], ctx)
    t = read_template(args[0])
    ctx.say("Packer Inspect: JSON mode")
    if t.description:
        ctx.say("Description:\n")
        ctx.say(t.description + "\n")
    sensitive = {t.variables[n].default for n in t.sensitive_variables if n in t.variables} - {
        None,
        "",
    }
    if not t.variables:
        ctx.say("Variables:\n")
        ctx.say("  <No variables>")
    else:
        names = sorted(t.variables)
        required = [n for n in names if t.variables[n].required]
        if required:
            ctx.say("Required variables:\n")
            for n in required:
                ctx.machine_record("template-variable", n, "", "1")
                ctx.say("  " + n)
            ctx.say("")
        ctx.say("Optional variables and their defaults:\n")
        width = max(len(n) for n in names)
        for n in names:
            v = t.variables[n]
            if v.required:
                continue
            shown = (
                "<sensitive>" if v.default in sensitive or n in t.sensitive_variables else v.default
            )
            ctx.machine_record("template-variable", n, shown, "0")
            ctx.say(f"  {n.ljust(width)} = {shown}")
    ctx.say("")
    ctx.say("Builders:\n")
    if not t.builders:
        ctx.say("  <No builders>")
    width = max((len(b.name) for b in t.builders), default=0)
    for b in sorted(t.builders, key=lambda b: b.name):
        ctx.machine_record("template-builder", b.name, b.type)
        line = f"  {b.name.ljust(width)}"
        ctx.say(f"{line} ({b.type})" if b.name != b.type else line)
    ctx.say("")
    ctx.say("Provisioners:\n")
    if not t.provisioners:
        ctx.say("  <No provisioners>")
    for p in t.provisioners:
        ctx.machine_record("template-provisioner", p.type)
        ctx.say(f"  {p.type}")
    ctx.say(
        "\nNote: If your build names contain user variables or template\n"
        "functions such as 'timestamp', these are processed at build time,\n"
        "and therefore only show in their raw form here."
    )
    return EXIT_OK


def _inspect_hcl2(values: dict[str, Any], path: str, ctx: Context) -> int:
    """Packer's HCL2 inspect: variables and locals with their values, then the build blocks.

    As Packer, values are evaluated where they can be; a template that does not evaluate
    (a required variable unset, say) is shown from its structure, with its locals unknown.
    """
    from builder.errors import ConfigErrors
    from builder.redact import Redactor
    from builder.template.hcl2 import load, read
    from builder.template.hcl2.console import builds_text, variables_text

    try:
        t = load(path)
    except ConfigErrors:
        t = read(path)
    ctx.redact = Redactor(x for x in t.secrets if x)
    ctx.say("Packer Inspect: HCL2 mode\n")
    ctx.say(variables_text(t))
    ctx.say(builds_text(t))
    return EXIT_OK


def cmd_fmt(values: dict[str, Any], args: list[str], ctx: Context) -> int:
    """Packer's fmt: the files whose layout changed, their diffs; 3 with -check if any."""
    from builder.template.hcl2.format import format_files

    if len(args) != 1:
        raise UsageError("a template file or directory is required")
    check = values["check"]
    changed = format_files(args[0], write=values["write"] and not check)
    for c in changed:
        ctx.out.write(c.path + "\n")
        if values["diff"]:
            ctx.out.write(c.diff())
    return EXIT_FMT_CHECK if check and changed else EXIT_OK


def cmd_hcl2_upgrade(values: dict[str, Any], args: list[str], ctx: Context) -> int:
    """Write a JSON template as HCL2 (TEMPLATE.pkr.hcl unless -output-file says otherwise)."""
    from builder.errors import PybuildError
    from builder.template.hcl2.upgrade import upgrade

    if len(args) != 1:
        raise UsageError("a JSON template is required" if not args else "too many arguments")
    out = values["output-file"] or args[0] + ".pkr.hcl"
    result = upgrade(args[0])
    try:
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(result.text)
    except OSError as exc:
        raise PybuildError(f"Failed to create output file {out}: {exc.strerror}") from exc
    for note in result.notes:
        ctx.say(f"Warning: {note}")
    ctx.say(f"Successfully created {out}")
    return EXIT_OK


def cmd_console(values: dict[str, Any], args: list[str], ctx: Context) -> int:
    """Packer's console over an HCL2 template (or none): one expression a line.

    From a terminal every result is printed; from a pipe only the last one, as Packer does.
    """
    from builder.errors import TemplateError
    from builder.redact import Redactor
    from builder.template import is_hcl2
    from builder.template.hcl2.console import (
        HELP,
        EvalError,
        evaluate_text,
        format_result,
        template_names,
        variables_text,
    )
    from builder.template.hcl2.decode import Hcl2Template

    if len(args) > 1:
        raise UsageError("too many arguments")
    t: Hcl2Template | None = None
    if args:
        if not is_hcl2(args[0]):
            raise UsageError("console reads HCL2 templates (*.pkr.hcl or a directory)")
        from builder.template.hcl2 import load

        t = load(args[0], _vars(values), values.get("var-file", []))
        ctx.redact = Redactor(x for x in t.secrets if x)
    names = template_names(t)
    basedir = names["path"]["root"]
    interactive = sys.stdin is not None and sys.stdin.isatty()
    status, last = EXIT_OK, ""
    while True:
        if interactive:
            ctx.out.write("> ")
            ctx.out.flush()
        line = sys.stdin.readline() if sys.stdin is not None else ""
        if not line:
            break
        line = line.strip()
        if line == "exit":
            break
        if line == "":
            result = ""
        elif line == "help":
            result = HELP
        elif line == "variables":
            result = variables_text(t)
        else:
            try:
                result = format_result(evaluate_text(line, names, basedir))
            except EvalError as exc:
                text = f"{exc.summary}: {exc.message}" if exc.summary else exc.message
                ctx.error(f"Error: {text}")
                status = EXIT_ERROR
                continue
            except TemplateError as exc:
                ctx.error(f"Error: {exc}")
                status = EXIT_ERROR
                continue
        if interactive:
            ctx.say(result)
        last = result
    if not interactive:
        ctx.say(last)
    return status


def cmd_build(values: dict[str, Any], args: list[str], ctx: Context) -> int:
    from builder.engine import RunOptions, interrupt_notice, prepare, run
    from builder.multistep import OnError
    from builder.render.human import HumanRenderer, colour_wanted
    from builder.render.machine import MachineReadableRenderer

    stdout = ctx.out
    if values["json"]:
        ctx.out = ctx.err  # stdout carries the JSON lines only; text goes to stderr
    loaded = _load(values, args, ctx)
    options = RunOptions(
        only=values["only"],
        except_=values["except"],
        parallel_builds=values["parallel-builds"],
        on_error=OnError(values["on-error"]),
        force=values["force"],
        debug=values["debug"],
    )
    prepared = prepare(loaded, options)
    redact = loaded.redactor
    _print_warnings(prepared, ctx)
    for name, errs in sorted(prepared.errors.items()):
        ctx.error(redact(f'Error: Failed to prepare build: "{name}"\n\n{errs}\n'))
    names = [b.name for b in prepared.builds]
    asker = _stdin_asker(ctx) if sys.stdin is not None and sys.stdin.isatty() else None
    renderer: Any
    if values["json"]:
        from builder.render.jsonlines import JSONLinesSink

        renderer = JSONLinesSink(stdout, options.run_uuid)
    elif ctx.machine:
        renderer = MachineReadableRenderer(ctx.out)
    else:
        renderer = HumanRenderer(
            ctx.out,
            color=colour_wanted(values["color"], ctx.out),
            timestamps=values["timestamp-ui"],
            build_names=names,
            asker=asker,
        )
        if options.debug:
            ctx.say("Debug mode enabled. Builds will not be parallelized.")
        renderer.banner()
    interrupts = {"n": 0}

    def on_signal(signum: int, frame: Any) -> None:
        interrupts["n"] += 1
        if interrupts["n"] == 1:
            options.cancel.cancel()
            interrupt_notice(renderer)
        else:
            from builder.events import Notice

            renderer.emit(
                Notice(
                    "",
                    "Cleanup is in progress; waiting for it to finish "
                    "(removing what the builds created)...",
                )
            )

    sink, extra = renderer, _extra_sinks(values, options.run_uuid)
    if extra:
        from builder.sinks import TeeSink

        sink = TeeSink(renderer, *(s for s, _ in extra))
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        results = _run_interruptible(lambda: run(prepared, sink))
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for _, finish in extra:
            finish()
    failed = prepared.errors or any(r.error is not None for r in results.values())
    return EXIT_ERROR if failed or options.cancel.cancelled else EXIT_OK


def _extra_sinks(values: dict[str, Any], run_id: str) -> list[tuple[Any, Callable[[], None]]]:
    """PYBUILD_EVENTS=FILE (JSON lines) and -timeline=FILE: (sink, finish) pairs."""
    from builder.errors import PybuildError

    out: list[tuple[Any, Callable[[], None]]] = []
    events_path = os.environ.get("PYBUILD_EVENTS", "")
    if events_path:
        from builder.render.jsonlines import JSONLinesSink

        try:
            stream = open(events_path, "w", encoding="utf-8")  # noqa: SIM115 - closed by finish
        except OSError as exc:
            raise PybuildError(
                f"PYBUILD_EVENTS: cannot write {events_path}: {exc.strerror}"
            ) from exc
        out.append((JSONLinesSink(stream, run_id), stream.close))
    timeline = values["timeline"]
    if timeline:
        if not timeline.endswith((".svg", ".html")):
            raise UsageError(f"-timeline: {timeline} must end in .svg or .html")
        from builder.render.timeline import TimelineSink

        sink = TimelineSink(timeline)
        out.append((sink, sink.write))
    return out


def _run_interruptible(fn: Callable[[], Any]) -> Any:
    """Run `fn` in a thread so the main thread stays free to take signals."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            box["error"] = exc

    import threading

    th = threading.Thread(target=target, name="pybuild-run", daemon=True)
    th.start()
    while th.is_alive():
        th.join(0.1)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _stdin_asker(ctx: Context) -> Callable[[str], str | None]:
    import threading

    lock = threading.Lock()

    def ask(prompt: str) -> str | None:
        with lock:
            try:
                return input()
            except EOFError:
                return None

    return ask


COMMON_VARS = [
    Flag("var", "kv", "set a user variable (NAME=VALUE); repeatable"),
    Flag("var-file", "kv", "read user variables from a JSON file; repeatable, later wins"),
]
COMMANDS: dict[str, Command] = {
    "build": Command(
        "build",
        "Build image(s) from template",
        "Usage: pybuild build [options] TEMPLATE",
        [
            Flag("color", "bool", "colour the output (default true)", True),
            Flag("debug", "bool", "pause between steps; builds run one at a time", False),
            Flag("except", "list", "build everything but these builds (globs, comma-separated)"),
            Flag("only", "list", "build only these builds (globs, comma-separated)"),
            Flag(
                "force",
                "bool",
                "replace existing artifacts (each plugin decides what that means)",
                False,
            ),
            Flag("machine-readable", "bool", "machine-readable output", False),
            Flag(
                "on-error",
                "str",
                "cleanup (default), abort, ask, run-cleanup-provisioner",
                "cleanup",
                ("cleanup", "abort", "ask", "run-cleanup-provisioner"),
            ),
            Flag("parallel-builds", "int", "number of builds to run at once (0 = no limit)", 0),
            Flag("timestamp-ui", "bool", "prefix every line with a timestamp", False),
            Flag("json", "bool", "print the run's events as JSON lines (schema v1)", False),
            Flag("timeline", "str", "write a timeline of the run to FILE.svg or FILE.html", ""),
            *COMMON_VARS,
        ],
        cmd_build,
    ),
    "validate": Command(
        "validate",
        "Check that a template is valid",
        "Usage: pybuild validate [options] TEMPLATE",
        [
            Flag("syntax-only", "bool", "only check the JSON syntax and structure", False),
            Flag("except", "list", "validate everything but these builds"),
            Flag("only", "list", "validate only these builds"),
            Flag("machine-readable", "bool", "machine-readable output", False),
            *COMMON_VARS,
        ],
        cmd_validate,
    ),
    "plan": Command(
        "plan",
        "Show what a build will do, without doing it",
        "Usage: pybuild plan [options] TEMPLATE",
        [
            Flag(
                "format",
                "str",
                "text, json, github-matrix or gitlab-matrix",
                "text",
                ("text", "json", "github-matrix", "gitlab-matrix"),
            ),
            Flag("except", "list", "plan everything but these builds"),
            Flag("only", "list", "plan only these builds"),
            Flag("force", "bool", "plan as build -force would (existing outputs replaced)", False),
            *COMMON_VARS,
        ],
        cmd_plan,
    ),
    "cleanup": Command(
        "cleanup",
        "Remove what killed or crashed builds left behind",
        "Usage: pybuild cleanup [options] [RUN_ID...]",
        [
            Flag("dry-run", "bool", "list what would be removed, remove nothing", False),
            Flag("sweep", "bool", "also find resources by their run-id tag or name", False),
            Flag("machine-readable", "bool", "machine-readable output", False),
            Flag("state-dir", "str", "where run ledgers are (default $PYBUILD_STATE_DIR)", ""),
            Flag("template", "str", "the builds' template, for credentials it sets", ""),
            *COMMON_VARS,
        ],
        cmd_cleanup,
    ),
    "manifest": Command(
        "manifest",
        "Merge the manifests of builds fanned out to CI jobs",
        "Usage: pybuild manifest merge [options] OUT IN...",
        [Flag("run-id", "str", "the run id of the merged manifest (one run of many jobs)", "")],
        cmd_manifest,
    ),
    "inspect": Command(
        "inspect",
        "See components of a template",
        "Usage: pybuild inspect TEMPLATE",
        [Flag("machine-readable", "bool", "machine-readable output", False)],
        cmd_inspect,
    ),
    "fmt": Command(
        "fmt",
        "Rewrites HCL2 config files to canonical format",
        "Usage: pybuild fmt [options] TEMPLATE",
        [
            Flag("check", "bool", "exit 3 if any file is not formatted; write nothing", False),
            Flag("diff", "bool", "show the formatting changes as diffs", False),
            Flag("write", "bool", "rewrite the files (default true; false with -check)", True),
        ],
        cmd_fmt,
    ),
    "hcl2_upgrade": Command(
        "hcl2_upgrade",
        "Transform a JSON template into an HCL2 configuration",
        "Usage: pybuild hcl2_upgrade [-output-file=FILE.pkr.hcl] JSON_TEMPLATE",
        [Flag("output-file", "str", "where to write it (default: TEMPLATE.pkr.hcl)", "")],
        cmd_hcl2_upgrade,
    ),
    "console": Command(
        "console",
        "Evaluate HCL2 expressions with a template's variables and locals",
        "Usage: pybuild console [options] [TEMPLATE]",
        [*COMMON_VARS],
        cmd_console,
    ),
    "version": Command(
        "version",
        "Prints the pybuild version",
        "Usage: pybuild version",
        [Flag("machine-readable", "bool", "machine-readable output", False)],
        cmd_version,
    ),
}


def main_help() -> str:
    lines = [
        "Usage: pybuild [--version] [--help] <command> [<args>]",
        "",
        "  pybuild TEMPLATE is short for pybuild build TEMPLATE.",
        "",
        "Available commands are:",
    ]
    for name, cmd in COMMANDS.items():
        lines.append(f"    {name.ljust(12)}{cmd.synopsis}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    machine = any(a.lstrip("-") in ("machine-readable", "machine-readable=true") for a in argv)
    argv = [a for a in argv if a.lstrip("-") not in ("machine-readable", "machine-readable=true")]
    ctx = Context(out, sys.stderr, machine)
    _quiet_library_warnings()
    _setup_logging()
    if not argv or argv[0] in ("-h", "--help", "-help", "help"):
        out.write(main_help())
        return EXIT_OK if argv else EXIT_USAGE
    if argv[0] in ("-v", "-version", "--version"):
        argv = ["version"]
    name = argv[0]
    if name in COMMANDS:
        cmd, rest = COMMANDS[name], argv[1:]
    elif name.startswith("-") or os.path.exists(name) or name.endswith(".json"):
        cmd, rest = COMMANDS["build"], argv  # `pybuild TEMPLATE` is `pybuild build TEMPLATE`
    else:
        out.write(f"pybuild: unknown command '{name}'\n\n" + main_help())
        return EXIT_USAGE
    return _dispatch(cmd, rest, ctx)


def _dispatch(cmd: Command, rest: list[str], ctx: Context) -> int:
    try:
        values, args = parse_flags(cmd, rest)
        assert cmd.run is not None
        return cmd.run(values, args, ctx)
    except UsageError as exc:
        if str(exc):
            ctx.error(str(exc))
            ctx.out.write("\n" + format_usage(cmd))
            return EXIT_ERROR
        ctx.out.write(format_usage(cmd))
        return EXIT_OK
    except KeyboardInterrupt:
        ctx.error("Interrupted.")
        return EXIT_ERROR
    except BrokenPipeError:
        # the reader went away (`pybuild build t.json | head`): stop writing, quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:
        # imported here, not at start-up: `pybuild version` never needs builder.errors
        from builder.errors import PybuildError

        if isinstance(exc, PybuildError):
            if _debug_log():
                from builder.logs import logger

                logger("pybuild").exception("failed")
            ctx.error(_error_text(exc))
            return EXIT_ERROR
        # a bug: say so plainly, traceback only with PYBUILD_LOG=1
        if _debug_log():
            from builder.logs import logger

            logger("pybuild").exception("internal error")  # masked by the log filter
        ctx.error(
            f"Error: internal error: {type(exc).__name__}: {exc}\n"
            "Run with PYBUILD_LOG=1 for a traceback, and please report it."
        )
        return EXIT_ERROR


def _debug_log() -> bool:
    value = os.environ.get("PYBUILD_LOG") or os.environ.get("PACKER_LOG") or ""
    return value not in ("", "0")


_logging_ready = False


def _quiet_library_warnings() -> None:
    """urllib3 warns once that PySocks is missing when a thread imports its SOCKS support
    before `requests` has installed its own filter for that warning; packer's output has no
    such line, so it is dropped (by message: importing urllib3 here would cost start-up)."""
    import warnings

    warnings.filterwarnings("ignore", message="SOCKS support in urllib3 requires")


def _setup_logging() -> None:
    global _logging_ready
    if not _debug_log() or _logging_ready:
        return
    _logging_ready = True
    import logging

    path = os.environ.get("PYBUILD_LOG_PATH") or os.environ.get("PACKER_LOG_PATH")
    handler: logging.Handler = (
        logging.FileHandler(path) if path else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(name)s: %(message)s"))
    from builder.logs import RedactionFilter

    handler.addFilter(RedactionFilter())
    log = logging.getLogger("pybuild")
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
