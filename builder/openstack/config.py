"""Options of the openstack builder: Packer 1.6.6's access, image and run blocks.

Each block's cross-field checks are `@config_check` methods with Packer's messages;
the defaults Packer's Prepare fills in (instance_name, image_type metadata, the
volume's zone, floating_ip_pool) are methods here, so the user's values stay as given.
"""

from __future__ import annotations

import os
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from builder.communicator.config import CommunicatorConfig
from builder.config import PluginConfig, Secret, StrList, config_check, option_error
from builder.errors import TemplateError
from builder.openstack.driver import ImageQuery, OpenStackSettings

ENDPOINT_TYPES = ("", "internal", "internalURL", "admin", "adminURL", "public", "publicURL")
VISIBILITIES = ("public", "private", "shared", "community")


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)


class AccessConfig(PluginConfig):
    """Packer's AccessConfig: Keystone credentials and scope, or a clouds.yaml `cloud`.

    Empty options are filled from the OS_* environment (and Packer's SDK_* names) when
    the build opens its session; `user_domain_*`/`project_domain_*` are pybuild's
    additions (1.6.6 has only `domain_*`, used for both).
    """

    identity_endpoint: str = ""
    username: str = ""
    user_id: str = ""
    password: Secret = ""
    tenant_id: str = ""
    tenant_name: str = ""
    domain_id: str = ""
    domain_name: str = ""
    user_domain_id: str = ""
    user_domain_name: str = ""
    project_domain_id: str = ""
    project_domain_name: str = ""
    insecure: bool = False
    region: str = ""
    endpoint_type: str = ""
    cacert: str = ""
    cert: str = ""
    key: Secret = ""  # a file path, but a secret one: Packer masks it
    token: Secret = ""
    application_credential_name: Secret = ""
    application_credential_id: Secret = ""
    application_credential_secret: Secret = ""
    cloud: str = ""

    def settings(self) -> OpenStackSettings:
        """How the build reaches the cloud, the OS_* environment filling empty options."""
        return OpenStackSettings(
            cloud=self.cloud,
            identity_endpoint=self.identity_endpoint,
            username=self.username,
            user_id=self.user_id,
            password=self.password,
            tenant_id=self.tenant_id,
            tenant_name=self.tenant_name,
            domain_id=self.domain_id,
            domain_name=self.domain_name,
            user_domain_id=self.user_domain_id,
            user_domain_name=self.user_domain_name,
            project_domain_id=self.project_domain_id,
            project_domain_name=self.project_domain_name,
            token=self.token,
            application_credential_id=self.application_credential_id,
            application_credential_name=self.application_credential_name,
            application_credential_secret=self.application_credential_secret,
            region=self.region,
            endpoint_type=self.endpoint_type,
            insecure=self.insecure,
            cacert=os.path.expanduser(self.cacert) if self.cacert else "",
            cert=os.path.expanduser(self.cert) if self.cert else "",
            key=os.path.expanduser(self.key) if self.key else "",
        ).with_environment()

    @config_check
    def check_access(self) -> list[TemplateError]:
        errs: list[TemplateError] = []
        if self.endpoint_type not in ENDPOINT_TYPES:
            errs.append(
                option_error(
                    "Invalid endpoint type provided",
                    "endpoint_type",
                    hint="use public, internal or admin",
                )
            )
        resolved = self.settings()
        if not resolved.cloud and not resolved.identity_endpoint:
            errs.append(
                option_error(
                    "Missing input for argument [auth_url]",
                    "identity_endpoint",
                    hint="set identity_endpoint (or OS_AUTH_URL), or name a clouds.yaml "
                    "entry with cloud (or OS_CLOUD)",
                )
            )
        for option, path in (("cacert", resolved.cacert), ("cert", resolved.cert)):
            if path and not os.path.isfile(path):
                errs.append(option_error(f"open {path}: no such file or directory", option))
        if resolved.key and not os.path.isfile(resolved.key):
            errs.append(option_error("the client key file does not exist", "key"))
        if bool(resolved.cert) != bool(resolved.key):
            errs.append(
                option_error(
                    "cert and key must be given together (a client certificate and its key)",
                    "cert" if not resolved.cert else "key",
                )
            )
        return errs


