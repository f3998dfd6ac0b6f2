"""shell, file and breakpoint provisioners through `pybuild build` against real sshd hosts:
options that only show their worth on a real machine, faults, terminals and prompts."""

from __future__ import annotations

import hashlib
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import run_cli, write_template
from tests.integration.conftest import SSHHost
from tests.integration.socks5 import Socks5Server

# sshd goes away like a rebooting machine, and comes back after `seconds` (the testbed's
# supervisor loop restarts it when the start flag appears)
REBOOT = (
    "sudo touch /run/pybuild-sshd.hold; "
    "sudo nohup setsid sh -c 'sleep {seconds}; touch /run/pybuild-sshd.start' "
    ">/dev/null 2>&1 & sleep 0.2; sudo pkill -KILL -x sshd"
)


def template_for(host: SSHHost, provisioners: list[dict[str, Any]], **extra: Any) -> dict:
    builder = {
        "type": "null",
        "ssh_host": host.host,
        "ssh_port": host.port,
        "ssh_username": host.user,
        "ssh_password": host.password,
        "ssh_timeout": "20s",
        **extra,
    }
    return {"builders": [builder], "provisioners": provisioners}


def build(tmp_path: Path, template: dict, *args: str, **kw: Any) -> subprocess.CompletedProcess:
    write_template(tmp_path, template)
    return run_cli("build", "-color=false", *args, "t.json", cwd=tmp_path, input="", **kw)


class PtySession:
    """`pybuild` with a terminal for stdin and stdout (what a person at a shell has)."""

    def __init__(self, args: list[str], cwd: Path):
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "builder", *args],
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.output = ""

    def _read(self, seconds: float) -> None:
        ready, _, _ = select.select([self.master], [], [], seconds)
        if ready:
            try:
                self.output += os.read(self.master, 65536).decode("utf-8", "replace")
            except OSError:  # EIO: the child closed the terminal
                time.sleep(seconds)

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert time.monotonic() < deadline, f"{text!r} not seen in:\n{self.output}"
            self._read(0.1)

    def settle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._read(0.05)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"pybuild still running:\n{self.output}"
            self._read(0.1)
        self.settle(0.2)
        os.close(self.master)
        return self.proc.returncode


# ---------------------------------------------------------------------- shell options


