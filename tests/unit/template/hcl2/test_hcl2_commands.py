"""inspect, console, warnings and error locations of HCL2 templates, as Packer shows them."""

from __future__ import annotations

from pathlib import Path

from builder.errors import Location, TemplateError
from tests.conftest import run_cli

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[3] / "examples"
SOURCE = (
    'source "null" "n" {\n  communicator = "none"\n}\nbuild {\n  sources = ["source.null.n"]\n}\n'
)


def test_inspect_prints_what_packer_1_6_6_prints() -> None:
    done = run_cli("inspect", str(EXAMPLES / "docker" / "template.pkr.hcl"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == (HERE / "golden" / "docker.packer-1.6.6-inspect.txt").read_text()


def test_inspect_shows_locals_and_masks_sensitive_values(tmp_path: Path) -> None:
    path = tmp_path / "t.pkr.hcl"
    path.write_text(
        'variable "token" {\n  default   = "s3cret-value"\n  sensitive = true\n}\n'
        'variable "n" {\n  default = 2\n}\n'
        'locals {\n  l = [var.n, "x"]\n  t = var.token\n}\n'
        'build {\n  name = "b"\n  sources = ["source.null.n"]\n'
        '  post-processor "manifest" {\n    name = "m"\n  }\n}\n'
        + SOURCE.replace("build {\n  sources", 'build {\n  name = "c"\n  sources')
    )
    done = run_cli("inspect", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "s3cret-value" not in done.stdout
    assert 'var.n: "2"\nvar.token: "<sensitive>"\n' in done.stdout
    assert 'local.l: "[\\n  2,\\n  \\"x\\",\\n]"\nlocal.t: "<sensitive>"\n' in done.stdout
    assert "  > b:\n\n    sources:\n\n      null.n\n" in done.stdout
    assert "      0:\n        manifest.m\n" in done.stdout
    assert "  > c:\n" in done.stdout and "<no post-processor>" in done.stdout


def test_inspect_of_a_template_that_does_not_evaluate_shows_its_structure(tmp_path: Path) -> None:
    path = tmp_path / "t.pkr.hcl"
    path.write_text('variable "need" {\n  type = string\n}\n' + SOURCE)
    done = run_cli("inspect", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "> builds:\n\n  > <unnamed build 0>:\n\n    sources:\n\n      null.n\n" in done.stdout


def test_console_evaluates_lines_with_the_templates_names(tmp_path: Path) -> None:
    path = tmp_path / "t.pkr.hcl"
    path.write_text(
        'variable "v" {\n  default = "abc"\n}\nvariable "s" {\n  default   = "hush-hush"\n'
        "  sensitive = true\n}\nlocals {\n  up = upper(var.v)\n}\n" + SOURCE
    )
    done = run_cli("console", str(path), input="local.up\n{a = [1, 2.5, true, null]}\n")
    assert (done.returncode, done.stdout) == (
        0,
        '{\n  "a" = [\n    1,\n    2.5,\n    true,\n    null,\n  ]\n}\n',
    )
    done = run_cli("console", "-var", "v=given", str(path), input="var.v\n")
    assert done.stdout == "given\n"
    done = run_cli("console", str(path), input="variables\n")
    assert 'var.s: "<sensitive>"\nvar.v: "abc"\n' in done.stdout and "hush-hush" not in done.stdout
    done = run_cli("console", str(path), input="nope\nvar.s\n")
    assert done.returncode == 1
    assert 'Error: Unknown variable: There is no variable named "nope".' in done.stdout
    assert done.stdout.endswith("<sensitive>\n")
    done = run_cli("console", input='join("-", ["a", "b"])\n')
    assert (done.returncode, done.stdout) == (0, "a-b\n")


def test_undeclared_variables_in_a_var_file_are_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "t.pkr.hcl"
    path.write_text(SOURCE)
    var_file = tmp_path / "x.pkrvars.hcl"
    var_file.write_text('stray = "1"\n')
    done = run_cli("validate", "-var-file", str(var_file), str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith('Warning: Undefined variable: a "stray" variable was set in')
    assert done.stdout.endswith("The configuration is valid.\n")


def test_hcl2_locations_carry_the_column_json_ones_do_not() -> None:
    assert TemplateError("m", Location("t.pkr.hcl", "a", 3, 7)).render() == "a: m (t.pkr.hcl:3:7)"
    assert (
        TemplateError("m", Location("v.pkrvars.hcl", "", 1, 1)).render() == "m (v.pkrvars.hcl:1:1)"
    )
    assert TemplateError("m", Location("t.json", "a", 3, 7)).render() == "a: m (t.json:3)"
    assert TemplateError("m", Location("t.pkr.hcl", "a", 3)).render() == "a: m (t.pkr.hcl:3)"
