"""Packer's HCL2 language: precedence of variable values, errors with their locations,
the packer block, directories, and what the engine makes of it all."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.engine import RunOptions, load_template, prepare
from builder.errors import ConfigErrors, TemplateError
from builder.template.hcl2 import load, read

SOURCE = 'source "null" "n" {\n  communicator = "none"\n}\n'
ECHO = 'build {\n  sources = ["source.null.n"]\n  provisioner "shell-local" {\n    inline = [var.v]\n  }\n}\n'


def write(directory: Path, text: str, name: str = "t.pkr.hcl") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def errors_of(path: Path, **kw: object) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load(str(path), **kw)  # type: ignore[arg-type]
    return [e.render() for e in caught.value.errors]


def inline(t: object) -> list[str]:
    return t.provisioners[0].config["inline"]  # type: ignore[attr-defined,no-any-return]


# --------------------------------------------------------------------------- precedence
def test_variable_precedence_default_env_auto_file_var(tmp_path: Path) -> None:
    path = write(tmp_path, 'variable "v" {\n  default = "default"\n}\n' + SOURCE + ECHO)
    assert inline(load(str(path), environ={})) == ["default"]
    assert inline(load(str(path), environ={"PKR_VAR_v": "env"})) == ["env"]
    write(tmp_path, 'v = "auto"\n', "a.auto.pkrvars.hcl")
    assert inline(load(str(path), environ={"PKR_VAR_v": "env"})) == ["auto"]
    vf = write(tmp_path, 'v = "file"\n', "x.pkrvars.hcl")
    assert inline(load(str(path), var_files=[str(vf)], environ={})) == ["file"]
    both = load(str(path), {"v": "cli"}, [str(vf)], environ={"PKR_VAR_v": "env"})
    assert inline(both) == ["cli"]


def test_json_var_files_and_typed_cli_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'variable "v" {\n  type = list(string)\n}\nvariable "n" {\n  type = number\n}\n'
        + SOURCE
        + 'build {\n  sources = ["source.null.n"]\n  provisioner "shell-local" {\n'
        "    inline = concat(var.v, [tostring(var.n + 1)])\n  }\n}\n",
    )
    vf = tmp_path / "v.json"
    vf.write_text('{"v": ["a", 1]}')
    assert inline(load(str(path), {"n": "41"}, [str(vf)], environ={})) == ["a", "1", "42"]
    assert inline(load(str(path), {"v": '["x"]', "n": "1"}, environ={})) == ["x", "2"]


def test_unset_and_undeclared_variables(tmp_path: Path) -> None:
    path = write(tmp_path, 'variable "v" {\n  type = string\n}\n' + SOURCE + ECHO)
    (msg,) = errors_of(path, environ={})
    assert msg.startswith('var.v: Unset variable "v"') and msg.endswith(f"({path}:1:1)")
    (msg,) = errors_of(path, variables={"v": "x", "nope": "1"}, environ={})
    assert "Undefined -var variable" in msg and '"nope"' in msg
    vf = write(tmp_path, 'v = "x"\nother = 1\n', "v.pkrvars.hcl")
    t = load(str(path), var_files=[str(vf)], environ={})
    assert any('"other" variable was set' in w for w in t.warnings)


def test_type_constraints_and_validation_rules(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'variable "v" {\n  type = number\n  default = 1\n  validation {\n'
        '    condition = var.v > 0\n    error_message = "The value must be positive."\n  }\n}\n'
        + SOURCE
        + ECHO,
    )
    (msg,) = errors_of(path, variables={"v": "abc"}, environ={})
    assert "not compatible with the variable's type constraint: a number is required" in msg
    (msg,) = errors_of(path, variables={"v": "-1"}, environ={})
    assert "Invalid value for cmd variable: The value must be positive." in msg
    assert f"checked by the validation rule at {path}:4,3" in msg


def test_sensitive_values_are_masked_everywhere(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'variable "v" {\n  default = "hunter2"\n  sensitive = true\n}\n'
        'local "k" {\n  expression = "key-${var.v}"\n  sensitive = true\n}\n' + SOURCE + ECHO,
    )
    loaded = load_template(str(path))
    assert loaded.redactor("pw hunter2 key-hunter2") == "pw <sensitive> <sensitive>"
    assert read(str(path)).sensitive_variables == ["v"]


# --------------------------------------------------------------------------- errors
def test_locals_cycle_is_reported_with_its_chain(tmp_path: Path) -> None:
    path = write(tmp_path, "locals {\n  a = local.b\n  b = local.c\n  c = local.a\n}\n" + SOURCE)
    msgs = errors_of(path)
    assert any(
        "Cycle in local values and data sources: local.a -> local.b -> local.c -> local.a" in m
        for m in msgs
    )


def test_every_error_of_a_template_together_with_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'source "docker" "app" {\n  image = "x"\n  comit = true\n}\n'
        'source "nope" "x" {\n}\n'
        'build {\n  sources = ["source.docker.app", "source.docker.missing"]\n'
        '  provisioner "shell" {\n    inline = [upper(1, 2)]\n  }\n}\n',
    )
    msgs = errors_of(path)
    assert any(m.startswith("source.nope.x: Unknown source type nope") for m in msgs)
    assert any("Unknown source source.docker.missing" in m and f"({path}:8:35)" in m for m in msgs)
    assert any(
        'Function "upper" expects 1 argument(s), got 2.' in m and f"({path}:10:15)" in m
        for m in msgs
    )
    # the plugin's own check runs in the engine, with the HCL2 location
    path.write_text('source "docker" "app" {\n  image = "x"\n  comit = true\n}\n'
                    'build {\n  sources = ["source.docker.app"]\n}\n')  # fmt: skip
    prepared = prepare(load_template(str(path)), RunOptions(record_resources=False))
    (err,) = prepared.errors["docker.app"].errors
    assert err.render() == (
        f"source.docker.app.comit: unknown option 'comit'; did you mean 'commit'? ({path}:3:3)"
    )
    assert (err.location.line, err.location.column) == (3, 3)


def test_syntax_errors_and_redefined_attributes(tmp_path: Path) -> None:
    path = write(tmp_path, "locals {\n  a = [1,\n}\n")
    (msg,) = errors_of(path)
    assert msg.startswith("Invalid HCL syntax: unexpected") and f"({path}:3:1)" in msg
    path = write(tmp_path, "locals {\n  a = 1\n  a = 2\n}\n")
    (msg,) = errors_of(path)
    assert 'the argument "a" was already set' in msg and f"({path}:3:3)" in msg


def test_unsupported_blocks_and_arguments(tmp_path: Path) -> None:
    path = write(tmp_path, 'sourc "null" "n" {\n}\nbuild {\n  sourcez = []\n}\n')
    msgs = errors_of(path)
    assert any(
        'blocks of type "sourc" are not expected here' in m and "did you mean 'source'" in m
        for m in msgs
    )
    assert any('an argument named "sourcez" is not expected here' in m for m in msgs)


def test_build_outside_provisioners_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'source "null" "n" {\n  communicator = build.ID\n}\n'
        'build {\n  sources = ["source.null.n"]\n}\n',
    )
    (msg,) = errors_of(path)
    assert "build.* is only available in provisioner and post-processor blocks" in msg


def test_networked_functions_say_they_are_not_supported(tmp_path: Path) -> None:
    path = write(tmp_path, 'locals {\n  s = vault("/secret/x", "k")\n}\n' + SOURCE)
    (msg,) = errors_of(path)
    assert "vault reads a remote secret store, which pybuild does not support" in msg


# --------------------------------------------------------------------------- packer {}
def test_required_version_and_plugins(tmp_path: Path) -> None:
    ok = write(tmp_path, 'packer {\n  required_version = ">= 1.6.0, < 2.0.0"\n}\n' + SOURCE)
    load(str(ok))
    path = write(tmp_path, 'packer {\n  required_version = "~> 1.9.1"\n}\n' + SOURCE)
    (msg,) = errors_of(path)
    assert "this template requires Packer ~> 1.9.1" in msg
    path = write(
        tmp_path,
        "packer {\n  required_plugins {\n"
        '    amazon = { version = ">= 1.0", source = "github.com/hashicorp/amazon" }\n'
        '    ansible = { version = ">= 1.0", source = "github.com/hashicorp/ansible" }\n'
        "  }\n}\n" + SOURCE,
    )
    (msg,) = errors_of(path)
    assert "required plugin 'ansible' (github.com/hashicorp/ansible) is not installed" in msg


# --------------------------------------------------------------------------- files
def test_a_directory_is_every_pkr_hcl_in_it(tmp_path: Path) -> None:
    write(
        tmp_path, 'variable "v" {\n  default = "from variables.pkr.hcl"\n}\n', "variables.pkr.hcl"
    )
    write(tmp_path, SOURCE, "sources.pkr.hcl")
    write(tmp_path, ECHO, "build.pkr.hcl")
    write(tmp_path, "not read", "notes.txt")
    t = load(str(tmp_path))
    assert inline(t) == ["from variables.pkr.hcl"]
    assert [b.name for b in t.builders] == ["null.n"]
    assert t.path == str(tmp_path / "build.pkr.hcl")


def test_read_gives_the_structure_without_values(tmp_path: Path) -> None:
    path = write(tmp_path, 'variable "v" {\n  type = string\n}\n' + SOURCE + ECHO)
    t = read(str(path))
    assert t.variables["v"].required
    assert [(b.name, b.type, b.config) for b in t.builders] == [("null.n", "null", {})]
    assert [p.type for p in t.provisioners] == ["shell-local"]


def test_missing_template_and_json_syntax(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="template file not found"):
        load(str(tmp_path / "none.pkr.hcl"))
    write(tmp_path, "{}", "t.pkr.json")  # JSON syntax is read (test_hcl2_json_syntax.py)
    assert load(str(tmp_path)).builders == []


def test_build_values_are_deferred_as_the_json_build_function(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        SOURCE + 'build {\n  name = "b"\n  sources = ["source.null.n"]\n'
        '  provisioner "shell-local" {\n    inline = ["${build.name} ${build.ID} ${build.PackerHTTPAddr}"]\n'
        "  }\n}\n",
    )
    assert inline(load(str(path))) == ["b {{ build `ID` }} {{ build `PackerHTTPAddr` }}"]
    prepared = prepare(load_template(str(path)), RunOptions(record_resources=False))
    (build,) = prepared.builds
    assert build.name == "b.null.n"
    plugin = build.provisioners[0].plugin
    rendered = plugin.options.render_text(
        plugin.config.inline[0], build_data={"ID": "Null", "PackerHTTPAddr": "1.2.3.4:8000"}
    )
    assert rendered == "b Null 1.2.3.4:8000"


def test_parsed_files_are_cached_by_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder.template.hcl2 import syntax

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = 'locals {\n  a = "x"\n}\n'
    first = syntax.parse_file(text, "c.pkr.hcl")
    (entry,) = (tmp_path / "cache" / "pybuild" / "hcl2").iterdir()
    monkeypatch.setattr(syntax, "_parse", lambda *a: pytest.fail("parsed again"))
    assert syntax.parse_file(text, "c.pkr.hcl") == first
    entry.write_bytes(b"not a pickle")  # a broken entry is parsed again, not an error
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert syntax.parse_file(text, "c.pkr.hcl") == first