class ImageConfig(PluginConfig):
    """Packer's ImageConfig: the image made and who may use it."""

    image_name: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)
    image_visibility: str = ""
    image_members: StrList = Field(default_factory=list)
    image_auto_accept_members: bool = False
    image_disk_format: str = ""
    image_tags: StrList = Field(default_factory=list)
    image_min_disk: int = 0
    skip_create_image: bool = False

    def image_metadata(self) -> dict[str, str]:
        """`metadata` with Packer's default `image_type: image`."""
        out = dict(self.metadata)
        if not out.get("image_type"):
            out["image_type"] = "image"
        return out

    def visibility(self) -> str:
        """`image_visibility` as Glance spells it (Packer accepts any case)."""
        lowered = self.image_visibility.lower()
        return lowered if lowered in VISIBILITIES else self.image_visibility

    @config_check
    def check_image(self) -> list[TemplateError]:
        errs: list[TemplateError] = []
        if not self.image_name:
            errs.append(option_error("An image_name must be specified", "image_name"))
        if self.image_visibility and self.visibility() not in VISIBILITIES:
            errs.append(
                option_error(
                    f"Unknown visibility value {self.image_visibility}",
                    "image_visibility",
                    hint="use public, private, shared or community",
                )
            )
        if self.image_min_disk < 0:
            errs.append(
                option_error(
                    "An image min disk size must be greater than or equal to 0",
                    "image_min_disk",
                )
            )
        return errs


class ImageFilterOptions(_Block):
    """`source_image_filter.filters`."""

    name: str = ""
    owner: str = ""
    tags: StrList = Field(default_factory=list)
    visibility: str = ""
    properties: dict[str, str] = Field(default_factory=dict)

    def empty(self) -> bool:
        return not (self.name or self.owner or self.tags or self.visibility or self.properties)


class ImageFilter(_Block):
    """`source_image_filter`: Glance filters, and whether the newest of several wins."""

    filters: ImageFilterOptions = Field(default_factory=ImageFilterOptions)
    most_recent: bool = False


_DEPRECATED = {
    "openstack_provider": "openstack_provider is ignored (Rackspace is no longer supported)",
    "use_floating_ip": "use_floating_ip is deprecated and ignored: use floating_ip or "
    "floating_ip_network",
}


