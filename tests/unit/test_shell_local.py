"""shell-local provisioner and post-processor: config checks, env formatting, local runs."""

from __future__ import annotations

import os
import re
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from builder.artifact import Artifact
from builder.components import PluginOptions
from builder.errors import BuildCancelled, BuildError, ConfigErrors, RemoteCommandFailed
from builder.events import Message, Say
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui
from postprocessors.shell_local import ShellLocalPostProcessor
from provisioners.shell_local import (
    ShellLocalConfig,
    ShellLocalProvisioner,
    clean_line,
    flatten_vars,
    go_sprintf,
    host_os,
    write_inline_script,
)

RUN_UUID = "0a1b2c3d-0000-4000-8000-00000000abcd"
BUILD_DATA = {"ID": "Null", "PackerRunUUID": RUN_UUID}


def options(build_name: str = "web", build_type: str = "null") -> PluginOptions:
    ctx = RenderContext(
        user_vars={}, template_path=None, build_name=build_name, build_type=build_type
    )
    return PluginOptions(
        build_name=build_name, build_type=build_type, render=ctx, run_uuid=RUN_UUID
    )


def provisioner(**raw: Any) -> ShellLocalProvisioner:
    prov = ShellLocalProvisioner(ShellLocalConfig.model_validate(raw), options())
    prov.prepare()
    return prov


def run(prov: ShellLocalProvisioner, data: dict[str, Any] | None = None) -> RecordingSink:
    sink = RecordingSink()
    prov.provision(Ui(sink, "web"), None, dict(BUILD_DATA if data is None else data))
    return sink


@pytest.fixture(autouse=True)
def _tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)


def prepare_errors(**raw: Any) -> list[str]:
    prov = ShellLocalProvisioner(ShellLocalConfig.model_validate(raw), options())
    with pytest.raises(ConfigErrors) as info:
        prov.prepare()
    return [e.render() for e in info.value.errors]


# --------------------------------------------------------------------------- config checks
def test_no_command_at_all_is_an_error() -> None:
    assert prepare_errors() == ["Command, Inline, Script and Scripts options cannot all be empty."]


def test_more_than_one_family_is_an_error() -> None:
    (err,) = prepare_errors(command="echo a", inline=["echo b"])
    assert err.startswith("You may only specify one of the following options")
    assert "command, inline" in err


def test_missing_scripts_are_named_by_option_path(tmp_path: Path) -> None:
    (tmp_path / "ok.sh").write_text("echo ok\n")
    assert prepare_errors(scripts=["ok.sh", "gone.sh"]) == [
        "scripts[1]: file 'gone.sh' does not exist"
    ]
    assert prepare_errors(script="nope.sh") == ["script: file 'nope.sh' does not exist"]


def test_environment_vars_and_only_on_are_checked() -> None:
    errors = prepare_errors(
        inline=["true"], environment_vars=["GOOD=1", "=x", "NOEQ"], only_on=["beos"]
    )
    assert errors[0].startswith("only_on[0]: invalid OS 'beos'")
    assert "supported OS names: darwin, freebsd, linux" in errors[0]
    assert errors[1:] == [
        "environment_vars[1]: Environment variable not in format 'key=value': =x",
        "environment_vars[2]: Environment variable not in format 'key=value': NOEQ",
    ]


def test_lists_given_as_strings_split_on_commas() -> None:
    cfg = ShellLocalConfig.model_validate({"inline": "echo a,echo b", "valid_exit_codes": "0,2"})
    assert cfg.inline == ["echo a", "echo b"]
    assert cfg.allowed_codes() == [0, 2]


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(Exception, match="extra"):
        ShellLocalConfig.model_validate({"inline": ["true"], "inlin": ["x"]})


def test_execute_command_defaults_and_single_element() -> None:
    assert ShellLocalConfig().argv_template() == ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"]
    one = ShellLocalConfig(execute_command=["{{.Vars}} bash {{.Script}}"])
    assert one.argv_template() == ["/bin/sh", "-c", "{{.Vars}} bash {{.Script}}"]


def test_deferred_fields() -> None:
    assert {"execute_command", "inline", "command", "environment_vars"} == ShellLocalConfig.deferred


