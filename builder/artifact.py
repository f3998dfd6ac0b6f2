"""What a build produces and hands to post-processors."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any


class Artifact:
    """A build result: an image id, files, and a way to destroy it."""

    builder_id: str = ""

    def __init__(
        self,
        builder_id: str,
        id: str,
        files: Sequence[str] = (),
        *,
        text: str | None = None,
        state: dict[str, Any] | None = None,
        destroy: Callable[[], None] | None = None,
    ):
        self.builder_id = builder_id
        self.id = id
        self.files = list(files)
        self._text = text
        self._state = dict(state or {})
        self._destroy = destroy

    def string(self) -> str:
        """The human description shown in the summary."""
        return self._text if self._text is not None else self.id

    def state(self, name: str) -> Any:
        """Extra data by name, e.g. `generated_data`."""
        return self._state.get(name)

    def destroy(self) -> None:
        """Remove what the artifact stands for (files by default)."""
        if self._destroy is not None:
            self._destroy()
            return
        for f in self.files:
            try:
                os.remove(f)
            except FileNotFoundError:
                pass

    def __str__(self) -> str:
        return self.string()

    def __repr__(self) -> str:
        return f"<Artifact {self.builder_id} {self.id!r} files={self.files!r}>"
