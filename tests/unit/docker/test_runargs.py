"""run_command parsing: docker-run flags into Engine API terms, unsupported flags named."""

from __future__ import annotations

import pytest

from builder.docker.config import DEFAULT_RUN_COMMAND
from builder.docker.runargs import ContainerSpec, RunArgsError, create_kwargs, parse_run_command


def test_packer_default_run_command() -> None:
    run = parse_run_command([a.replace("{{.Image}}", "img:1") for a in DEFAULT_RUN_COMMAND])
    assert (run.detach, run.interactive, run.tty) == (True, True, True)
    assert run.entrypoint == "/bin/sh"
    assert (run.image, run.command) == ("img:1", [])


def test_combined_short_flags_values_and_command() -> None:
    run = parse_run_command(
        [
            "-dit",
            "-e",
            "A=1",
            "-eB=2",
            "--env=C=3",
            "-v",
            "/h:/c",
            "--privileged",
            "--cap-add",
            "NET_ADMIN",
            "--tmpfs",
            "/run:size=1m",
            "-p",
            "127.0.0.1:2222:22",
            "--network",
            "host",
            "img",
            "sleep",
            "100",
        ]
    )
    assert run.env == ["A=1", "B=2", "C=3"]
    assert run.volumes == ["/h:/c"] and run.privileged and run.cap_add == ["NET_ADMIN"]
    assert (run.image, run.command) == ("img", ["sleep", "100"])
    kwargs, host = create_kwargs(ContainerSpec(run, binds={"/tmp/x": "/packer-files"}))
    assert kwargs["environment"] == {"A": "1", "B": "2", "C": "3"}
    assert kwargs["stdin_open"] and kwargs["tty"] and kwargs["command"] == ["sleep", "100"]
    assert host["binds"] == ["/tmp/x:/packer-files", "/h:/c"]
    assert host["tmpfs"] == {"/run": "size=1m"}
    assert host["port_bindings"] == {"22/tcp": ("127.0.0.1", 2222)}
    assert host["network_mode"] == "host" and host["privileged"]


def test_bool_flag_with_value() -> None:
    assert parse_run_command(["--privileged=false", "img"]).privileged is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mount", "type=bind", "img"], "docker run flag '--mount' is not supported"),
        (["-x", "img"], "docker run flag '-x' is not supported"),
        (["-d", "-i"], "no image"),
        (["--name"], "flag --name needs a value"),
        (["--tty=maybe", "img"], "expected true or false"),
    ],
)
def test_bad_run_commands_say_why(argv: list[str], message: str) -> None:
    with pytest.raises(RunArgsError, match=message):
        parse_run_command(argv)
