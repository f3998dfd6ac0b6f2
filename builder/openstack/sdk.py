"""`SDKDriver`: OpenStackDriver over openstacksdk's proxy layer — the only module importing it.

openstacksdk (and keystoneauth1 under it) is imported when the first driver is made.
Calls go through `conn.compute`, `conn.image`, `conn.block_storage` and `conn.network`
(never the cloud layer: it refuses a server without a network and deletes servers that
reach ACTIVE without an address). Where a proxy method would send more requests than
the operation needs, or a body Nova/Glance would read differently, the proxy's own
adapter sends the one request (`conn.image.patch(...)`). SDK and Keystone exceptions stop
here and become `OpenStackError`, `NotFound` or `AuthFailed` naming the operation.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from builder.errors import DriverError
from builder.openstack.driver import (
    Address,
    AuthFailed,
    Flavor,
    FloatingIP,
    Image,
    ImageQuery,
    Interface,
    Network,
    NewKeyPair,
    NotFound,
    OpenStackError,
    OpenStackSettings,
    Server,
    ServerSpec,
    Subnet,
    Volume,
    VolumeSpec,
)

T = TypeVar("T")

# Server create at most at 2.36: from 2.37 on Nova requires `networks`, and 1.6.6 (no
# microversion) leaves it out so that a server without networks gets no NIC.
SERVER_CREATE_MICROVERSION = "2.36"
PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


def make_driver(settings: OpenStackSettings) -> SDKDriver:
    """The DriverFactory target: no network until the first call."""
    return SDKDriver(settings)


def _interface(endpoint_type: str) -> str:
    if endpoint_type.startswith("internal"):
        return "internal"
    if endpoint_type.startswith("admin"):
        return "admin"
    return "public"


def auth_options(s: OpenStackSettings) -> tuple[str, dict[str, str]]:
    """(auth_type, auth dict) for keystoneauth, with Packer 1.6.6's domain rules:
    `domain_*` is the user's and the project's domain unless those are given, and a
    domain-scoped token when there is no project."""
    user_domain_id = s.user_domain_id or (s.domain_id if not s.user_domain_name else "")
    user_domain_name = s.user_domain_name or (s.domain_name if not s.user_domain_id else "")
    scoped = bool(s.tenant_id or s.tenant_name)
    auth: dict[str, str] = {"auth_url": s.identity_endpoint}
    if scoped:
        auth.update(project_id=s.tenant_id, project_name=s.tenant_name)
        if not s.tenant_id:
            auth["project_domain_id"] = s.project_domain_id or (
                s.domain_id if not s.project_domain_name else ""
            )
            auth["project_domain_name"] = s.project_domain_name or (
                s.domain_name if not s.project_domain_id else ""
            )
            if s.default_domain and not (auth["project_domain_id"] or auth["project_domain_name"]):
                auth["project_domain_id"] = s.default_domain
    if s.application_credential_id or s.application_credential_name:
        auth_type = "v3applicationcredential"
        auth = {"auth_url": s.identity_endpoint}
        auth.update(
            application_credential_id=s.application_credential_id,
            application_credential_name=s.application_credential_name,
            application_credential_secret=s.application_credential_secret,
            username=s.username,
            user_id=s.user_id,
            user_domain_id=user_domain_id,
            user_domain_name=user_domain_name,
        )
    elif s.token:
        auth_type = "v3token"
        auth["token"] = s.token
    else:
        auth_type = "password"
        auth.update(username=s.username, user_id=s.user_id, password=s.password)
        auth.update(user_domain_id=user_domain_id, user_domain_name=user_domain_name)
        if s.default_domain and not (user_domain_id or user_domain_name):
            auth["user_domain_id"] = s.default_domain
        if not scoped:
            auth.update(domain_id=s.domain_id, domain_name=s.domain_name)
    return auth_type, {k: v for k, v in auth.items() if v}


class SDKDriver:
    """One openstacksdk Connection (one Keystone session) for a build or a cleanup."""

    def __init__(self, settings: OpenStackSettings):
        self.settings = settings
        self._conn: Any = None

    # ------------------------------------------------------------------ session
    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> Any:
        import openstack.config
        import openstack.connection
        from openstack.config import exceptions as config_errors

        s = self.settings
        auth_type, auth = auth_options(s)
        kwargs: dict[str, Any] = {"interface": _interface(s.endpoint_type)}
        if s.region:
            kwargs["region_name"] = s.region
        if s.insecure:
            kwargs["verify"] = False
        elif s.cacert:
            kwargs["cacert"] = s.cacert
        if s.cert:
            kwargs["cert"], kwargs["key"] = s.cert, s.key
        try:
            if s.cloud:
                loader = openstack.config.OpenStackConfig(
                    load_envvars=False, config_files=_config_files(), secure_files=_secure_files()
                )
                if s.cloud not in loader.get_cloud_names():
                    raise NotFound("cloud", s.cloud, loader.get_cloud_names())
                overrides = {
                    k: v for k, v in auth.items() if k != "auth_url" or s.identity_endpoint
                }
                if s.token or s.application_credential_id or s.application_credential_name:
                    kwargs["auth_type"] = auth_type
                region = loader.get_one(cloud=s.cloud, auth=overrides, **kwargs)
            else:
                loader = openstack.config.OpenStackConfig(
                    load_yaml_config=False, load_envvars=False
                )
                region = loader.get_one(auth_type=auth_type, auth=auth, **kwargs)
        except config_errors.OpenStackConfigException as exc:
            raise OpenStackError("load cloud configuration", str(exc)) from exc
        except Exception as exc:  # keystoneauth's MissingRequiredOptions and the like
            if isinstance(exc, DriverError):
                raise
            raise OpenStackError("configure authentication", str(exc)) from exc
        return openstack.connection.Connection(config=region)

    def authenticate(self) -> None:
        from keystoneauth1 import exceptions as ks

        with self._errors("authenticate"):
            try:  # the session itself: Connection.authorize() hides keystoneauth's error type
                self.conn.session.get_token()
            except ks.http.Unauthorized as exc:
                raise AuthFailed(self._why_refused()) from exc

    def _why_refused(self) -> str:
        """Which part Keystone refused: the user's credentials, or the project/domain."""
        try:
            return diagnose(dict(self.conn.config.config))
        except DriverError as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - the diagnosis is best effort
            return f"Keystone refused the credentials ({exc})"

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        """SDK and Keystone exceptions as OpenStackError (status kept) naming `operation`."""
        from keystoneauth1 import exceptions as ks
        from openstack import exceptions as sdk

        try:
            yield
        except DriverError:
            raise
        except sdk.HttpException as exc:
            status = int(exc.status_code or 0)
            if status == 401:
                raise AuthFailed(f"{operation}: {self._why_refused()}") from exc
            detail = exc.details or exc.message or str(exc)
            raise OpenStackError(operation, str(detail).strip(), status) from exc
        except ks.http.Unauthorized as exc:
            raise AuthFailed(f"{operation}: {self._why_refused()}") from exc
        except ks.http.HttpError as exc:
            raise OpenStackError(operation, exc.message or str(exc), exc.http_status) from exc
        except ks.EndpointNotFound as exc:
            region = self.settings.region or "the default region"
            raise OpenStackError(operation, f"no endpoint in {region}: {exc}") from exc
        except ks.ConnectFailure as exc:
            raise OpenStackError(operation, f"cannot connect: {exc}") from exc
        except (ks.ClientException, sdk.SDKException) as exc:
            raise OpenStackError(operation, str(exc)) from exc

    def _send(
        self, operation: str, call: Callable[[], Any], ok_missing: bool = False
    ) -> Any | None:
        """A raw request through a proxy's adapter: >= 400 raises, 404 is None if allowed."""
        with self._errors(operation):
            response = call()
        if response.status_code == 404 and ok_missing:
            return None
        if response.status_code >= 400:
            raise OpenStackError(operation, _body_message(response), response.status_code)
        return response

    def _missing(self, operation: str, call: Callable[[], T]) -> T | None:
        """`call()`, None when the service says 404."""
        try:
            with self._errors(operation):
                return call()
        except OpenStackError as exc:
            if exc.missing:
                return None
            raise

    # ------------------------------------------------------------------ compute
    def get_flavor(self, name_or_id: str) -> Flavor:
        compute = self.conn.compute
        found = self._missing("get flavor", lambda: compute.get_flavor(name_or_id))
        if found is not None:
            return Flavor(found.id, found.name or "")
        with self._errors("list flavors"):
            flavors = list(compute.flavors(details=False))
        for flavor in flavors:
            if flavor.name == name_or_id:
                return Flavor(flavor.id, flavor.name)
        raise NotFound("flavor", name_or_id, [f.name for f in flavors if f.name])

    def create_keypair(self, name: str, public_key: str = "") -> NewKeyPair:
        attrs = {"name": name, **({"public_key": public_key} if public_key else {})}
        with self._errors("create keypair"):
            pair = self.conn.compute.create_keypair(**attrs)
        return NewKeyPair(name, pair.public_key or public_key, pair.private_key or "")

    def keypair_exists(self, name: str) -> bool:
        return self._missing("get keypair", lambda: self.conn.compute.get_keypair(name)) is not None

    def delete_keypair(self, name: str) -> bool:
        compute = self.conn.compute
        gone = self._missing(
            "delete keypair", lambda: compute.delete_keypair(name, ignore_missing=False) or True
        )
        return gone is not None

    def create_server(self, spec: ServerSpec) -> str:
        body: dict[str, Any] = {"name": spec.name, "flavorRef": spec.flavor_id}
        if spec.image_id:
            body["imageRef"] = spec.image_id
        if spec.boot_volume_id:
            body["block_device_mapping_v2"] = [
                {
                    "boot_index": 0,
                    "uuid": spec.boot_volume_id,
                    "source_type": "volume",
                    "destination_type": "volume",
                    "delete_on_termination": False,
                }
            ]
        if spec.key_name:
            body["key_name"] = spec.key_name
        if spec.networks:
            body["networks"] = [
                {"port": n.port} if n.port else {"uuid": n.uuid} for n in spec.networks
            ]
        if spec.security_groups:
            body["security_groups"] = [{"name": g} for g in spec.security_groups]
        if spec.availability_zone:
            body["availability_zone"] = spec.availability_zone
        if spec.user_data:
            body["user_data"] = base64.b64encode(spec.user_data).decode()
        body["config_drive"] = spec.config_drive
        if spec.metadata:
            body["metadata"] = dict(spec.metadata)
        compute = self.conn.compute
        with self._errors("create server"):
            version = _capped(compute, SERVER_CREATE_MICROVERSION)
        response = self._send(
            "create server",
            lambda: compute.post("/servers", json={"server": body}, microversion=version),
        )
        assert response is not None
        return str(response.json()["server"]["id"])

    def get_server(self, server_id: str) -> Server | None:
        found = self._missing("get server", lambda: self.conn.compute.get_server(server_id))
        return _server(found) if found is not None else None

    def servers(self, *, name: str = "", all_projects: bool = False) -> list[Server]:
        query: dict[str, Any] = {}
        if name:
            query["name"] = f"^{re.escape(name)}$"
        if all_projects:
            query["all_projects"] = True
        with self._errors("list servers"):
            return [_server(s) for s in self.conn.compute.servers(details=True, **query)]

    def stop_server(self, server_id: str) -> bool:
        try:
            with self._errors("stop server"):
                self.conn.compute.stop_server(server_id)
        except OpenStackError as exc:
            if exc.conflict:
                return False
            raise
        return True

    def delete_server(self, server_id: str, *, force: bool = False) -> bool:
        compute = self.conn.compute

        def delete() -> bool:
            compute.delete_server(server_id, ignore_missing=False, force=force)
            return True

        return self._missing("delete server", delete) is not None

    def create_server_image(self, server_id: str, name: str, metadata: Mapping[str, str]) -> str:
        from openstack.compute.v2.server import Server as SDKServer

        with self._errors("create image from server"):
            return str(SDKServer.existing(id=server_id).create_image(
                self.conn.compute, name, dict(metadata)
            ))  # fmt: skip

    def server_interfaces(self, server_id: str) -> list[Interface]:
        with self._errors("list server interfaces"):
            found = list(self.conn.compute.server_interfaces(server_id))
        return [Interface(i.port_id, i.net_id or "") for i in found]

    # ------------------------------------------------------------------ images
    def get_image(self, image_id: str) -> Image | None:
        found = self._missing("get image", lambda: self.conn.image.get_image(image_id))
        return _image(found) if found is not None else None

    def find_images(self, query: ImageQuery, *, any_status: bool = False) -> list[Image]:
        params: dict[str, Any] = {"sort": "created_at:desc"}
        if not any_status:
            params.update(status="active", member_status="accepted")
        for key in ("name", "owner", "visibility"):
            if getattr(query, key):
                params[key] = getattr(query, key)
        if query.tags:
            params["tag"] = list(query.tags)
        with self._errors("list images"):
            return [_image(i) for i in self.conn.image.images(**params)]

    def image_names(self) -> list[str]:
        with self._errors("list images"):
            return sorted({i.name for i in self.conn.image.images() if i.name})

    def create_image(self, name: str, disk_format: str, properties: Mapping[str, str]) -> Image:
        body = {"name": name, "container_format": "bare", "disk_format": disk_format}
        body.update(properties)
        response = self._send("create image", lambda: self.conn.image.post("/images", json=body))
        assert response is not None
        data = response.json()
        return Image(str(data["id"]), name, str(data.get("status", "queued")))

    def import_image(self, image_id: str, url: str) -> None:
        body = {"method": {"name": "web-download", "uri": url}}
        self._send(
            "import image", lambda: self.conn.image.post(f"/images/{image_id}/import", json=body)
        )

    def update_image(
        self,
        image_id: str,
        *,
        tags: Sequence[str] | None = None,
        visibility: str | None = None,
        min_disk: int | None = None,
    ) -> None:
        ops: list[dict[str, Any]] = []
        if tags is not None:
            ops.append({"op": "replace", "path": "/tags", "value": list(tags)})
        if visibility is not None:
            ops.append({"op": "replace", "path": "/visibility", "value": visibility})
        if min_disk is not None:
            ops.append({"op": "replace", "path": "/min_disk", "value": min_disk})
        image = self.conn.image
        self._send(
            "update image", lambda: image.patch(f"/images/{image_id}", json=ops, headers=PATCH)
        )

    def add_image_member(self, image_id: str, member: str) -> None:
        image = self.conn.image
        self._send(
            "add image member",
            lambda: image.post(f"/images/{image_id}/members", json={"member": member}),
        )

    def accept_image_member(self, image_id: str, member: str) -> None:
        image = self.conn.image
        self._send(
            "accept image member",
            lambda: image.put(f"/images/{image_id}/members/{member}", json={"status": "accepted"}),
        )

    def delete_image(self, image_id: str) -> bool:
        image = self.conn.image
        return self._send(
            "delete image", lambda: image.delete(f"/images/{image_id}"), ok_missing=True
        ) is not None  # fmt: skip

    # ------------------------------------------------------------------ volumes
    def create_volume(self, spec: VolumeSpec) -> str:
        attrs: dict[str, Any] = {"name": spec.name, "size": spec.size, "image_id": spec.image_id}
        if spec.volume_type:
            attrs["volume_type"] = spec.volume_type
        if spec.availability_zone:
            attrs["availability_zone"] = spec.availability_zone
        if spec.metadata:
            attrs["metadata"] = dict(spec.metadata)
        with self._errors("create volume"):
            return str(self.conn.block_storage.create_volume(**attrs).id)

    def get_volume(self, volume_id: str) -> Volume | None:
        found = self._missing("get volume", lambda: self.conn.block_storage.get_volume(volume_id))
        return _volume(found) if found is not None else None

    def volumes(self, *, name: str = "") -> list[Volume]:
        query = {"name": name} if name else {}
        with self._errors("list volumes"):
            if not self.conn.has_service("block-storage"):
                return []  # a cloud without Cinder has no volumes to find
            return [_volume(v) for v in self.conn.block_storage.volumes(details=True, **query)]

    def delete_volume(self, volume_id: str) -> bool:
        storage = self.conn.block_storage

        def delete() -> bool:
            storage.delete_volume(volume_id, ignore_missing=False)
            return True

        return self._missing("delete volume", delete) is not None

    def _volume_action(self, operation: str, volume_id: str, body: dict[str, Any]) -> Any:
        storage = self.conn.block_storage
        response = self._send(
            operation, lambda: storage.post(f"/volumes/{volume_id}/action", json=body)
        )
        assert response is not None
        return response

    def detach_volume(self, volume_id: str) -> None:
        self._volume_action("detach volume", volume_id, {"os-detach": {}})

    def set_volume_image_metadata(self, volume_id: str, metadata: Mapping[str, str]) -> None:
        body = {"os-set_image_metadata": {"metadata": dict(metadata)}}
        self._volume_action("set volume image metadata", volume_id, body)

    def upload_volume_to_image(self, volume_id: str, name: str, disk_format: str) -> str:
        request: dict[str, Any] = {"image_name": name, "force": False}
        if disk_format:
            request["disk_format"] = disk_format
        response = self._volume_action(
            "upload volume to image", volume_id, {"os-volume_upload_image": request}
        )
        return str(response.json()["os-volume_upload_image"]["image_id"])

    # ------------------------------------------------------------------ network
    def get_floating_ip(self, ip_id: str) -> FloatingIP | None:
        found = self._missing("get floating IP", lambda: self.conn.network.get_ip(ip_id))
        return _ip(found) if found is not None else None

    def floating_ips(self, *, status: str = "", description: str = "") -> list[FloatingIP]:
        query = {k: v for k, v in (("status", status), ("description", description)) if v}
        with self._errors("list floating IPs"):
            return [_ip(i) for i in self.conn.network.ips(**query)]

    def create_floating_ip(self, network_id: str, description: str) -> FloatingIP:
        with self._errors("create floating IP"):
            made = self.conn.network.create_ip(
                floating_network_id=network_id, description=description
            )
        return _ip(made)

    def associate_floating_ip(self, ip_id: str, port_id: str) -> None:
        with self._errors("associate floating IP"):
            self.conn.network.update_ip(ip_id, port_id=port_id)

    def delete_floating_ip(self, ip_id: str) -> bool:
        network = self.conn.network

        def delete() -> bool:
            network.delete_ip(ip_id, ignore_missing=False)
            return True

        return self._missing("delete floating IP", delete) is not None

    def find_network(self, name_or_id: str) -> Network:
        with self._errors("find network"):
            found = self.conn.network.find_network(name_or_id, ignore_missing=True)
            if found is None:
                names = [n.name for n in self.conn.network.networks() if n.name]
        if found is None:
            raise NotFound("network", name_or_id, names)
        return Network(found.id, found.name or "", bool(found.is_router_external))

    def subnets(self) -> list[Subnet]:
        with self._errors("list subnets"):
            return [Subnet(s.network_id, s.cidr) for s in self.conn.network.subnets()]


