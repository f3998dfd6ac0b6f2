"""`DockerRun`: the typed run context of one docker build."""

from __future__ import annotations

from dataclasses import dataclass

from builder.common.run import BuildRun
from builder.docker.config import DockerConfig
from builder.docker.driver import DockerDriver


@dataclass(kw_only=True)
class DockerRun(BuildRun[DockerConfig]):
    """What the docker steps share: the open driver and what each step learned."""

    driver: DockerDriver
    temp_dir: str = ""
    container_id: str = ""
    container_ip: str = ""
    container_user: str = ""  # Config.User, for fix_upload_owner
    auto_remove: bool = False  # run_command --rm: the engine removes it once stopped
    image_id: str = ""

    def machine_id(self) -> str:
        return self.container_id

    def build_data(self) -> dict[str, str]:
        """`{{build ...}}` values: ID is the container id, ImageSha256 once committed."""
        data = {"ID": self.container_id, "ConnType": self.config.communicator, "Host": ""}
        data.update(self.connect_data)
        if self.image_id:
            data["ImageSha256"] = self.image_id
        return data
