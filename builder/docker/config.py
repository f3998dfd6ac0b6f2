"""Options of the `docker` builder (Packer's names and defaults) and their cross-field checks."""

from __future__ import annotations

import os
import re
import shlex
from typing import ClassVar, Literal

from pydantic import Field

from builder.communicator.config import CommunicatorConfig
from builder.config import PluginConfig, Secret, StrList, config_check, option_error
from builder.docker.runargs import RunArgsError, parse_run_command
from builder.errors import TemplateError

DEFAULT_RUN_COMMAND = ["-d", "-i", "-t", "--entrypoint=/bin/sh", "--", "{{.Image}}"]
CHANGE_INSTRUCTIONS = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "USER",
    "VOLUME",
    "WORKDIR",
)
_PORT = re.compile(r"^\d{1,5}(-\d{1,5})?(/(tcp|udp|sctp))?$")


class DockerLoginConfig(PluginConfig):
    """Registry login options, shared by the builder and docker-push."""

    login: bool = False
    login_server: str = ""
    login_username: str = ""
    login_password: Secret = ""
    ecr_login: bool = False
    aws_access_key: Secret = ""
    aws_secret_key: Secret = ""
    aws_token: Secret = ""
    aws_profile: str = ""

    @config_check
    def check_login(self) -> list[TemplateError]:
        """ECR's own login is not implemented: say so rather than ignore it."""
        if self.ecr_login:
            return [
                option_error(
                    "ECR login is not supported by pybuild",
                    "ecr_login",
                    hint="use login with login_server",
                )
            ]
        return []


class DockerConfig(CommunicatorConfig, DockerLoginConfig):
    """Everything a `docker` builder block may say."""

    deferred: ClassVar[frozenset[str]] = frozenset({"run_command"})
    host_required: ClassVar[bool] = False  # the container's own address is the default

    communicator: Literal["ssh", "none", "docker"] = "docker"
    image: str = ""
    pull: bool = True
    commit: bool = False
    discard: bool = False
    export_path: str = ""
    changes: StrList = Field(default_factory=list)
    author: str = ""
    message: str = ""
    run_command: StrList = Field(default_factory=list)
    volumes: dict[str, str] = Field(default_factory=dict)
    container_dir: str = ""
    privileged: bool = False
    cap_add: StrList = Field(default_factory=list)
    cap_drop: StrList = Field(default_factory=list)
    tmpfs: StrList = Field(default_factory=list)
    device: StrList = Field(default_factory=list)
    platform: str = ""
    fix_upload_owner: bool = True
    exec_user: str = ""
    pty: bool = False
    windows_container: bool = False

    @property
    def run_args(self) -> list[str]:
        """`run_command`, or Packer's default when empty."""
        return list(self.run_command) or list(DEFAULT_RUN_COMMAND)

    @property
    def shared_dir(self) -> str:
        """Where the host's temporary directory is mounted in the container."""
        return self.container_dir or "/packer-files"

    @config_check
    def check_docker(self) -> list[TemplateError]:
        """Packer's checks of a docker block, each error naming its option."""
        errors: list[TemplateError] = []
        if not self.image:
            errors.append(option_error("Image must be specified", "image"))
        chosen = [n for n, on in (("commit", self.commit), ("discard", self.discard)) if on]
        if self.export_path:
            chosen.append("export_path")
        if len(chosen) > 1:
            errors.append(
                option_error(
                    "Cannot specify more than one of commit, discard, and export_path", chosen[1]
                )
            )
        elif not chosen:
            errors.append(
                option_error(
                    "No instructions given for handling the artifact; expected commit, "
                    "discard, or export_path",
                    "commit",
                )
            )
        if self.export_path and os.path.isdir(self.export_path):
            errors.append(
                option_error("export_path must be a file, not a directory", "export_path")
            )
        errors.extend(check_changes(self.changes))
        try:
            parse_run_command(self.run_args)
        except RunArgsError as exc:
            errors.append(option_error(str(exc), "run_command"))
        if self.windows_container:
            errors.append(
                option_error("Windows containers are not supported by pybuild", "windows_container")
            )
        if self.login and (self.login_password and not self.login_username):
            errors.append(
                option_error("login_password is set but login_username is empty", "login_username")
            )
        return errors


def check_changes(lines: list[str], key: str = "changes") -> list[TemplateError]:
    """An error for each `changes` line `docker commit --change` would refuse."""
    errors = []
    for i, line in enumerate(lines):
        problem = check_change(line)
        if problem:
            errors.append(option_error(problem, key, i))
    return errors


def check_change(line: str) -> str | None:
    """Why a `changes` line would not be accepted by `docker commit --change`, or None."""
    words = line.strip().split(None, 1)
    if not words:
        return "empty change; expected a Dockerfile instruction such as 'CMD [\"/bin/sh\"]'"
    instruction = words[0].upper()
    rest = words[1].strip() if len(words) > 1 else ""
    allowed = ", ".join(CHANGE_INSTRUCTIONS)
    if instruction not in CHANGE_INSTRUCTIONS:
        return f"{words[0]!r} is not a valid change command; allowed: {allowed}"
    if not rest:
        return f"{instruction} requires at least one argument"
    if instruction in ("ENV", "LABEL"):
        if "=" not in rest and len(rest.split()) < 2:
            return f"{instruction} must have two arguments (KEY VALUE or KEY=VALUE)"
        if _blank_name(rest):
            return f"{instruction} names can not be blank"
    if instruction == "EXPOSE":
        bad = [p for p in rest.split() if not _valid_port(p)]
        if bad:
            return f"EXPOSE: invalid port {bad[0]!r}; expected PORT[/tcp|/udp|/sctp], 1-65535"
    if instruction == "ONBUILD" and rest.split()[0].upper() in ("ONBUILD", "FROM", "MAINTAINER"):
        return f"ONBUILD cannot trigger {rest.split()[0].upper()}"
    return None


def _valid_port(text: str) -> bool:
    if text.startswith("$"):
        return True  # expanded by the engine
    if not _PORT.match(text):
        return False
    ports = text.split("/", 1)[0].split("-")
    return all(0 < int(p) <= 65535 for p in ports)


def _blank_name(rest: str) -> bool:
    """KEY=VALUE pairs with an empty KEY (`ENV =x`); the `KEY VALUE` form has none."""
    if rest.startswith("="):
        return True
    if "=" not in rest.split(None, 1)[0]:
        return False
    try:
        words = shlex.split(rest)
    except ValueError:
        return False  # unbalanced quotes: the engine says what is wrong
    return any(w.startswith("=") for w in words)