# --------------------------------------------------------------------------- env formatting
def test_vars_sorted_bytewise_and_quotes_escaped() -> None:
    env = {"PACKER_BUILD_NAME": "web", "PACKER_BUILDER_TYPE": "null", "MSG": "it's"}
    assert flatten_vars(env, "%s='%s' ") == (
        "MSG='it'\"'\"'s' PACKER_BUILDER_TYPE='null' PACKER_BUILD_NAME='web' "
    )


def test_go_sprintf_like_go() -> None:
    assert go_sprintf("export %s=%v\n", "A", "1") == "export A=1\n"
    assert go_sprintf("%s 100%%", "A", "1") == "A 100%%!(EXTRA string=1)"
    assert go_sprintf("%s=%s=%s", "A", "1") == "A=1=%!s(MISSING)"


def test_clean_line_keeps_text_after_carriage_return() -> None:
    assert clean_line(b"10%\r50%\r100%  \r\n") == "100%"
    assert clean_line(b"caf\xc3\xa9") == "café"


def test_inline_file_has_shebang_mode_and_name(tmp_path: Path) -> None:
    path = write_inline_script(["echo hi"], "/bin/sh -e", ".cmd")
    assert re.fullmatch(re.escape(str(tmp_path)) + r"/packer-shell\d{9}\.cmd", path)
    assert Path(path).read_text() == "#!/bin/sh -e\necho hi\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700


# --------------------------------------------------------------------------- running
def test_output_is_streamed_in_order_and_file_removed(tmp_path: Path) -> None:
    sink = run(provisioner(inline=["echo one", "printf 'two\\nthree\\n'", "echo four >&2"]))
    (say,) = sink.texts(Say)
    assert re.fullmatch(r"Running local shell script: .*/packer-shell\d+", say)
    assert sink.texts(Message) == ["one", "two", "three", "four"]
    assert not list(tmp_path.glob("packer-shell*"))


def test_lines_arrive_while_the_command_runs() -> None:
    seen: list[tuple[str, float]] = []

    class Clock(RecordingSink):
        def emit(self, event: Any) -> None:
            if isinstance(event, Message):
                seen.append((event.text, time.monotonic()))

    prov = provisioner(inline=["echo first", "sleep 1", "echo second"])
    prov.provision(Ui(Clock(), "web"), None, dict(BUILD_DATA))
    assert [t for t, _ in seen] == ["first", "second"]
    assert seen[1][1] - seen[0][1] > 0.7


def test_environment_of_the_script() -> None:
    prov = provisioner(
        inline=[
            'echo "$PACKER_BUILD_NAME|$PACKER_BUILDER_TYPE|$PACKER_RUN_UUID"',
            'echo "$PYBUILD_BUILD_NAME|$PYBUILD_BUILDER_TYPE"',
            'echo "$MSG|$EMPTY|$ID"',
        ],
        environment_vars=['MSG=it\'s "quoted" $HOME', "EMPTY=", "ID={{build `ID`}}"],
    )
    assert run(prov).texts(Message) == [
        f"web|null|{RUN_UUID}",
        "web|null",
        'it\'s "quoted" $HOME||Null',
    ]


def test_http_address_only_when_the_builder_serves() -> None:
    prov = provisioner(inline=['echo "[$PACKER_HTTP_ADDR][$PACKER_HTTP_PORT]"'])
    served = {**BUILD_DATA, "PackerHTTPAddr": "10.0.0.1:8080", "PackerHTTPPort": "8080"}
    assert run(prov, served).texts(Message) == ["[10.0.0.1:8080][8080]"]
    absent = {**BUILD_DATA, "PackerHTTPAddr": "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER"}
    assert run(prov, absent).texts(Message) == ["[][]"]


def test_execute_command_rendering() -> None:
    prov = provisioner(
        command="echo unused",
        environment_vars=["A=1"],
        execute_command=["/bin/sh", "-c", "echo '{{.Vars}}|{{build `ID`}}'; echo {{.Command}}"],
    )
    out = run(prov).texts(Message)
    assert out[0] == "A=1 PACKER_BUILDER_TYPE=null PACKER_BUILD_NAME=web |Null"
    assert re.fullmatch(r".*/packer-shell\d+", out[1])