# ---------------------------------------------------------------------- diagnosis
def diagnose(config: Mapping[str, Any]) -> str:
    """Why Keystone said 401, in words naming the refused part.

    An unscoped token for the same user tells a refused password (or unknown user or
    user domain) from a scope that does not exist; with it, the user's own projects and
    domains are listed to name the closest.
    """
    from keystoneauth1 import exceptions as ks
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    auth = {k: v for k, v in dict(config.get("auth") or {}).items() if v}
    kind = str(config.get("auth_type") or "password")
    if "token" in kind:
        return "Keystone refused the token (expired or revoked?)"
    if "applicationcredential" in kind:
        return "Keystone refused the application credential (wrong id, name or secret?)"
    user = auth.get("username") or auth.get("user_id") or "?"
    user_domain = auth.get("user_domain_name") or auth.get("user_domain_id") or "default"
    url = str(auth.get("auth_url", "")).rstrip("/")
    plugin = v3.Password(
        auth_url=url,
        username=auth.get("username"),
        user_id=auth.get("user_id"),
        password=str(auth.get("password", "")),
        user_domain_id=auth.get("user_domain_id"),
        user_domain_name=auth.get("user_domain_name"),
        unscoped=True,
    )
    session = ks_session.Session(auth=plugin, verify=config.get("verify", True))
    try:
        session.get_token()
    except ks.http.Unauthorized:
        return (
            f"Keystone refused the password of user '{user}' in domain '{user_domain}' "
            "(wrong password, or no such user in that domain)"
        )
    base = url if url.endswith("/v3") else url + "/v3"
    projects = session.get(base + "/auth/projects").json().get("projects", [])
    domains = session.get(base + "/auth/domains").json().get("domains", [])
    domain_names = {d["id"]: d["name"] for d in domains}
    domain_names.setdefault("default", "Default")
    project = auth.get("project_name") or auth.get("project_id")
    if project:
        same = [p for p in projects if project in (p.get("name"), p.get("id"))]
        if not same:
            names = [str(p.get("name")) for p in projects]
            return f"{NotFound('project', str(project), names)} (projects of user '{user}')"
        wanted = auth.get("project_domain_name") or auth.get("project_domain_id")
        if wanted:
            homes = {p["domain_id"] for p in same} | {
                domain_names.get(p["domain_id"], "") for p in same
            }
            if wanted not in homes and str(wanted).lower() not in {h.lower() for h in homes}:
                where = ", ".join(
                    sorted(domain_names.get(p["domain_id"], p["domain_id"]) for p in same)
                )
                return (
                    f"domain '{wanted}' not found for project '{project}' "
                    f"(the project is in domain {where})"
                )
    scope_domain = auth.get("domain_name") or auth.get("domain_id")
    if scope_domain and not project:
        names = list(domain_names.values())
        if scope_domain not in names and scope_domain not in domain_names:
            return f"{NotFound('domain', str(scope_domain), names)} (domains of user '{user}')"
    return f"Keystone refused the scope of user '{user}' (no role on the project or domain?)"