def test_use_env_var_file_on_a_real_host(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    env_file = {
        "type": "shell",
        "environment_vars": ['GREETING=it\'s a "test"', "EMPTY="],
        "use_env_var_file": True,
        "inline": ['echo "greeting=$GREETING empty=[$EMPTY] build=$PACKER_BUILD_NAME"'],
    }
    leftovers = {"type": "shell", "inline": ["echo leftovers=$(ls /tmp | grep -c varfile_)"]}
    proc = build(tmp_path, template_for(host, [env_file, leftovers]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '    null: greeting=it\'s a "test" empty=[] build=null' in proc.stdout
    assert "    null: leftovers=0" in proc.stdout  # the variables file is removed again


def test_start_retry_timeout_waits_for_a_host_that_comes_back_late(
    sshd_host, tmp_path: Path
) -> None:
    host = sshd_host()
    reboot = {
        "type": "shell",
        "inline": [REBOOT.format(seconds=4)],
        "expect_disconnect": True,
        "skip_clean": True,
    }
    after = {"type": "shell", "inline": ["echo back"], "start_retry_timeout": "30s"}
    start = time.monotonic()
    proc = build(tmp_path, template_for(host, [reboot, after]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "    null: back" in proc.stdout
    assert time.monotonic() - start >= 4  # it did wait for sshd to come back


def test_start_retry_timeout_gives_up_naming_the_host(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    reboot = {
        "type": "shell",
        "inline": [REBOOT.format(seconds=30)],
        "expect_disconnect": True,
        "skip_clean": True,
    }
    after = {"type": "shell", "inline": ["echo back"], "start_retry_timeout": "1s"}
    start = time.monotonic()
    proc = build(tmp_path, template_for(host, [reboot, after]))
    assert proc.returncode == 1
    assert time.monotonic() - start < 15
    assert "Error uploading script" in proc.stdout
    assert f"127.0.0.1:{host.port}" in proc.stdout and "connection refused" in proc.stdout


def test_dropped_connection_without_expect_disconnect_fails_cleanly(
    sshd_host, tmp_path: Path
) -> None:
    host = sshd_host()
    start = time.monotonic()
    proc = build(tmp_path, template_for(host, [{"type": "shell", "inline": ["sudo pkill sshd"]}]))
    assert proc.returncode == 1
    assert time.monotonic() - start < 20
    assert "Script disconnected unexpectedly" in proc.stdout


def test_generic_timeout_pause_before_max_retries_and_pause_after(
    sshd_host, tmp_path: Path
) -> None:
    host = sshd_host()
    flaky = {
        "type": "shell",
        "inline": ["if [ -e /tmp/once ]; then echo second try; else touch /tmp/once; exit 3; fi"],
        "max_retries": 1,
        "pause_before": "500ms",
        "pause_after": "500ms",
    }
    slow = {"type": "shell", "inline": ["echo sleeping; sleep 60"], "timeout": "1s"}
    start = time.monotonic()
    proc = build(tmp_path, template_for(host, [flaky, slow]))
    took = time.monotonic() - start
    out = proc.stdout
    assert proc.returncode == 1, out
    for line in (
        "==> null: Pausing 500ms before the next provisioner...",
        'Provisioner failed with "Script exited with non-zero exit status: 3.',
        "    null: second try",
        "==> null: Pausing 500ms after this provisioner...",
        "==> null: Setting a 1s timeout for the next provisioner...",
        "==> null: Cancelling provisioner after a timeout...",
    ):
        assert line in out, out
    assert "timed out after 1s" in out
    assert 2 <= took < 20
    assert host.exec("pgrep -x sleep")[0] != 0  # the remote command was stopped too


# ---------------------------------------------------------------------- file


def test_file_generated_during_the_build(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    provisioners = [
        {
            "type": "file",
            "direction": "download",
            "source": "/etc/os-release",
            "destination": "made/",
        },
        {
            "type": "file",
            "source": "made/os-release",
            "destination": "/tmp/copied",
            "generated": True,
        },
        {"type": "shell", "inline": ["grep -c bookworm /tmp/copied"]},
    ]
    proc = build(tmp_path, template_for(host, provisioners))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Uploading made/os-release => /tmp/copied" in proc.stdout
    # without `generated` the same template is refused before anything runs
    (tmp_path / "made" / "os-release").unlink()
    del provisioners[1]["generated"]
    write_template(tmp_path, template_for(host, provisioners))
    proc = run_cli("validate", "t.json", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Bad source 'made/os-release'" in proc.stdout and "generated" in proc.stdout


def settled_logs(host, quiet: float = 0.5, limit: float = 10.0) -> str:
    """The host's sshd log once it has stopped changing (docker delivers it a little late)."""
    deadline = time.monotonic() + limit
    last = host.logs()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = host.logs()
        if now == last and "Connection closed" in now:
            return now
        last = now
    return last


def test_missing_script_and_source_are_reported_before_any_connection(
    sshd_host, tmp_path: Path
) -> None:
    host = sshd_host()
    t = template_for(
        host,
        [
            {"type": "shell", "scripts": ["missing.sh"]},
            {"type": "file", "source": "nope.txt", "destination": "/tmp/"},
        ],
    )
    write_template(tmp_path, t)
    probes = settled_logs(host).count("Connection from")  # the fixture's readiness check
    proc = run_cli("validate", "t.json", cwd=tmp_path)
    assert proc.returncode == 1
    assert "provisioners[0].scripts[0]" in proc.stdout and "missing.sh" in proc.stdout
    assert "provisioners[1].source" in proc.stdout and "nope.txt" in proc.stdout
    proc = build(tmp_path, t)
    assert proc.returncode == 1
    assert "missing.sh" in proc.stdout and "nope.txt" in proc.stdout
    assert "Waiting for SSH" not in proc.stdout
    assert host.logs().count("Connection from") == probes  # sshd never saw us


# ---------------------------------------------------------------------- terminals


def test_breakpoint_without_a_terminal_continues(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    t = template_for(
        host,
        [
            {"type": "breakpoint", "note": "look around"},
            {"type": "shell", "inline": ["echo after the breakpoint"]},
        ],
    )
    proc = build(tmp_path, t)  # stdin is an empty pipe
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'Pausing at breakpoint provisioner with note "look around".' in proc.stdout
    assert "No terminal to wait at (not interactive); continuing..." in proc.stdout
    assert "    null: after the breakpoint" in proc.stdout


def test_breakpoint_on_a_terminal_waits_for_enter(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    t = template_for(
        host,
        [
            {"type": "shell", "inline": ["echo before the breakpoint"]},
            {"type": "breakpoint", "note": "look around"},
            {"type": "shell", "inline": ["echo after the breakpoint"]},
        ],
    )
    write_template(tmp_path, t)
    session = PtySession(["build", "-color=false", "t.json"], tmp_path)
    session.expect("Press enter to continue.")
    assert "before the breakpoint" in session.output
    session.settle(1.0)
    assert "after the breakpoint" not in session.output  # it really waits
    session.send(b"\n")
    session.expect("after the breakpoint")
    assert session.wait() == 0, session.output


def test_progress_bar_on_a_terminal_through_a_socks_proxy(sshd_host, tmp_path: Path) -> None:
    """A slow link (a throttling SOCKS5 proxy): the upload runs for seconds and gets a bar."""
    host = sshd_host()
    data = os.urandom(10 << 20)
    (tmp_path / "big.bin").write_bytes(data)
    with Socks5Server("proxy-user", "proxy-pw", rate=3 << 20) as (port, seen):
        t = template_for(
            host,
            [{"type": "file", "source": "big.bin", "destination": "/tmp/big.bin"}],
            ssh_proxy_host="127.0.0.1",
            ssh_proxy_port=port,
            ssh_proxy_username="proxy-user",
            ssh_proxy_password="proxy-pw",
        )
        write_template(tmp_path, t)
        session = PtySession(["build", "-color=false", "t.json"], tmp_path)
        assert session.wait() == 0, session.output
    assert seen and set(seen) == {("127.0.0.1", host.port)}
    bars = [part for part in session.output.split("\r") if "% big.bin" in part]
    assert bars and "[##############################] 100% big.bin" in bars[-1], session.output
    assert any("100%" not in bar for bar in bars), bars  # drawn while it ran, not only at the end
    assert host.exec("sha256sum /tmp/big.bin")[1].split()[0] == hashlib.sha256(data).hexdigest()
    assert "proxy-pw" not in session.output


def test_debug_log_names_the_host_key_and_home_stays_empty(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    home = Path(os.environ["HOME"])
    t = template_for(host, [{"type": "shell", "inline": ["echo hi"]}])
    proc = build(tmp_path, t, env={"PACKER_LOG": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sha = host.exec("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")[1].split()[1]
    assert f"host key of 127.0.0.1:{host.port}: ssh-ed25519 {sha} (accepted)" in proc.stderr
    assert host.password is not None and host.password not in proc.stderr + proc.stdout
    assert list(home.iterdir()) == []  # no ~/.ssh/known_hosts (nor anything else)