class RunConfig(PluginConfig):
    """Packer's RunConfig: the source image, the server and how it is reached."""

    ssh_interface: str = ""
    ssh_ip_version: str = ""
    source_image: str = ""
    source_image_name: str = ""
    external_source_image_url: str = ""
    external_source_image_format: str = ""
    source_image_filter: ImageFilter = Field(default_factory=ImageFilter)
    flavor: str = ""
    availability_zone: str = ""
    rackconnect_wait: bool = False
    floating_ip_network: str = ""
    instance_floating_ip_net: str = ""
    floating_ip: str = ""
    reuse_ips: bool = False
    security_groups: StrList = Field(default_factory=list)
    networks: StrList = Field(default_factory=list)
    ports: StrList = Field(default_factory=list)
    network_discovery_cidrs: StrList = Field(default_factory=list)
    user_data: str = ""
    user_data_file: str = ""
    instance_name: str = ""
    instance_metadata: dict[str, str] = Field(default_factory=dict)
    force_delete: bool = False
    config_drive: bool = False
    floating_ip_pool: str = ""
    use_blockstorage_volume: bool = False
    volume_name: str = ""
    volume_type: str = ""
    volume_size: int = 0
    volume_availability_zone: str = ""
    openstack_provider: str = ""
    use_floating_ip: bool = False

    def floating_network(self) -> str:
        """`floating_ip_network`, else the older `floating_ip_pool`."""
        return self.floating_ip_network or self.floating_ip_pool

    def volume_zone(self) -> str:
        return self.volume_availability_zone or self.availability_zone

    def external_format(self) -> str:
        return self.external_source_image_format or "qcow2"

    def image_query(self) -> ImageQuery:
        """The Glance query for source_image_name or source_image_filter."""
        if self.source_image_name:
            return ImageQuery(name=self.source_image_name)
        f = self.source_image_filter.filters
        visibility = f.visibility if f.visibility in VISIBILITIES else ""
        return ImageQuery(name=f.name, owner=f.owner, tags=tuple(f.tags), visibility=visibility)

    def run_warnings(self) -> list[str]:
        return [text for name, text in _DEPRECATED.items() if getattr(self, name)]

    @config_check
    def check_run(self) -> list[TemplateError]:
        errs: list[TemplateError] = []

        def err(key: str, message: str, *more: str | int, hint: str | None = None) -> None:
            errs.append(option_error(message, key, *more, hint=hint))

        sources = {
            "source_image": bool(self.source_image),
            "source_image_name": bool(self.source_image_name),
            "external_source_image_url": bool(self.external_source_image_url),
            "source_image_filter": not self.source_image_filter.filters.empty(),
        }
        chosen = [name for name, given in sources.items() if given]
        if not chosen:
            err(
                "source_image",
                "Either a source_image, a source_image_name, an external_source_image_url or "
                "source_image_filter must be specified",
            )
        elif len(chosen) > 1:
            err(
                chosen[1],
                "Only one of the options source_image, source_image_name, "
                "external_source_image_url, or source_image_filter can be specified, not "
                "multiple.",
            )
        if not self.flavor:
            err("flavor", "A flavor must be specified")
        if self.ssh_ip_version not in ("", "4", "6"):
            err("ssh_ip_version", "SSH IP version must be either 4 or 6")
        for key, value in self.instance_metadata.items():
            if len(key.encode()) > 255:
                err("instance_metadata", f"Instance metadata key too long (max 255 bytes): {key}")
            if len(value.encode()) > 255:
                err(
                    "instance_metadata",
                    f"Instance metadata value too long (max 255 bytes): {value}",
                    key,
                )
        if self.user_data and self.user_data_file:
            err("user_data_file", "Only one of user_data or user_data_file can be specified.")
        elif self.user_data_file and not os.path.exists(self.user_data_file):
            err("user_data_file", f"user_data_file not found: {self.user_data_file}")
        if self.volume_size < 0:
            err("volume_size", "volume_size must not be negative")
        if self.source_image_filter.filters.visibility and (
            self.source_image_filter.filters.visibility not in VISIBILITIES
        ):
            err(
                "source_image_filter",
                f"Not a valid visibility: {self.source_image_filter.filters.visibility}",
                "filters",
                "visibility",
            )
        return errs


class OpenStackConfig(AccessConfig, ImageConfig, RunConfig, CommunicatorConfig):
    """Every option of the openstack builder under Packer 1.6.6's name.

    The builder supplies the address (the server's, unless ssh_host) and, unless the
    template names a way in, a temporary Nova key pair.
    """

    host_required: ClassVar[bool] = False
    generates_key: ClassVar[bool] = True

    communicator: Literal["ssh", "none"] = "ssh"  # type: ignore[assignment]

    def server_name(self) -> str:
        """`instance_name`, defaulting to `image_name` (Packer's Prepare)."""
        return self.instance_name or self.image_name

    def wants_temporary_key_pair(self) -> bool:
        """Packer makes a temporary key pair unless the template names a way in already."""
        if self.communicator != "ssh":
            return False
        if self.temporary_key_pair_name:
            return True
        return not (self.ssh_keypair_name or self.ssh_private_key_file or self.ssh_password)

    @config_check
    def check_openstack(self) -> list[TemplateError]:
        errs: list[TemplateError] = []
        if self.image_disk_format and not self.use_blockstorage_volume:
            errs.append(
                option_error(
                    "use_blockstorage_volume must be true if image_disk_format is specified.",
                    "image_disk_format",
                )
            )
        return errs
