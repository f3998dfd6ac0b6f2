"""OpenStack in our own words: the driver protocol, the records it returns, how it is reached.

Steps talk to the cloud only through `OpenStackDriver`; `sdk.py` implements it with
openstacksdk's proxy layer (the only module that imports it), the unit tests' fake with
dictionaries. `OPENSTACK` makes drivers from `OpenStackSettings`, and is where tests put
their fake in. A driver is made without touching the network: `authenticate()` asks
Keystone for a token (the first step calls it), every other call reuses that session.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from builder.common.drivers import DriverFactory, secret
from builder.common.names import closest
from builder.errors import DriverError

PLATFORM = "openstack"  # the ledger's name for OpenStack resources
RUN_METADATA = "pybuild_run_id"  # server/volume metadata key that carries the run id


# ------------------------------------------------------------------ settings
@dataclass(frozen=True)
class OpenStackSettings:
    """How to reach the cloud: a clouds.yaml entry and/or explicit Keystone options.

    The secret fields never go into the ledger; `pybuild cleanup` gets them the way the
    build did (the template, clouds.yaml, or the OS_* environment).
    """

    cloud: str = ""
    identity_endpoint: str = ""
    username: str = ""
    user_id: str = ""
    password: str = secret()
    tenant_id: str = ""
    tenant_name: str = ""
    domain_id: str = ""
    domain_name: str = ""
    user_domain_id: str = ""
    user_domain_name: str = ""
    project_domain_id: str = ""
    project_domain_name: str = ""
    default_domain: str = ""
    token: str = secret()
    application_credential_id: str = secret()
    application_credential_name: str = secret()
    application_credential_secret: str = secret()
    region: str = ""
    endpoint_type: str = ""
    insecure: bool = False
    cacert: str = ""
    cert: str = ""
    key: str = secret()

    @classmethod
    def from_record(
        cls, recorded: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> OpenStackSettings:
        """Settings as the ledger kept them; secrets (never recorded) from OS_* variables."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in recorded.items() if k in known}
        base = cls(**values)
        return base.with_environment(environ)

    def with_environment(self, environ: Mapping[str, str] | None = None) -> OpenStackSettings:
        """Empty fields filled from OS_* the way Packer 1.6.6 (gophercloud) reads them."""
        env = os.environ if environ is None else environ
        cloud = self.cloud or env.get("OS_CLOUD", "")
        values: dict[str, Any] = {}
        for f in fields(self):
            current = getattr(self, f.name)
            if current not in ("", None):
                values[f.name] = current
                continue
            if cloud and f.name not in FROM_ENV_WITH_CLOUD:
                continue  # clouds.yaml has them (openstacksdk's loader reads it)
            for var in ENVIRONMENT.get(f.name, ()):
                if env.get(var):
                    values[f.name] = env[var]
        if not values.get("insecure") and env.get("OS_INSECURE", "").lower() in ("1", "true"):
            values["insecure"] = True
        return type(self)(**values)


# Option -> the variables that fill it when it is empty, the later ones winning (as
# Packer 1.6.6 reads them: its own SDK_* first, then gophercloud's OS_PROJECT_ID over
# OS_TENANT_ID, and so on).
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "cloud": ("OS_CLOUD",),
    "identity_endpoint": ("OS_AUTH_URL",),
    "username": ("OS_USERNAME", "SDK_USERNAME"),
    "user_id": ("OS_USER_ID",),
    "password": ("OS_PASSWORD", "SDK_PASSWORD"),
    "tenant_id": ("OS_TENANT_ID", "OS_PROJECT_ID"),
    "tenant_name": ("OS_TENANT_NAME", "OS_PROJECT_NAME", "SDK_PROJECT"),
    "domain_id": ("OS_DOMAIN_ID",),
    "domain_name": ("OS_DOMAIN_NAME",),
    "user_domain_id": ("OS_USER_DOMAIN_ID",),
    "user_domain_name": ("OS_USER_DOMAIN_NAME",),
    "project_domain_id": ("OS_PROJECT_DOMAIN_ID",),
    "project_domain_name": ("OS_PROJECT_DOMAIN_NAME",),
    "default_domain": ("OS_DEFAULT_DOMAIN",),
    "token": ("OS_TOKEN", "OS_AUTH_TOKEN"),
    "application_credential_id": ("OS_APPLICATION_CREDENTIAL_ID",),
    "application_credential_name": ("OS_APPLICATION_CREDENTIAL_NAME",),
    "application_credential_secret": ("OS_APPLICATION_CREDENTIAL_SECRET",),
    "region": ("OS_REGION_NAME", "SDK_REGION"),
    "endpoint_type": ("OS_INTERFACE",),
    "cacert": ("OS_CACERT",),
    "cert": ("OS_CERT",),
    "key": ("OS_KEY",),
}
# What Packer 1.6.6 still takes from the environment when a clouds.yaml entry is used.
FROM_ENV_WITH_CLOUD = frozenset({"cloud", "region", "cacert", "cert", "key"})


