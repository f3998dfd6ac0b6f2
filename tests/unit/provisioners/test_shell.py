"""The remote shell provisioner, run against FakeCommunicator."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import provisioners.shell as shell
from builder.components import PluginOptions
from builder.errors import BuildCancelled, BuildError, ConfigErrors, RemoteCommandFailed
from builder.events import Message, Say
from builder.template.funcs import RenderContext
from builder.testing import FakeCommunicator, RecordingSink
from builder.ui import Ui
from provisioners.shell import ShellConfig, ShellProvisioner, unix_lines

BUILD_DATA = {"ID": "c0ffee", "PackerRunUUID": "u-1"}
NO_HTTP = {
    "PackerHTTPIP": "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER",
    "PackerHTTPPort": "ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER",
    "PackerHTTPAddr": "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER",
}
PACKER_VARS = "PACKER_BUILDER_TYPE='docker' PACKER_BUILD_NAME='web' "


def options(**user_vars: str) -> PluginOptions:
    ctx = RenderContext(user_vars=user_vars, build_name="web", build_type="docker")
    return PluginOptions(build_name="web", build_type="docker", render=ctx, run_uuid="u-1")


def make(user_vars: dict[str, str] | None = None, **raw: Any) -> ShellProvisioner:
    prov = ShellProvisioner(ShellConfig.model_validate(raw), options(**(user_vars or {})))
    prov.prepare()
    return prov


def run(
    prov: ShellProvisioner, fake: FakeCommunicator, data: dict[str, str] | None = None
) -> RecordingSink:
    sink = RecordingSink()
    prov.provision(Ui(sink, "web"), fake, dict(BUILD_DATA if data is None else data))
    return sink


def remote(prov: ShellProvisioner) -> str:
    return f"/tmp/{prov.default_remote_file}"


def prepare_errors(**raw: Any) -> list[str]:
    prov = ShellProvisioner(ShellConfig.model_validate(raw), options())
    with pytest.raises(ConfigErrors) as info:
        prov.prepare()
    return [e.render() for e in info.value.errors]


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(shell, "RETRY_DELAY", 0.01)


# --------------------------------------------------------------------------- config checks
def test_exactly_one_script_family() -> None:
    assert prepare_errors() == ["Either a script file or inline script must be specified."]
    assert prepare_errors(inline=[]) == ["Either a script file or inline script must be specified."]
    Path("a.sh").write_text("true\n")
    assert prepare_errors(inline=["true"], script="a.sh") == [
        "inline: Only a script file or an inline script can be specified, not both."
    ]
    assert prepare_errors(script="a.sh", scripts=["a.sh"]) == [
        "script: Only one of script or scripts can be specified."
    ]


def test_missing_local_scripts_are_named_by_option_path() -> None:
    Path("ok.sh").write_text("true\n")
    Path("adir").mkdir()
    assert prepare_errors(scripts=["ok.sh", "gone.sh", "adir"]) == [
        "scripts[1]: Bad script 'gone.sh': stat gone.sh: no such file or directory",
        "scripts[2]: Bad script 'adir': is a directory",
    ]
    assert prepare_errors(script="nope.sh") == [
        "script: Bad script 'nope.sh': stat nope.sh: no such file or directory"
    ]


def test_environment_vars_must_be_key_value() -> None:
    assert prepare_errors(inline=["true"], environment_vars=["OK=1", "=x", "NOEQ"]) == [
        "environment_vars[1]: Environment variable not in format 'key=value': =x",
        "environment_vars[2]: Environment variable not in format 'key=value': NOEQ",
    ]


def test_defaults_and_deferred_fields() -> None:
    cfg = ShellConfig.model_validate({"inline": "echo a,echo b", "start_retry_timeout": "0s"})
    assert cfg.inline == ["echo a", "echo b"]
    assert cfg.retry_timeout() == 300.0
    assert cfg.allowed_codes() == [0]
    assert ShellConfig.deferred == {
        "inline",
        "execute_command",
        "environment_vars",
        "remote_folder",
        "remote_file",
        "remote_path",
    }
    assert re.fullmatch(r"script_\d{1,4}\.sh", make(inline=["true"]).default_remote_file)


# --------------------------------------------------------------------------- inline scripts
def test_inline_script_is_uploaded_run_streamed_and_cleaned(tmp_path: Path) -> None:
    prov = make(inline=["echo {{build `ID`}}", "echo {{.ID}}"])
    path = remote(prov)
    fake = FakeCommunicator()
    seen: dict[str, Any] = {}
    fake.on(
        r"^chmod \+x",
        output=["one", "two"],
        effect=lambda _: seen.update(body=fake.read(path)),
    )
    sink = run(prov, fake)
    (say,) = sink.texts(Say)
    assert re.fullmatch(r"Provisioning with shell script: .*/packer-shell\d+", say)
    assert seen["body"] == b"#!/bin/sh -e\necho c0ffee\necho c0ffee\n"
    assert sink.texts(Message) == ["one", "two"]
    assert fake.commands == [
        f"chmod 0755 {path}",
        f"chmod +x {path}; {PACKER_VARS} {path}",  # Vars ends with a space: two spaces
        f"rm -f {path}",
    ]
    assert [(t.kind, t.dst) for t in fake.transfers] == [("upload", path)]
    assert fake.files == {}
    assert not list(tmp_path.glob("packer-shell*"))


def test_inline_shebang() -> None:
    prov = make(inline=["echo hi"], inline_shebang="/bin/bash -eux", skip_clean=True)
    fake = FakeCommunicator()
    run(prov, fake)
    assert fake.read(remote(prov)) == b"#!/bin/bash -eux\necho hi\n"


def test_crlf_becomes_lf_unless_binary() -> None:
    Path("win.sh").write_bytes(b"echo a\r\necho b\r\n\r\necho c")
    fake = FakeCommunicator()
    prov = make(script="win.sh", skip_clean=True)
    run(prov, fake)
    assert fake.read(remote(prov)) == b"echo a\necho b\n\necho c\n"
    prov = make(script="win.sh", skip_clean=True, binary=True)
    run(prov, fake)
    assert fake.read(remote(prov)) == b"echo a\r\necho b\r\n\r\necho c"


def test_unix_lines_like_packer() -> None:
    assert unix_lines(b"one\r\ntwo\n\r\nthree\r\n") == b"one\ntwo\n\nthree\n"
    assert unix_lines(b"\none\n\ntwo\nthree\n\n") == b"\none\n\ntwo\nthree\n\n"
    assert unix_lines(b"one\ntwo") == b"one\ntwo\n"
    assert unix_lines(b"") == b""


def test_scripts_in_order_reuse_one_remote_path() -> None:
    Path("a.sh").write_text("echo a\n")
    Path("b.sh").write_text("echo b\n")
    prov = make(scripts=["a.sh", "b.sh"])
    fake = FakeCommunicator()
    sink = run(prov, fake)
    path = remote(prov)
    assert sink.texts(Say) == [
        "Provisioning with shell script: a.sh",
        "Provisioning with shell script: b.sh",
    ]
    assert [t.dst for t in fake.transfers] == [path, path]
    assert fake.commands.count(f"rm -f {path}") == 2


# --------------------------------------------------------------------------- environment
def test_env_vars_sorted_and_quoted() -> None:
    prov = make(
        inline=["true"],
        environment_vars=["MSG=it's here", "B=x y", "ID={{build `ID`}}", "EMPTY=", "EQ=a=b"],
    )
    fake = FakeCommunicator()
    run(prov, fake)
    path = remote(prov)
    assert fake.commands[1] == (
        f"chmod +x {path}; B='x y' EMPTY='' EQ='a=b' ID='c0ffee' "
        f"MSG='it'\"'\"'s here' {PACKER_VARS} {path}"
    )


def test_http_vars_only_with_real_values() -> None:
    prov = make(inline=["true"])
    fake = FakeCommunicator()
    run(prov, fake, {**BUILD_DATA, **NO_HTTP})
    assert "PACKER_HTTP" not in fake.commands[1]
    served = {
        "PackerHTTPIP": "10.0.2.2",
        "PackerHTTPPort": "8080",
        "PackerHTTPAddr": "10.0.2.2:8080",
    }
    run(prov, fake, {**BUILD_DATA, **served})
    assert (
        "PACKER_BUILDER_TYPE='docker' PACKER_BUILD_NAME='web' PACKER_HTTP_ADDR='10.0.2.2:8080' "
        "PACKER_HTTP_IP='10.0.2.2' PACKER_HTTP_PORT='8080' "
    ) in fake.commands[-2]


def test_env_var_format() -> None:
    prov = make(inline=["true"], environment_vars=["A=1"], env_var_format="%s=%s; ")
    fake = FakeCommunicator()
    run(prov, fake)
    path = remote(prov)
    expected = f"A=1; PACKER_BUILDER_TYPE=docker; PACKER_BUILD_NAME=web;  {path}"
    assert fake.commands[1] == f"chmod +x {path}; {expected}"


def test_bad_env_var_after_rendering_fails_the_run() -> None:
    prov = make(inline=["true"], environment_vars=["{{user `k`}}=1"], user_vars={"k": ""})
    with pytest.raises(BuildError, match="not in format 'key=value': =1"):
        run(prov, FakeCommunicator())


def test_use_env_var_file() -> None:
    prov = make(inline=["true"], environment_vars=["A=it's"], use_env_var_file=True)
    fake = FakeCommunicator()
    seen: dict[str, bytes] = {}

    def capture(command: str) -> None:
        varfile = re.search(r"\. (\S+) &&", command)
        assert varfile is not None
        seen[varfile.group(1)] = fake.read(varfile.group(1))

    path = remote(prov)
    fake.on(r"&& " + re.escape(path), effect=capture)
    run(prov, fake)
    ((varfile, body),) = seen.items()
    assert re.fullmatch(r"/tmp/varfile_\d{1,4}\.sh", varfile)
    assert body == (
        b"export A='it'\"'\"'s'\n"
        b"export PACKER_BUILDER_TYPE='docker'\n"
        b"export PACKER_BUILD_NAME='web'\n"
    )
    assert fake.commands == [
        f"chmod 0600 {varfile}",
        f"chmod 0755 {path}",
        f"chmod +x {path}; . {varfile} && {path}",
        f"rm -f {path}",
        f"rm -f {varfile}",
    ]
    assert fake.files == {}


# --------------------------------------------------------------------------- execute_command
def test_execute_command_rendering() -> None:
    prov = make(
        inline=["true"],
        environment_vars=["A=1"],
        execute_command=(
            "echo {{user `pw`}} | sudo -S -E sh -c '{{.Vars}}{{.Path}}' "
            "# {{build `ID`}} {{.ID}} [{{.EnvVarFile}}]"
        ),
        user_vars={"pw": "s3cret"},
    )
    fake = FakeCommunicator()
    run(prov, fake)
    path = remote(prov)
    assert fake.commands[1] == (
        f"echo s3cret | sudo -S -E sh -c 'A='1' {PACKER_VARS}{path}' # c0ffee c0ffee []"
    )


def test_remote_folder_file_and_path() -> None:
    fake = FakeCommunicator(dirs=("/", "/tmp", "/opt/c0ffee"))
    prov = make(inline=["true"], remote_folder="/opt/{{build `ID`}}", remote_file="go.sh")
    run(prov, fake)
    assert fake.transfers[0].dst == "/opt/c0ffee/go.sh"
    prov = make(inline=["true"], remote_folder="/opt/x", remote_path="/tmp/{{.ID}}.sh")
    run(prov, fake)
    assert fake.transfers[1].dst == "/tmp/c0ffee.sh"


# --------------------------------------------------------------------------- exit codes
def test_failing_script_raises_with_the_tail() -> None:
    prov = make(inline=["false"])
    fake = FakeCommunicator()
    fake.on(r"chmod \+x", exit_status=3, output=[f"line{i}" for i in range(12)])
    with pytest.raises(RemoteCommandFailed) as info:
        run(prov, fake)
    err = info.value
    assert (err.exit_status, err.allowed) == (3, [0])
    assert err.tail == [f"line{i}" for i in range(2, 12)]
    assert str(err).startswith("Script exited with non-zero exit status: 3.")
    assert err.command.endswith(remote(prov))


def test_valid_exit_codes() -> None:
    fake = FakeCommunicator()
    fake.on(r"chmod \+x", exit_status=3)
    run(make(inline=["exit 3"], valid_exit_codes=[0, 3]), fake)
    run(make(inline=["exit 3"], valid_exit_codes="0,3"), fake)
    with pytest.raises(RemoteCommandFailed, match=r"Allowed exit codes are: \[0, 2\]"):
        run(make(inline=["exit 3"], valid_exit_codes=[0, 2]), fake)


# --------------------------------------------------------------------------- disconnects
def rebooting_fake(prov: ShellProvisioner) -> FakeCommunicator:
    """The script drops the connection and the machine is unreachable for two tries."""
    fake = FakeCommunicator()
    fake.on(r"chmod \+x", disconnect=True, effect=lambda _: fake.fail_next(2))
    return fake


def test_expect_disconnect_is_success_and_cleanup_waits_for_the_machine() -> None:
    prov = make(inline=["reboot"], expect_disconnect=True)
    fake = rebooting_fake(prov)
    run(prov, fake)
    assert fake.reconnects == 2
    assert fake.commands[-1] == f"rm -f {remote(prov)}"
    assert fake.files == {}


def test_unexpected_disconnect_fails() -> None:
    prov = make(inline=["reboot"])
    with pytest.raises(BuildError, match="Script disconnected unexpectedly.*expect_disconnect"):
        run(prov, rebooting_fake(prov))


def test_disconnect_allowed_by_its_exit_code() -> None:
    prov = make(inline=["reboot"], valid_exit_codes=[0, 2300218])
    run(prov, rebooting_fake(prov))


def test_start_retry_until_the_machine_answers() -> None:
    prov = make(inline=["echo up"])
    fake = FakeCommunicator()
    fake.fail_next(2)
    fake.on(r"chmod \+x", output=["up"])
    sink = run(prov, fake)
    assert fake.reconnects == 2
    assert len(fake.transfers) == 1
    assert sink.texts(Message) == ["up"]


def test_start_retry_gives_up_after_the_timeout() -> None:
    prov = make(inline=["true"], start_retry_timeout="50ms")
    fake = FakeCommunicator()
    fake.fail_next(10_000)
    started = time.monotonic()
    with pytest.raises(BuildError, match="Error uploading script: connection lost"):
        run(prov, fake)
    assert time.monotonic() - started < 2
    assert fake.reconnects >= 1


def test_other_errors_are_not_retried() -> None:
    prov = make(inline=["true"])
    fake = FakeCommunicator()
    fake.fail_next(1, BuildError("permission denied"))
    with pytest.raises(BuildError, match="^Error uploading script: permission denied$"):
        run(prov, fake)
    assert fake.reconnects == 0


def test_retry_without_reconnect_support() -> None:
    class Plain(FakeCommunicator):
        reconnect = None  # type: ignore[assignment]

    fake = Plain()
    fake.fail_next(2, ConnectionResetError(104, "Connection reset by peer"))
    run(make(inline=["true"]), fake)
    assert len(fake.transfers) == 1


# --------------------------------------------------------------------------- cleanup
def test_skip_clean_leaves_the_script() -> None:
    prov = make(inline=["true"], skip_clean=True)
    fake = FakeCommunicator()
    run(prov, fake)
    assert not any(c.startswith("rm ") for c in fake.commands)
    assert fake.read(remote(prov)).startswith(b"#!/bin/sh -e")


def test_cleanup_failure_is_an_error() -> None:
    prov = make(inline=["true"])
    fake = FakeCommunicator()
    fake.on(r"^rm -f", exit_status=1)
    with pytest.raises(BuildError, match="Error removing temporary script at /tmp/script_"):
        run(prov, fake)


# --------------------------------------------------------------------------- pause, cancel
def test_pause_after() -> None:
    prov = make(inline=["true"], pause_after="50ms")
    started = time.monotonic()
    sink = run(prov, FakeCommunicator())
    assert time.monotonic() - started >= 0.05
    assert sink.texts(Say)[-1] == "Pausing 50ms after this provisioner..."


def test_cancel_during_pause_after() -> None:
    prov = make(inline=["true"], pause_after="30s")
    threading.Timer(0.1, prov.options.cancel.cancel).start()
    started = time.monotonic()
    with pytest.raises(BuildCancelled):
        run(prov, FakeCommunicator())
    assert time.monotonic() - started < 5


def test_cancel_while_the_script_runs(tmp_path: Path) -> None:
    prov = make(inline=["sleep 600"])
    fake = FakeCommunicator()
    fake.on(r"chmod \+x", hang=True)
    threading.Timer(0.1, prov.options.cancel.cancel).start()
    started = time.monotonic()
    with pytest.raises(BuildCancelled):
        run(prov, fake)
    assert time.monotonic() - started < 5
    assert not list(tmp_path.glob("packer-shell*"))


def test_cancelled_before_start_runs_nothing() -> None:
    prov = make(inline=["true"])
    prov.options.cancel.cancel()
    fake = FakeCommunicator()
    with pytest.raises(BuildCancelled):
        run(prov, fake)
    assert fake.commands == [] and fake.transfers == []


def test_cancel_is_not_retried() -> None:
    prov = make(inline=["true"])
    fake = FakeCommunicator()
    fake.fail_next(1, BuildCancelled())
    with pytest.raises(BuildCancelled):
        run(prov, fake)
    assert fake.reconnects == 0


def test_needs_a_communicator() -> None:
    with pytest.raises(BuildError, match="needs a communicator"):
        make(inline=["true"]).provision(Ui(RecordingSink(), "web"), None, {})
