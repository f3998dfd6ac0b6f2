"""The five-platform template against every local service at once: the fixtures of each
platform's own suite, reused (Docker engine, moto, the vSphere simulator, the OpenStack stack,
qemu and the test ISO)."""

from __future__ import annotations

from tests.integration.amazon.conftest import aws, moto_server  # noqa: F401 - fixtures
from tests.integration.docker.conftest import leaks  # noqa: F401 - fixture
from tests.integration.openstack.conftest import (  # noqa: F401 - fixtures
    nova_key_server,
    os_cloud,
    os_leaks,
    os_test_key,
)
from tests.integration.qemu.conftest import qemu_binary, qemu_img, qemu_iso  # noqa: F401
from tests.integration.qemu.test_qemu_build import bench  # noqa: F401 - fixture
from tests.integration.vsphere.conftest import vcsim, vsphere  # noqa: F401 - fixtures