# ------------------------------------------------------------------ errors
class OpenStackError(DriverError):
    """An API call failed: the operation, the HTTP status (0: no answer) and the message."""

    def __init__(self, operation: str, message: str, status: int = 0):
        self.operation, self.status, self.detail = operation, status, message
        code = f" (HTTP {status})" if status else ""
        super().__init__(f"{operation}{code}: {message}")

    @property
    def answered(self) -> bool:
        """The service answered with an error, so the call changed nothing."""
        return self.status >= 400

    @property
    def missing(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


class NotFound(OpenStackError):
    """A named thing does not exist; `names` are those that do, `closest` the likeliest."""

    def __init__(self, kind: str, name: str, names: Sequence[str] = ()):
        self.kind, self.name, self.names = kind, name, sorted(set(names))
        self.closest = closest(name, self.names)
        text = f"{kind} '{name}' not found"
        if self.names:
            shown = self.names[:20]
            more = f" and {len(self.names) - len(shown)} more" if len(self.names) > 20 else ""
            text += f"; the {kind}s that exist: {', '.join(shown)}{more}"
        if self.closest:
            text += f" (did you mean '{self.closest}'?)"
        super().__init__(f"find {kind}", text, 404)
        self.args = (text,)

    def __str__(self) -> str:
        return str(self.args[0])


class AuthFailed(DriverError):
    """Keystone refused the credentials, or the project/domain to scope to is unknown."""


# ------------------------------------------------------------------ records
@dataclass(frozen=True)
class Flavor:
    id: str
    name: str = ""


@dataclass(frozen=True)
class Image:
    """A Glance image."""

    id: str
    name: str = ""
    status: str = "active"
    owner: str = ""
    visibility: str = "private"
    tags: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)
    min_disk: int = 0
    size: int = 0
    created_at: str = ""


@dataclass(frozen=True)
class ImageQuery:
    """`source_image_filter` / `source_image_name` as a Glance list query.

    Always: status active, member status accepted, newest first (1.6.6's ListOpts).
    """

    name: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()
    visibility: str = ""

    def describe(self) -> str:
        parts = [f"{k}={v!r}" for k, v in vars(self).items() if v]
        return ", ".join(parts) or "any image"


@dataclass(frozen=True)
class Address:
    """One address of a server on one network (`fixed` or `floating`)."""

    network: str
    addr: str
    version: int = 4
    kind: str = "fixed"


@dataclass(frozen=True)
class Server:
    id: str
    name: str = ""
    status: str = "BUILD"
    addresses: tuple[Address, ...] = ()
    access_ipv4: str = ""
    access_ipv6: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    fault: str = ""
    progress: int = 0


@dataclass(frozen=True)
class NetworkRef:
    """One NIC of a new server: a network uuid or an existing port."""

    uuid: str = ""
    port: str = ""


@dataclass(frozen=True)
class ServerSpec:
    """Everything a server create needs, in our words."""

    name: str
    flavor_id: str
    image_id: str = ""  # empty when booting from `boot_volume_id`
    boot_volume_id: str = ""
    key_name: str = ""
    networks: tuple[NetworkRef, ...] = ()  # empty: no NIC (networks left out)
    security_groups: tuple[str, ...] = ()
    availability_zone: str = ""
    user_data: bytes = b""
    config_drive: bool = False
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NewKeyPair:
    """A key pair just made by Nova (its private key is only returned once)."""

    name: str
    public_key: str
    private_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class Volume:
    id: str
    name: str = ""
    status: str = "creating"
    size: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeSpec:
    name: str
    size: int
    image_id: str
    volume_type: str = ""
    availability_zone: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FloatingIP:
    id: str
    address: str = ""
    port_id: str = ""
    status: str = "DOWN"
    network_id: str = ""
    description: str = ""