def test_exit_code_failure_carries_the_tail() -> None:
    prov = provisioner(inline=[f"echo line{i}" for i in range(12)] + ["exit 3"])
    with pytest.raises(RemoteCommandFailed) as info:
        run(prov)
    err = info.value
    assert err.exit_status == 3 and err.allowed == [0]
    assert err.tail == [f"line{i}" for i in range(2, 12)]
    assert str(err).startswith(
        "Script exited with non-zero exit status: 3. Allowed exit codes are: [0]"
    )


def test_valid_exit_codes_allow_other_codes() -> None:
    assert run(provisioner(inline=["echo ok", "exit 3"], valid_exit_codes=[0, 3])).texts(
        Message
    ) == ["ok"]


def test_script_files_with_arguments(tmp_path: Path) -> None:
    script = tmp_path / "args.sh"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$0" "$@"\n')
    script.chmod(0o755)
    prov = provisioner(
        scripts=["args.sh", str(script)],
        execute_command=["/bin/sh", "-c", "{{.Vars}} {{.Script}} first 'second arg'"],
    )
    sink = run(prov)
    assert sink.texts(Say) == [
        "Running local shell script: args.sh",
        f"Running local shell script: {script}",
    ]
    assert sink.texts(Message) == [str(script), "first", "second arg"] * 2


def test_command_that_cannot_start() -> None:
    prov = provisioner(command="true", execute_command=["/nonexistent/sh", "-c", "{{.Script}}"])
    with pytest.raises(BuildError, match="Error executing script: .*/packer-shell"):
        run(prov)


def test_cancellation_kills_the_command(tmp_path: Path) -> None:
    prov = provisioner(inline=["sleep 30 &", "echo $!", "wait"])
    timer = threading.Timer(0.5, prov.options.cancel.cancel)
    started = time.monotonic()
    timer.start()
    sink = RecordingSink()
    with pytest.raises(BuildCancelled):
        prov.provision(Ui(sink, "web"), None, dict(BUILD_DATA))
    assert time.monotonic() - started < 3
    (pid,) = sink.texts(Message)
    assert _gone(int(pid), within=2.0)
    assert not list(tmp_path.glob("packer-shell*"))


def _gone(pid: int, within: float) -> bool:
    """True when the process has exited (a zombie counts) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_only_on_other_os_skips() -> None:
    other = "windows" if host_os() != "windows" else "linux"
    sink = run(provisioner(inline=["echo should not run"], only_on=[other]))
    assert sink.texts(Say) == ["Skipping shell-local due to runtime OS"]
    assert sink.texts(Message) == []
    assert run(provisioner(inline=["echo ran"], only_on=[host_os()])).texts(Message) == ["ran"]


def test_post_processor_returns_the_same_artifact() -> None:
    cfg = ShellLocalConfig.model_validate({"inline": ["echo id={{build `ID`}} $PACKER_BUILD_NAME"]})
    pp = ShellLocalPostProcessor(cfg, options())
    pp.prepare()
    art = Artifact("fnoeding.null", "Null")
    sink = RecordingSink()
    assert pp.post_process(Ui(sink, "web (shell-local)"), art) == (art, True, True)
    assert sink.texts(Message) == ["id=Null web"]
    gen = Artifact("x", "y", state={"generated_data": {"ID": "from-state"}})
    sink = RecordingSink()
    pp.post_process(Ui(sink, "web (shell-local)"), gen)
    assert sink.texts(Message) == ["id=from-state web"]


def test_scripts_written_while_other_threads_start_processes_never_hit_text_file_busy() -> None:
    """200 parallel shell-local builds failed now and then with "Text file busy": a child
    forked by one thread kept another thread's script open for writing until it exec'd.
    Writing and spawning take turns now. 640 local `true` scripts from 32 threads (the
    race showed in about 1 run in 160 before the fix)."""
    import subprocess
    import threading

    from provisioners.shell_local import spawn, write_inline_script

    failures: list[str] = []

    def one() -> None:
        for _ in range(20):
            path = write_inline_script(["true"], "/bin/sh")
            try:
                proc = spawn(["/bin/sh", "-c", path], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)  # fmt: skip
                _, err = proc.communicate(timeout=30)
                if proc.returncode:
                    failures.append(err.decode(errors="replace").strip())
            finally:
                os.remove(path)

    threads = [threading.Thread(target=one) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
