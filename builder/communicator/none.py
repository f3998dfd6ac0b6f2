"""`communicator: none`: there is no way into the machine; remote provisioners fail."""

from __future__ import annotations

from typing import Any, NoReturn

from builder.errors import BuildError

_WHY = (
    "this build's communicator is 'none': there is no connection to run commands or move "
    'files (set "communicator" to "ssh" or use shell-local)'
)


class NoneCommunicator:
    """Placeholder communicator; every operation is an error naming the reason."""

    def run(self, command: str, **_: Any) -> NoReturn:
        raise BuildError(_WHY)

    def upload(self, src: Any, dst: str, **_: Any) -> NoReturn:
        raise BuildError(_WHY)

    def upload_dir(self, src: str, dst: str, **_: Any) -> NoReturn:
        raise BuildError(_WHY)

    def download(self, src: str, dst: Any, **_: Any) -> NoReturn:
        raise BuildError(_WHY)

    def download_dir(self, src: str, dst: str, **_: Any) -> NoReturn:
        raise BuildError(_WHY)
