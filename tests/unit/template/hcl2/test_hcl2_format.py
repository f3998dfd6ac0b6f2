"""`pybuild fmt`: hclwrite's canonical layout, checked against Packer 1.6.6's own output."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import TemplateError
from builder.template.hcl2.format import format_files, format_source, lex
from tests.conftest import run_cli

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
ROOT = HERE.parents[3]
CANONICAL = [*sorted(ROOT.glob("examples/*/*.pkr.hcl")), GOLDEN / "messy.packer-1.6.6-fmt.pkr.hcl"]
TEMPLATES = [*CANONICAL, *sorted((HERE / "corpus").glob("*.pkr.hcl"))]


def test_a_messy_file_formats_as_packer_1_6_6_formats_it() -> None:
    # golden: `packer fmt` (1.6.6) of messy.pkr.hcl: indentation, spacing in expressions and
    # interpolations, aligned `=` and trailing comments, heredoc bodies left alone
    messy = (GOLDEN / "messy.pkr.hcl").read_text()
    want = (GOLDEN / "messy.packer-1.6.6-fmt.pkr.hcl").read_text()
    assert format_source(messy) == want
    assert format_source(want) == want


@pytest.mark.parametrize("path", CANONICAL, ids=lambda p: p.name)
def test_the_examples_and_the_corpus_are_canonical(path: Path) -> None:
    text = path.read_text()
    assert format_source(text) == text


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_indentation_and_spacing_are_restored(path: Path) -> None:
    # (checked against `packer fmt` of these same disturbed files when this was written)
    text = format_source(path.read_text())
    if "<<" in text:  # a heredoc's lines are its value: only the rest can be disturbed
        pytest.skip("heredoc")
    squashed = "\n".join(line.lstrip() for line in text.splitlines()) + "\n"
    widened = text.replace(" = ", "   =\t ")
    assert format_source(squashed) == text
    assert format_source(widened) == text


@pytest.mark.parametrize(
    ("src", "want"),
    [
        ('a = "${ var.x }"\n', 'a = "${var.x}"\n'),
        ("a = [1,2 , 3]\n", "a = [1, 2, 3]\n"),
        ("a = -1\nb = 1 - -2\n", "a = -1\nb = 1 - -2\n"),
        ("a = {x=1}\n", "a = { x = 1 }\n"),
        ("a = f( b , c... )\n", "a = f(b, c...)\n"),
        ("a = [for x in [1]: x]\n", "a = [for x in [1] : x]\n"),
        ("b {}\nc { }\n", "b {}\nc {}\n"),
        ('a = "$${x} %%{y}"\n', 'a = "$${x} %%{y}"\n'),
        ("x=1\r\nyy=2\r\n", "x  = 1\r\nyy = 2\r\n"),
        ("a = 1 # one\nbbb = 22 # two\n", "a   = 1  # one\nbbb = 22 # two\n"),
        ("a = <<EOT\n  x ${ y }\n  EOT\n", "a = <<EOT\n  x ${y}\n  EOT\n"),
    ],
)
def test_rules(src: str, want: str) -> None:
    assert format_source(src) == want


def test_the_lexer_keeps_every_byte() -> None:
    for path in TEMPLATES:
        text = path.read_text()
        assert "".join(" " * t.spaces + t.text for t in lex(text)) == text


def test_format_files_reports_rewrites_and_refuses_what_does_not_parse(tmp_path: Path) -> None:
    (tmp_path / "a.pkr.hcl").write_text("x=1\n")
    (tmp_path / "b.pkr.hcl").write_text("y = 2\n")
    (tmp_path / "v.pkrvars.hcl").write_text("z   = 3\n")
    (tmp_path / "t.json").write_text("{}")
    changed = format_files(str(tmp_path), write=False)
    assert [Path(c.path).name for c in changed] == ["a.pkr.hcl", "v.pkrvars.hcl"]
    assert (tmp_path / "a.pkr.hcl").read_text() == "x=1\n"
    assert changed[0].diff().startswith(f"--- old/{tmp_path}/a.pkr.hcl\n+++ new/")
    format_files(str(tmp_path), write=True)
    assert (tmp_path / "a.pkr.hcl").read_text() == "x = 1\n"
    assert format_files(str(tmp_path), write=True) == []
    (tmp_path / "bad.pkr.hcl").write_text("x = [1,\n")
    with pytest.raises(TemplateError, match=r"bad\.pkr\.hcl:2"):
        format_files(str(tmp_path), write=True)
    with pytest.raises(TemplateError, match="Cannot tell whether"):
        format_files(str(tmp_path / "t.json"), write=True)


def test_fmt_command_check_diff_and_write(tmp_path: Path) -> None:
    path = tmp_path / "t.pkr.hcl"
    path.write_text("x=1\n")
    done = run_cli("fmt", "-check", str(path))
    assert (done.returncode, done.stdout) == (3, f"{path}\n")
    assert path.read_text() == "x=1\n"
    done = run_cli("fmt", "-write=false", "-diff", str(path))
    assert done.returncode == 0 and "-x=1\n+x = 1\n" in done.stdout
    assert path.read_text() == "x=1\n"
    done = run_cli("fmt", str(tmp_path))
    assert (done.returncode, done.stdout, path.read_text()) == (0, f"{path}\n", "x = 1\n")
    assert run_cli("fmt", "-check", str(path)).returncode == 0
    path.write_text("x = [\n")
    done = run_cli("fmt", str(path))
    assert done.returncode == 1 and "Invalid HCL syntax" in done.stdout