@dataclass(frozen=True)
class Interface:
    """A server's port on a network."""

    port_id: str
    net_id: str = ""


@dataclass(frozen=True)
class Network:
    id: str
    name: str = ""
    external: bool = False


@dataclass(frozen=True)
class Subnet:
    network_id: str
    cidr: str


# ------------------------------------------------------------------ protocol
class OpenStackDriver(Protocol):
    """One authenticated session with Nova, Glance, Cinder and Neutron in one region."""

    def authenticate(self) -> None:
        """Get a token now; AuthFailed says which credential or scope was refused."""

    def close(self) -> None: ...

    # compute
    def get_flavor(self, name_or_id: str) -> Flavor:
        """By id, else by name; NotFound lists the flavors."""
        ...

    def create_keypair(self, name: str, public_key: str = "") -> NewKeyPair:
        """Nova generates the pair (no `public_key`) or imports the given public key."""
        ...

    def keypair_exists(self, name: str) -> bool: ...

    def delete_keypair(self, name: str) -> bool:
        """False when it was already gone."""
        ...

    def create_server(self, spec: ServerSpec) -> str: ...

    def get_server(self, server_id: str) -> Server | None: ...

    def servers(self, *, name: str = "", all_projects: bool = False) -> list[Server]: ...

    def stop_server(self, server_id: str) -> bool:
        """False when Nova answered 409 (already stopped)."""
        ...

    def delete_server(self, server_id: str, *, force: bool = False) -> bool: ...

    def create_server_image(
        self, server_id: str, name: str, metadata: Mapping[str, str]
    ) -> str: ...

    def server_interfaces(self, server_id: str) -> list[Interface]: ...

    # images
    def get_image(self, image_id: str) -> Image | None: ...

    def find_images(self, query: ImageQuery, *, any_status: bool = False) -> list[Image]:
        """Active, accepted images matching `query` (any status with `any_status`),
        newest first."""
        ...

    def image_names(self) -> list[str]:
        """The names of the images this project can see (for close-name hints)."""
        ...

    def create_image(self, name: str, disk_format: str, properties: Mapping[str, str]) -> Image: ...

    def import_image(self, image_id: str, url: str) -> None:
        """Glance's web-download import of `url` into the (queued) image."""
        ...

    def update_image(
        self,
        image_id: str,
        *,
        tags: Sequence[str] | None = None,
        visibility: str | None = None,
        min_disk: int | None = None,
    ) -> None: ...

    def add_image_member(self, image_id: str, member: str) -> None: ...

    def accept_image_member(self, image_id: str, member: str) -> None: ...

    def delete_image(self, image_id: str) -> bool: ...

    # block storage
    def create_volume(self, spec: VolumeSpec) -> str: ...

    def get_volume(self, volume_id: str) -> Volume | None: ...

    def volumes(self, *, name: str = "") -> list[Volume]: ...

    def delete_volume(self, volume_id: str) -> bool: ...

    def detach_volume(self, volume_id: str) -> None: ...

    def set_volume_image_metadata(self, volume_id: str, metadata: Mapping[str, str]) -> None: ...

    def upload_volume_to_image(self, volume_id: str, name: str, disk_format: str) -> str: ...

    # network
    def get_floating_ip(self, ip_id: str) -> FloatingIP | None: ...

    def floating_ips(self, *, status: str = "", description: str = "") -> list[FloatingIP]: ...

    def create_floating_ip(self, network_id: str, description: str) -> FloatingIP: ...

    def associate_floating_ip(self, ip_id: str, port_id: str) -> None: ...

    def delete_floating_ip(self, ip_id: str) -> bool: ...

    def find_network(self, name_or_id: str) -> Network: ...

    def subnets(self) -> list[Subnet]: ...


# The one place OpenStack drivers are made (and where tests put their fake in).
OPENSTACK: DriverFactory[OpenStackSettings, OpenStackDriver] = DriverFactory(
    PLATFORM, "builder.openstack.sdk:make_driver"
)
