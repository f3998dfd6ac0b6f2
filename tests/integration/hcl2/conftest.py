"""HCL2 builds on the real services: the Docker engine's fixtures and moto's, reused."""

from __future__ import annotations

from tests.integration.amazon.conftest import aws, moto_server  # noqa: F401 - fixtures
from tests.integration.docker.conftest import leaks  # noqa: F401 - fixture
