"""The pybuild command as a user runs it: output format, exit codes, errors, signals.

These run `python -m builder` in a subprocess; builds use the null builder and
shell-local, which by definition runs harmless commands (echo, sleep) locally.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

NULL = {"type": "null", "communicator": "none"}


def test_build_output_follows_packer(template, cli) -> None:
    template(
        {
            "variables": {"a": "bee", "pw": "hunter2"},
            "sensitive-variables": ["pw"],
            "builders": [NULL, {**NULL, "name": "second"}],
            "provisioners": [
                {"type": "shell-local", "inline": ["echo hello {{user `a`}} {{user `pw`}}"]}
            ],
            "post-processors": ["manifest"],
        }
    )
    r = cli("build", "-color=false", "t.json")
    assert r.returncode == 0, r.stdout
    out = r.stdout
    assert "hunter2" not in out
    assert "    null: hello bee <sensitive>" in out
    assert "    second: hello bee <sensitive>" in out
    assert re.search(r"==> null: Running local shell script: .*packer-shell\d+", out)
    assert "==> null: Running post-processor: manifest" in out
    assert re.search(r"Build 'null' finished after \d+ \w+", out)
    assert out.rstrip().endswith(
        "==> Builds finished. The artifacts of successful builds are:\n"
        "--> null: Did not export anything. This is the null builder\n"
        "--> null: Did not export anything. This is the null builder\n"
        "--> second: Did not export anything. This is the null builder\n"
        "--> second: Did not export anything. This is the null builder"
    )
    assert "\033[" not in out


def test_colour_banner_and_no_color_env(template, cli) -> None:
    template({"builders": [NULL]})
    r = cli("t.json")  # `pybuild TEMPLATE` is `pybuild build TEMPLATE`
    assert r.returncode == 0
    assert r.stdout.startswith("\033[1;32mnull: output will be in this color.\033[0m\n\n")
    r = cli("t.json", env={"NO_COLOR": "1"})
    assert "\033[" not in r.stdout


def test_machine_readable_masks_secrets_and_lists_artifacts(template, cli) -> None:
    template(
        {
            "variables": {"pw": "hunter2"},
            "sensitive-variables": ["pw"],
            "builders": [NULL],
            "provisioners": [{"type": "shell-local", "inline": ["echo a,b {{user `pw`}}"]}],
        }
    )
    r = cli("build", "-machine-readable", "t.json")
    assert r.returncode == 0
    assert "hunter2" not in r.stdout
    rows = [line.split(",", 3) for line in r.stdout.splitlines()]
    assert all(row[0].isdigit() for row in rows)
    assert ["ui", "message", "    null: a%!(PACKER_COMMA)b <sensitive>"] in [
        row[1:] and row[2:] and [row[2], *row[3].split(",", 1)] for row in rows if row[2] == "ui"
    ]
    assert any(row[1:3] == ["null", "artifact-count"] and row[3] == "1" for row in rows)
    assert any(
        row[1:3] == ["null", "artifact"] and row[3] == "0,builder-id,fnoeding.null" for row in rows
    )


def test_timestamp_ui_prefixes_lines(template, cli) -> None:
    template({"builders": [NULL], "provisioners": [{"type": "shell-local", "inline": ["echo hi"]}]})
    r = cli("build", "-color=false", "-timestamp-ui", "t.json")
    assert re.search(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d): ==> null: Running local", r.stdout, re.M
    )


def test_failed_build_exit_code_and_summary(template, cli) -> None:
    template(
        {
            "builders": [NULL, {**NULL, "name": "bad"}],
            "provisioners": [
                {"type": "shell-local", "inline": ["echo before", "exit 3"], "only": ["bad"]}
            ],
        }
    )
    r = cli("build", "-color=false", "t.json")
    assert r.returncode == 1
    assert "Build 'bad' errored after" in r.stdout
    assert "==> Some builds didn't complete successfully and had errors:" in r.stdout
    assert "--> bad: Script exited with non-zero exit status: 3" in r.stdout
    assert "--> null: Did not export anything" in r.stdout


def test_only_matching_nothing_is_success_without_artifacts(template, cli) -> None:
    template({"builders": [NULL]})
    r = cli("build", "-color=false", "-only=nothing*", "t.json")
    assert r.returncode == 0
    assert "==> Builds finished but no artifacts were created." in r.stdout


def test_validate_reports_all_errors_with_locations(template, cli) -> None:
    template(
        '{\n  "builders": [\n    {"type": "null", "communicator": "none",\n     "bogus": 1},\n'
        '    {"type": "nul"}\n  ],\n  "provisioners": [{"type": "shell-local"}]\n}\n'
    )
    r = cli("validate", "t.json")
    assert r.returncode == 1
    assert "Traceback" not in r.stdout + r.stderr
    assert "builders[1].type: unknown builder type 'nul'" in r.stdout
    assert "did you mean 'null'? (t.json:5)" in r.stdout


def test_validate_unknown_option_names_path_and_line(template, cli) -> None:
    template(
        '{\n  "builders": [\n    {"type": "null", "communicator": "none",\n     "comunicator": 1}\n  ]\n}\n'
    )
    r = cli("validate", "t.json")
    assert r.returncode == 1
    assert (
        "builders[0].comunicator: unknown option 'comunicator'; did you mean 'communicator'? "
        "(t.json:4)"
    ) in r.stdout


def test_validate_ok_and_syntax_only(template, cli) -> None:
    template({"builders": [NULL]})
    assert cli("validate", "t.json").returncode == 0
    r = cli("validate", "-syntax-only", "t.json")
    assert r.returncode == 0 and "Syntax-only check passed. Everything looks okay." in r.stdout


def test_required_variable_and_bad_var_flag(template, cli) -> None:
    template({"variables": {"req": None}, "builders": [NULL]})
    r = cli("validate", "t.json")
    assert r.returncode == 1 and "required variable not set: req" in r.stdout
    assert cli("validate", "-var", "req=1", "t.json").returncode == 0
    r = cli("validate", "-var", "novalue", "t.json")
    assert r.returncode == 1 and "invalid value 'novalue' for flag -var" in r.stdout
    r = cli("validate", "-var-file=missing.json", "t.json")
    assert r.returncode == 1 and "variable file not found: missing.json" in r.stdout


def test_malformed_json_has_line_and_column(template, cli) -> None:
    template('{\n  "builders": [\n    {"type": "null",}\n  ]\n}\n')
    r = cli("validate", "t.json")
    assert r.returncode == 1
    assert "At line 3, column 21" in r.stdout and "Traceback" not in r.stdout + r.stderr


def test_inspect_matches_packer_layout(template, cli) -> None:
    template(
        {
            "description": "demo",
            "variables": {"a": "b", "req": None, "pw": "x"},
            "sensitive-variables": ["pw"],
            "builders": [NULL, {**NULL, "name": "second"}],
            "provisioners": [{"type": "shell-local", "inline": ["true"]}],
        }
    )
    r = cli("inspect", "t.json")
    assert r.returncode == 0
    assert (
        "Description:\n\ndemo\n\nRequired variables:\n\n  req\n\n"
        "Optional variables and their defaults:\n\n  a   = b\n  pw  = <sensitive>\n"
    ) in r.stdout
    assert "Builders:\n\n  null  \n  second (null)\n\nProvisioners:\n\n  shell-local\n" in r.stdout
    m = cli("inspect", "-machine-readable", "t.json").stdout
    assert re.search(r"^\d+,,template-builder,second,null$", m, re.M)


def test_version_and_help_and_unknown_command(cli) -> None:
    r = cli("version")
    assert r.returncode == 0 and "implements Packer v1.6.6" in r.stdout
    assert re.search(
        r"^\d+,,packer-version,1\.6\.6$", cli("-machine-readable", "version").stdout, re.M
    )
    assert cli("--help").returncode == 0
    assert cli().returncode == 127
    assert cli("frobnicate").returncode == 127
    r = cli("build", "-h")
    assert r.returncode == 0 and "-parallel-builds" in r.stdout
    r = cli("build", "-nope", "t.json")
    assert r.returncode == 1 and "flag provided but not defined: -nope" in r.stdout


def test_on_error_flag_validated(template, cli) -> None:
    template({"builders": [NULL]})
    r = cli("build", "-on-error=explode", "t.json")
    assert r.returncode == 1 and "expected one of" in r.stdout


def test_interrupt_cancels_cleans_up_and_exits_non_zero(tmp_path: Path, template) -> None:
    marker = tmp_path / "child.pid"
    template(
        {
            "builders": [NULL],
            "provisioners": [
                {
                    "type": "shell-local",
                    "inline": [f"echo $$ > {marker}", "echo started", "sleep 60"],
                }
            ],
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "builder", "build", "-color=false", "t.json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not marker.exists() or not marker.read_text().strip():
        assert time.monotonic() < deadline, "the build never started its script"
        time.sleep(0.05)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    assert time.monotonic() - sent < 3
    assert proc.returncode == 1
    assert "Cancelling build after receiving interrupt" in out
    assert "Cleanly cancelled builds after being interrupted." in out
    child = int(marker.read_text())
    time.sleep(0.2)
    assert (
        not Path(f"/proc/{child}").exists()
        or "zombie" in Path(f"/proc/{child}/status").read_text().lower()
    )


def test_no_traceback_without_pybuild_log(template, cli) -> None:
    template("[1, 2]")
    r = cli("build", "t.json")
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr
    assert "a template must be a JSON object" in r.stdout


def test_debug_log_to_file_masks_secrets(template, cli, tmp_path: Path) -> None:
    template(
        {
            "variables": {"pw": "hunter2"},
            "sensitive-variables": ["pw"],
            "builders": [NULL],
            "provisioners": [{"type": "shell-local", "inline": ["echo {{user `pw`}}"]}],
        }
    )
    log = tmp_path / "debug.log"
    r = cli(
        "build", "-color=false", "t.json", env={"PYBUILD_LOG": "1", "PYBUILD_LOG_PATH": str(log)}
    )
    assert r.returncode == 0
    text = log.read_text()
    assert "<sensitive>" in text and "hunter2" not in text


def test_python_m_builder_and_manifest_written(template, cli, tmp_path: Path) -> None:
    template(
        {"builders": [NULL], "post-processors": [{"type": "manifest", "output": "out/m.json"}]}
    )
    r = cli("build", "t.json")
    assert r.returncode == 0, r.stdout
    data = json.loads((tmp_path / "out/m.json").read_text())
    [entry] = data["builds"]
    assert entry["name"] == "null" and entry["artifact_id"] == "Null" and entry["files"] is None
    assert data["last_run_uuid"] == entry["packer_run_uuid"]


def test_validate_checks_syntax_of_fields_rendered_at_run_time(template, cli) -> None:
    template(
        '{\n  "builders": [{"type": "null", "communicator": "none"}],\n'
        '  "provisioners": [\n    {"type": "shell-local",\n'
        '     "inline": ["echo {{nosuchfunc}}"]}\n  ]\n}\n'
    )
    r = cli("validate", "t.json")
    assert r.returncode == 1
    assert (
        'provisioners[0].inline[0]: template: root:1: function "nosuchfunc" not defined' in r.stdout
    )
    assert "(t.json:5)" in r.stdout


def test_reader_going_away_does_not_break_the_build(template, tmp_path: Path) -> None:
    """`pybuild build t.json | head -1`: no traceback, the build still finishes its work."""
    done = tmp_path / "done"
    template(
        {
            "builders": [NULL],
            "provisioners": [
                {"type": "shell-local", "inline": ["for i in $(seq 200); do echo line $i; done"]},
                {"type": "shell-local", "inline": [f"touch {done}"]},
            ],
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "builder", "build", "-color=false", "t.json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    assert done.exists()


def test_stdin_template_errors_name_stdin(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "builder", "validate", "-"],
        input='{\n "builders": [{"type": "null", "communicator": "none", "x": 1}]\n}',
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 1
    assert "builders[0].x: unknown option 'x' (<stdin>:2)" in r.stdout


def test_sensitive_values_never_reach_the_manifest(template, cli, tmp_path: Path) -> None:
    template(
        {
            "variables": {"token": "s3cr3t-token"},
            "sensitive-variables": ["token"],
            "builders": [NULL],
            "post-processors": [
                {
                    "type": "manifest",
                    "output": "m.json",
                    "custom_data": {"auth": "{{user `token`}}"},
                }
            ],
        }
    )
    assert cli("build", "t.json").returncode == 0
    text = (tmp_path / "m.json").read_text()
    assert "s3cr3t-token" not in text
    assert json.loads(text)["builds"][0]["custom_data"] == {"auth": "<sensitive>"}


SECRET_IN_ERROR = {
    "variables": {"secret": "hunter2secret"},
    "sensitive-variables": ["secret"],
    "builders": [NULL],
    "provisioners": [{"type": "shell-local", "inline": ["true"], "only_on": ["{{user `secret`}}"]}],
}


def test_validate_masks_secrets_in_errors(template, cli) -> None:
    template(SECRET_IN_ERROR)
    r = cli("validate", "t.json")
    assert r.returncode == 1
    assert "only_on" in r.stdout and "<sensitive>" in r.stdout
    assert "hunter2secret" not in r.stdout + r.stderr


def test_template_wide_error_masks_secrets_in_output_and_debug_log(
    template, cli, tmp_path: Path
) -> None:
    data = {**SECRET_IN_ERROR}
    data["provisioners"] = [{**data["provisioners"][0], "except": ["nosuch"]}]
    template(data)
    log = tmp_path / "debug.log"
    r = cli("build", "t.json", env={"PYBUILD_LOG": "1", "PYBUILD_LOG_PATH": str(log)})
    assert r.returncode == 1
    assert "'except' specified builder 'nosuch' not found" in r.stdout
    assert "hunter2secret" not in r.stdout + r.stderr + log.read_text()


def test_builders_rendering_to_the_same_name_are_an_error(template, cli) -> None:
    template(
        {
            "variables": {"x": "a"},
            "builders": [{**NULL, "name": "a"}, {**NULL, "name": "{{user `x`}}"}],
        }
    )
    r = cli("validate", "t.json")
    assert r.returncode == 1
    assert (
        "builders[1].name: builder name renders to 'a', already the name of builders[0]" in r.stdout
    )
