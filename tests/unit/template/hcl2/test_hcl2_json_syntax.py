"""HCL2 in JSON syntax (*.pkr.json): the same blocks as JSON objects, strings as templates,
read into the same body the native syntax gives, so both prepare the same builds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from builder.errors import ConfigErrors
from builder.template.hcl2 import load

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_hcl2_parity import EXAMPLES, prepared  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "jsonsyntax"


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load(str(path), environ={})
    return [e.render() for e in caught.value.errors]


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- parity
def test_docker_example_in_json_syntax_prepares_the_same_builds() -> None:
    from_json = prepared(CORPUS / "docker.pkr.json")
    from_hcl = prepared(EXAMPLES / "docker" / "template.pkr.hcl")
    assert list(from_json) == ["docker.debian"]
    assert from_json == from_hcl


def test_every_construct_in_json_syntax_prepares_the_same_builds() -> None:
    from_json = prepared(CORPUS / "features.pkr.json")
    from_hcl = prepared(CORPUS / "features.pkr.hcl")
    assert sorted(from_json) == ["multi.docker.second", "multi.null.n"]
    assert from_json == from_hcl
    docker = from_json["multi.docker.second"]
    assert docker["builder"]["image"] == "debian:b"
    assert docker["builder"]["changes"] == ["LABEL tag=a", "LABEL tag=b"]
    inline = docker["provisioners"][0][1]["inline"]
    assert inline == ["echo hello pybuild-app second s3cr3t", "echo 4"]
    assert docker["provisioners"][0][2:4] == [3, 2.0]
    assert from_json["multi.null.n"]["provisioners"][0][1]["inline"] == ["echo multi"]


def test_json_syntax_variables_secrets_and_types() -> None:
    t = load(str(CORPUS / "features.pkr.json"), environ={})
    assert t.input_variables["tags"].value == ["a", "b"]
    assert t.input_variables["settings"].value == {"name": "app", "count": 2}
    assert "s3cr3t" in t.secrets
    # "list(string)" is a type expression, not a string: a map does not convert
    with pytest.raises(ConfigErrors) as caught:
        load(str(CORPUS / "features.pkr.json"), variables={"tags": '{"a" = 1}'}, environ={})
    print(caught.value.render())
    assert "var.tags" in caught.value.render()


# --------------------------------------------------------------------------- directories
def test_a_directory_mixes_native_and_json_files(tmp_path: Path) -> None:
    write(tmp_path, "variables.pkr.json", '{"variable": {"v": {"default": "from json"}}}')
    write(tmp_path, "sources.pkr.hcl", 'source "null" "n" {\n  communicator = "none"\n}\n')
    write(
        tmp_path,
        "build.pkr.json",
        '{"build": {"sources": ["source.null.n"],\n'
        ' "provisioner": {"shell-local": {"inline": ["echo ${var.v}"]}}}}',
    )
    t = load(str(tmp_path), environ={})
    assert [Path(f).name for f in t.files] == [
        "sources.pkr.hcl",
        "build.pkr.json",
        "variables.pkr.json",
    ]
    assert [b.name for b in t.builders] == ["null.n"]
    assert t.provisioners[0].config["inline"] == ["echo from json"]
    assert prepared(tmp_path)["null.n"]["provisioners"][0][1]["inline"] == ["echo from json"]


def test_a_block_defined_in_both_syntaxes_is_a_duplicate(tmp_path: Path) -> None:
    write(tmp_path, "a.pkr.hcl", 'source "null" "n" {\n  communicator = "none"\n}\n')
    write(tmp_path, "b.pkr.json", '{"source": {"null": {"n": {"communicator": "none"}}}}')
    (msg,) = errors_of(tmp_path)
    assert "Duplicate source block: source.null.n is already defined at" in msg
    assert "a.pkr.hcl:1" in msg and "b.pkr.json:1:" in msg


# --------------------------------------------------------------------------- errors
def test_an_evaluation_error_names_file_line_and_block_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.pkr.json",
        "{\n"
        '  "source": {"null": {"n": {"communicator": "none"}}},\n'
        '  "build": {\n'
        '    "sources": ["source.null.n"],\n'
        '    "provisioner": [{"shell-local": {"inline": ["${var.nope}"]}}]\n'
        "  }\n"
        "}\n",
    )
    (msg,) = errors_of(path)
    assert msg.startswith("build[0].provisioner[0].inline: ")
    assert '"nope"' in msg
    assert msg.endswith(f"({path}:5:55)")


def test_an_unknown_builder_option_names_file_line_and_source(tmp_path: Path) -> None:
    from builder.engine import RunOptions, load_template, prepare

    path = write(
        tmp_path,
        "t.pkr.json",
        '{\n  "source": {\n    "null": {\n      "n": {\n        "communicator": "none",\n'
        '        "comunicator_x": 1\n      }\n    }\n  },\n'
        '  "build": {"sources": ["source.null.n"]}\n}\n',
    )
    p = prepare(load_template(str(path)), RunOptions(record_resources=False))
    text = "\n".join(e.render() for e in p.errors.values())
    assert "source.null.n.comunicator_x" in text
    assert f"{path}:6:9" in text


def test_an_unknown_top_level_key_is_an_unsupported_argument(tmp_path: Path) -> None:
    path = write(tmp_path, "t.pkr.json", '{\n  "sorce": {}\n}\n')
    (msg,) = errors_of(path)
    assert 'an argument named "sorce" is not expected here' in msg
    assert msg.endswith(f"({path}:2:3)")


def test_a_block_that_is_not_an_object_names_its_block_path(tmp_path: Path) -> None:
    path = write(tmp_path, "t.pkr.json", '{\n  "variable": {\n    "x": "oops"\n  }\n}\n')
    (msg,) = errors_of(path)
    assert msg.startswith("variable.x: Invalid HCL JSON: ")
    assert "not a string" in msg
    assert msg.endswith(f"({path}:3:10)")


def test_a_duplicate_attribute_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.pkr.json",
        '{"source": {"null": {"n": {\n  "communicator": "none",\n  "communicator": "ssh"\n}}}}\n',
    )
    (msg,) = errors_of(path)
    assert 'source.null.n.communicator: Invalid HCL JSON: Duplicate argument "communicator"' in msg
    assert msg.endswith(f"({path}:3:3)")


def test_bad_json_gives_a_clear_error_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.pkr.json",
        '{\n  "source": {\n    "null": {"n": {"communicator": "none",}}\n  }\n}\n',
    )
    (msg,) = errors_of(path)
    assert msg == (f"Invalid JSON: Expecting property name enclosed in double quotes ({path}:3:43)")


def test_the_root_must_be_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "t.pkr.json", "[]\n")
    (msg,) = errors_of(path)
    assert "the root of a *.pkr.json file must be a JSON object" in msg
    assert msg.endswith(f"({path}:1:1)")


def test_the_cli_validates_a_json_syntax_template(tmp_path: Path) -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "builder", "validate", str(CORPUS / "features.pkr.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
