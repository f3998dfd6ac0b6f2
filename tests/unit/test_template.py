"""Template parsing: every section checked, every error with file, JSON path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import ConfigErrors, TemplateError
from builder.template.template import parse_template, read_template


def errors_of(text: str) -> list[str]:
    with pytest.raises(TemplateError) as info:
        parse_template(text, "t.json")
    exc = info.value
    return [e.render() for e in exc.errors] if isinstance(exc, ConfigErrors) else [exc.render()]


def test_minimal_template() -> None:
    t = parse_template('{"builders": [{"type": "null", "communicator": "none"}]}', "t.json")
    [b] = t.builders
    assert (b.name, b.type, b.config) == ("null", "null", {"communicator": "none"})


def test_malformed_json_names_line_and_column() -> None:
    [msg] = errors_of('{\n  "builders": [\n    {"type": "null",}\n  ]\n}')
    assert "Error parsing JSON" in msg and "At line 3, column 21" in msg and "(t.json:3)" in msg


def test_duplicate_key_anywhere_is_an_error_with_its_line() -> None:
    [msg] = errors_of('{"builders": [\n {"type": "null",\n  "type": "docker"}]}')
    assert msg == "builders[0].type: template has duplicate field: type (t.json:3)"


def test_unknown_root_keys_all_reported_with_suggestion() -> None:
    msgs = errors_of('{"builders": [{"type": "null"}],\n "provisioner": [],\n "bogus": 1}')
    assert (
        "provisioner: unknown root level key 'provisioner'; did you mean 'provisioners'? (t.json:2)"
        in msgs
    )
    assert any(m.startswith("bogus: unknown root level key 'bogus'") for m in msgs)


def test_underscore_comments_allowed_at_root_only_as_strings() -> None:
    parse_template('{"_comment": "hi", "builders": [{"type": "null"}]}', "t.json")
    [msg] = errors_of('{"_comment": 5, "builders": [{"type": "null"}]}')
    assert "_comment: comment keys" in msg


def test_builder_type_required_and_names_unique() -> None:
    msgs = errors_of(
        '{"builders": [\n{"communicator": "none"},\n{"type": "null"},\n{"type": "null"}]}'
    )
    assert "builders[0]: missing 'type' (t.json:2)" in msgs
    assert any(
        m.startswith("builders[2].name: builder with name 'null' already exists") for m in msgs
    )


def test_variables_must_be_strings_or_null() -> None:
    [msg] = errors_of('{"variables": {"n": 5}, "builders": [{"type": "null"}]}')
    assert msg.startswith("variables.n: variable 'n': expected a string or null, got int 5")


def test_post_processor_forms() -> None:
    t = parse_template(
        """{"builders": [{"type": "null"}],
      "post-processors": ["manifest", {"type": "checksum", "name": "sums", "keep_input_artifact": true},
                          ["compress", {"type": "manifest", "only": ["null"]}]]}""",
        "t.json",
    )
    chains = [[(p.type, p.name, p.label) for p in chain] for chain in t.post_processors]
    assert chains == [
        [("manifest", "manifest", "1.1")],
        [("checksum", "sums", "2.1")],
        [("compress", "compress", "3.1"), ("manifest", "manifest", "3.2")],
    ]
    assert t.post_processors[1][0].keep_input_artifact is True
    assert t.post_processors[2][1].only == ["null"]


def test_nested_post_processor_chain_is_an_error() -> None:
    [msg] = errors_of('{"builders": [{"type": "null"}], "post-processors": [["a", ["b"]]]}')
    assert "post-processors[0][1]: a chain may not be nested in a chain" in msg


def test_provisioner_generic_keys() -> None:
    t = parse_template(
        """{"builders": [{"type": "null"}], "provisioners": [
      {"type": "shell-local", "inline": ["x"], "pause_before": "1m30s", "timeout": "500ms",
       "max_retries": "3", "only": ["null"], "override": {"null": {"inline": ["y"]}}}]}""",
        "t.json",
    )
    [p] = t.provisioners
    assert (p.pause_before, p.timeout, p.max_retries, p.only) == (90.0, 0.5, "3", ["null"])
    assert p.config == {"inline": ["x"]} and p.override == {"null": {"inline": ["y"]}}


def test_provisioner_errors_collected_together() -> None:
    msgs = errors_of("""{"builders": [{"type": "null"}], "provisioners": [
      {"type": "shell-local", "pause_before": "5", "only": ["a"], "except": ["b"]},
      {"inline": []}]}""")
    assert len(msgs) == 3
    assert any(
        'pause_before: expected a duration like "1m30s"' in m and "missing unit" in m for m in msgs
    )
    assert any("only one of 'only' or 'except' may be specified" in m for m in msgs)
    assert any(m.startswith("provisioners[1]: missing 'type'") for m in msgs)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="template file not found: .*nope.json"):
        read_template(str(tmp_path / "nope.json"))


def test_null_sections_are_absent_as_in_packer() -> None:
    t = parse_template(
        """{"builders": [{"type": "null"}], "post-processors": null, "provisioners": null,
          "variables": null, "sensitive-variables": null, "description": null,
          "min_packer_version": null, "error-cleanup-provisioner": null, "push": null}""",
        "t.json",
    )
    assert (t.post_processors, t.provisioners, t.variables, t.sensitive_variables) == (
        [],
        [],
        {},
        [],
    )
    assert (t.description, t.min_packer_version, t.error_cleanup_provisioner) == ("", "", None)


def test_null_generic_keys_are_absent_as_in_packer() -> None:
    t = parse_template(
        """{"builders": [{"type": "null", "name": null}],
      "provisioners": [{"type": "shell-local", "only": null, "except": null, "timeout": null,
                        "pause_before": null, "max_retries": null, "override": {"null": null}}],
      "post-processors": [{"type": "manifest", "name": null, "only": null, "except": null,
                           "keep_input_artifact": null}]}""",
        "t.json",
    )
    assert t.builders[0].name == "null" and t.builders[0].config == {}
    [p] = t.provisioners
    assert (p.only, p.except_, p.timeout, p.pause_before, p.max_retries) == ([], [], 0, 0, 0)
    assert p.override == {"null": {}} and p.config == {}
    [[pp]] = t.post_processors
    assert (pp.name, pp.only, pp.except_, pp.keep_input_artifact) == ("manifest", [], [], None)


def test_null_type_and_comment_are_still_errors() -> None:
    msgs = errors_of(
        '{"_c": null, "builders": [{"type": null}], "provisioners": [{"type": null}],'
        ' "post-processors": [{"type": null}]}'
    )
    assert sorted(m.split(":")[0] for m in msgs) == [
        "_c",
        "builders[0]",
        "post-processors[0]",
        "provisioners[0]",
    ]


def test_null_builders_is_the_usual_at_least_one_builder_error(template, cli) -> None:
    template('{"builders": null, "post-processors": null}')
    r = cli("validate", "t.json")
    assert r.returncode == 1
    assert "builders: at least one builder must be defined (t.json:1)" in r.stdout + r.stderr