def _config_files() -> list[str]:
    """Where clouds.yaml is looked for: OS_CLIENT_CONFIG_FILE first, then openstacksdk's own
    places (its loader skips the variable once OS_* loading is off)."""
    import os

    from openstack.config import loader

    override = os.environ.get("OS_CLIENT_CONFIG_FILE", "")
    return [*([override] if override else []), *loader.CONFIG_FILES]


def _secure_files() -> list[str]:
    import os

    from openstack.config import loader

    override = os.environ.get("OS_CLIENT_SECURE_FILE", "")
    return [*([override] if override else []), *loader.SECURE_FILES]


# ---------------------------------------------------------------------- conversions
def _capped(proxy: Any, cap: str) -> str | None:
    """The highest microversion both the service and we accept, up to `cap`."""
    from openstack import utils

    return utils.maximum_supported_microversion(proxy, cap)  # type: ignore[no-any-return]


def _body_message(response: Any) -> str:
    try:
        data = response.json()
    except ValueError:
        return (response.text or response.reason or "").strip()[:500]
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, dict) and "message" in value:
                return str(value["message"])
        if "message" in data:
            return str(data["message"])
    return str(data)[:500]


def _server(s: Any) -> Server:
    addresses: list[Address] = []
    for network, items in sorted((s.addresses or {}).items()):
        for item in items or []:
            addresses.append(
                Address(
                    network,
                    str(item.get("addr", "")),
                    int(item.get("version", 4) or 4),
                    str(item.get("OS-EXT-IPS:type", "fixed") or "fixed"),
                )
            )
    fault = s.fault or {}
    return Server(
        id=s.id,
        name=s.name or "",
        status=(s.status or "").upper(),
        addresses=tuple(addresses),
        access_ipv4=s.access_ipv4 or "",
        access_ipv6=s.access_ipv6 or "",
        metadata={str(k): str(v) for k, v in (s.metadata or {}).items()},
        fault=str(fault.get("message", "")) if isinstance(fault, dict) else str(fault),
        progress=int(s.progress or 0),
    )


def _image(i: Any) -> Image:
    props = {str(k): str(v) for k, v in (i.properties or {}).items()}
    return Image(
        id=i.id,
        name=i.name or "",
        status=i.status or "",
        owner=i.owner or i.owner_id or "",
        visibility=i.visibility or "",
        tags=tuple(i.tags or ()),
        properties=props,
        min_disk=int(i.min_disk or 0),
        size=int(i.size or 0),
        created_at=str(i.created_at or ""),
    )


def _volume(v: Any) -> Volume:
    meta = {str(k): str(val) for k, val in (v.metadata or {}).items()}
    return Volume(v.id, v.name or "", v.status or "", int(v.size or 0), meta)


def _ip(i: Any) -> FloatingIP:
    return FloatingIP(
        id=i.id,
        address=i.floating_ip_address or "",
        port_id=i.port_id or "",
        status=i.status or "",
        network_id=i.floating_network_id or "",
        description=i.description or "",
    )
