"""docker builder options: Packer's defaults and checks, every error with its template location."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builder.docker.config import DockerConfig, check_change
from builder.engine import RunOptions, load_template, prepare
from builder.errors import ConfigErrors
from tests.conftest import write_template
from tests.fakes.docker import FakeDockerDriver


def errors_of(tmp_path: Path, builder: dict[str, Any]) -> list[str]:
    path = write_template(tmp_path, {"builders": [{"type": "docker", **builder}]})
    try:
        prepared = prepare(load_template(str(path)), RunOptions())
    except ConfigErrors as exc:
        return [e.render().replace(str(tmp_path) + "/", "") for e in exc.errors]
    return [e.render().replace(str(tmp_path) + "/", "") for e in prepared.all_errors]


def test_defaults_follow_packer(fake: FakeDockerDriver) -> None:
    cfg = DockerConfig.model_validate({"image": "x", "commit": True})
    assert cfg.communicator == "docker"
    assert cfg.pull is True and cfg.fix_upload_owner is True
    assert cfg.run_args == ["-d", "-i", "-t", "--entrypoint=/bin/sh", "--", "{{.Image}}"]
    assert cfg.shared_dir == "/packer-files"
    assert DockerConfig.model_validate({"image": "x", "pull": "false"}).pull is False


def test_a_valid_block_has_no_errors(tmp_path: Path, fake: FakeDockerDriver) -> None:
    assert errors_of(tmp_path, {"image": "i", "commit": True, "changes": ["ENV A=1"]}) == []


def test_image_and_artifact_choice_are_required(tmp_path: Path, fake: FakeDockerDriver) -> None:
    errs = errors_of(tmp_path, {})
    assert any(e.startswith("builders[0].image: Image must be specified (t.json:") for e in errs)
    assert any("No instructions given for handling the artifact" in e for e in errs)


def test_more_than_one_artifact_choice(tmp_path: Path, fake: FakeDockerDriver) -> None:
    errs = errors_of(tmp_path, {"image": "i", "commit": True, "export_path": "x.tar"})
    assert errs == [
        "builders[0].export_path: Cannot specify more than one of commit, discard, and "
        "export_path (t.json:7)"
    ]


def test_export_path_must_not_be_a_directory(tmp_path: Path, fake: FakeDockerDriver) -> None:
    errs = errors_of(tmp_path, {"image": "i", "export_path": str(tmp_path)})
    assert errs and "export_path must be a file, not a directory" in errs[0]


def test_invalid_changes_line_has_its_location(tmp_path: Path, fake: FakeDockerDriver) -> None:
    errs = errors_of(
        tmp_path, {"image": "i", "commit": True, "changes": ["ENV A=1", "RUN apt-get update"]}
    )
    assert len(errs) == 1
    assert errs[0].startswith("builders[0].changes[1]: 'RUN' is not a valid change command")
    assert "allowed: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR" in errs[0]
    assert errs[0].endswith("(t.json:9)")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("CMD", "requires at least one argument"),
        ("ENV ONLYKEY", "must have two arguments"),
        ("EXPOSE http", "invalid port 'http'"),
        ("ONBUILD FROM x", "ONBUILD cannot trigger FROM"),
        ("", "empty change"),
        ("EXPOSE 70000", "invalid port '70000'"),
        ("EXPOSE 80-65536/udp", "invalid port '80-65536/udp'"),
        ("ENV =x", "ENV names can not be blank"),
        ("LABEL a=b =c", "LABEL names can not be blank"),
    ],
)
def test_change_checks(line: str, problem: str) -> None:
    assert problem in (check_change(line) or "")


@pytest.mark.parametrize(
    "line",
    [
        'CMD ["/bin/sh"]',
        "ENTRYPOINT /bin/sh",
        "ENV A B",
        "EXPOSE 80 443/tcp 1000-1010/udp",
        "LABEL a=b c=d",
        'LABEL a="x =y"',
        "ENV A =b",
        "ONBUILD RUN x",
        "USER nobody",
        "VOLUME /data",
        "WORKDIR /app",
        "user root",
    ],
)
def test_accepted_changes(line: str) -> None:
    assert check_change(line) is None


def test_unsupported_run_command_flag_is_reported(tmp_path: Path, fake: FakeDockerDriver) -> None:
    errs = errors_of(
        tmp_path, {"image": "i", "discard": True, "run_command": ["--mount", "x", "{{.Image}}"]}
    )
    assert errs and errs[0].startswith("builders[0].run_command: docker run flag '--mount'")


def test_unknown_option_and_secret_login_password(tmp_path: Path, fake: FakeDockerDriver) -> None:
    errs = errors_of(tmp_path, {"image": "i", "commit": True, "imgae": "x"})
    assert errs == ["builders[0].imgae: unknown option 'imgae'; did you mean 'image'? (t.json:7)"]
    assert ("login_password",) in DockerConfig.secret_paths()
    assert ("ssh_password",) in DockerConfig.secret_paths()


def test_windows_and_ecr_are_refused_clearly(tmp_path: Path, fake: FakeDockerDriver) -> None:
    errs = errors_of(
        tmp_path, {"image": "i", "commit": True, "windows_container": True, "ecr_login": True}
    )
    assert any("ECR login is not supported" in e for e in errs)
    assert any("Windows containers are not supported" in e for e in errs)
