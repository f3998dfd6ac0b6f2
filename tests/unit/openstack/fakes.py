"""FakeOpenStack: a stateful fake BELOW THE SDK BOUNDARY — of our OpenStackDriver Protocol.

Not a mock of openstacksdk: dictionaries of flavors, images, servers, key pairs, volumes
and floating IPs that move through their states one poll at a time (a server is BUILD
for `build_polls` reads, then ACTIVE; a snapshot is queued, saving, then active). Every
call is recorded in `calls`; `fail[op] = exc` makes that operation raise once;
`server_error` / `snapshot_fails` make the server go to ERROR and the snapshot be killed.
`check_protocol()` in the tests binds it to the Protocol for mypy.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from builder.openstack.driver import (
    AuthFailed,
    Flavor,
    FloatingIP,
    Image,
    ImageQuery,
    Interface,
    Network,
    NewKeyPair,
    NotFound,
    OpenStackDriver,
    OpenStackError,
    OpenStackSettings,
    Server,
    ServerSpec,
    Subnet,
    Volume,
    VolumeSpec,
)

SOURCE_ID = "11111111-1111-4111-8111-111111111111"
PASSWORD = "secret"


@dataclass
class FakeServer:
    record: Server
    spec: ServerSpec
    reads: int = 0
    target: str = "ACTIVE"  # the status after the pending one
    deleting: bool = False


@dataclass
class FakeImage:
    record: Image
    reads: int = 0
    members: dict[str, str] = field(default_factory=dict)  # member -> status
    server_id: str = ""
    volume_id: str = ""


class FakeOpenStack:
    """One fake cloud; `factory` makes drivers of it (for `OPENSTACK.override`)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail: dict[str, Exception] = {}
        self.settings: OpenStackSettings | None = None
        self.password = PASSWORD
        self.projects = ["admin", "demo"]
        self.flavors = {"1": Flavor("1", "m1.tiny"), "2": Flavor("2", "m1.small")}
        self.images: dict[str, FakeImage] = {}
        self.servers: dict[str, FakeServer] = {}
        self.keypairs: dict[str, str] = {}  # name -> public key
        self.volumes: dict[str, Volume] = {}
        self.floating: dict[str, FloatingIP] = {}
        self.networks = {"ext-net-id": Network("ext-net-id", "public", True)}
        self.subnets_list = [Subnet("priv-net-id", "10.0.0.0/24")]
        self.interfaces: dict[str, list[Interface]] = {}
        self.addresses: tuple[Any, ...] = ()  # addresses an ACTIVE server gets
        self.build_polls = 1
        self.server_error = ""
        self.snapshot_fails = False
        self.stop_conflict = False
        self.closed = 0
        self._ids = itertools.count(1)
        self.add_image(SOURCE_ID, "pybuild-base", min_disk=1, size=64 << 20)

    def factory(self, settings: OpenStackSettings) -> FakeDriver:
        self.settings = settings
        return FakeDriver(self)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):04d}"

    def add_image(self, image_id: str, name: str, **kw: Any) -> Image:
        image = Image(image_id, name, **kw)
        self.images[image_id] = FakeImage(image)
        return image

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]

    def image(self, image_id: str) -> Image:
        return self.images[image_id].record

    def live(self) -> dict[str, list[str]]:
        """What a leak check would see: servers, key pairs, volumes, floating IPs."""
        return {
            "servers": sorted(self.servers),
            "keypairs": sorted(self.keypairs),
            "volumes": sorted(self.volumes),
            "floating_ips": sorted(self.floating),
        }


class FakeDriver:
    """OpenStackDriver over a FakeOpenStack."""

    def __init__(self, cloud: FakeOpenStack):
        self.cloud = cloud

    def _op(self, name: str, arg: Any = None) -> None:
        self.cloud.calls.append((name, arg))
        exc = self.cloud.fail.pop(name, None)
        if exc is not None:
            raise exc

    # session
    def authenticate(self) -> None:
        self._op("authenticate")
        s = self.cloud.settings
        if s is None:
            return
        if s.password and s.password != self.cloud.password:
            raise AuthFailed(
                f"Keystone refused the password of user '{s.username}' in domain 'Default'"
            )
        if s.tenant_name and s.tenant_name not in self.cloud.projects:
            raise AuthFailed(str(NotFound("project", s.tenant_name, self.cloud.projects)))

    def close(self) -> None:
        self.cloud.closed += 1

    # compute
    def get_flavor(self, name_or_id: str) -> Flavor:
        self._op("get_flavor", name_or_id)
        flavors = self.cloud.flavors
        if name_or_id in flavors:
            return flavors[name_or_id]
        for flavor in flavors.values():
            if flavor.name == name_or_id:
                return flavor
        raise NotFound("flavor", name_or_id, [f.name for f in flavors.values()])

    def create_keypair(self, name: str, public_key: str = "") -> NewKeyPair:
        self._op("create_keypair", name)
        if name in self.cloud.keypairs:
            raise OpenStackError("create keypair", f"Key pair '{name}' already exists.", 409)
        if public_key:
            self.cloud.keypairs[name] = public_key
            return NewKeyPair(name, public_key)
        from builder.communicator.keygen import generate_key_pair

        key = generate_key_pair("rsa", 1024, name)
        self.cloud.keypairs[name] = key.public_line
        return NewKeyPair(name, key.public_line, key.private_pem)

    def keypair_exists(self, name: str) -> bool:
        self._op("keypair_exists", name)
        return name in self.cloud.keypairs

    def delete_keypair(self, name: str) -> bool:
        self._op("delete_keypair", name)
        return self.cloud.keypairs.pop(name, None) is not None

    def create_server(self, spec: ServerSpec) -> str:
        self._op("create_server", spec)
        if spec.image_id and spec.image_id not in self.cloud.images:
            raise OpenStackError("create server", f"Image {spec.image_id} could not be found.", 400)
        server_id = self.cloud.new_id("srv")
        record = Server(server_id, spec.name, "BUILD", metadata=dict(spec.metadata))
        self.cloud.servers[server_id] = FakeServer(record, spec)
        self.cloud.interfaces[server_id] = [Interface(f"port-{server_id}", "priv-net-id")]
        return server_id

    def get_server(self, server_id: str) -> Server | None:
        self._op("get_server", server_id)
        fake = self.cloud.servers.get(server_id)
        if fake is None:
            return None
        fake.reads += 1
        rec = fake.record
        if fake.deleting:
            del self.cloud.servers[server_id]
            return None
        if rec.status == "BUILD" and fake.reads > self.cloud.build_polls:
            if self.cloud.server_error:
                fake.record = replace(rec, status="ERROR", fault=self.cloud.server_error)
            else:
                fake.record = replace(rec, status="ACTIVE", addresses=self.cloud.addresses)
        elif rec.status == "STOPPING":
            fake.record = replace(rec, status="SHUTOFF")
            return replace(rec, status="ACTIVE")
        return fake.record

    def servers(self, *, name: str = "", all_projects: bool = False) -> list[Server]:
        self._op("servers", name)
        found = [f.record for f in self.cloud.servers.values()]
        return [s for s in found if not name or s.name == name]

    def stop_server(self, server_id: str) -> bool:
        self._op("stop_server", server_id)
        if self.cloud.stop_conflict:
            return False
        fake = self.cloud.servers[server_id]
        fake.record = replace(fake.record, status="STOPPING")
        return True

    def delete_server(self, server_id: str, *, force: bool = False) -> bool:
        self._op("force_delete_server" if force else "delete_server", server_id)
        fake = self.cloud.servers.get(server_id)
        if fake is None:
            return False
        fake.deleting = True
        return True

    def create_server_image(self, server_id: str, name: str, metadata: Mapping[str, str]) -> str:
        self._op("create_server_image", (server_id, name, dict(metadata)))
        image_id = self.cloud.new_id("img")
        record = Image(image_id, name, "queued", owner="admin", properties=dict(metadata))
        self.cloud.images[image_id] = FakeImage(record, server_id=server_id)
        return image_id

    def server_interfaces(self, server_id: str) -> list[Interface]:
        self._op("server_interfaces", server_id)
        return list(self.cloud.interfaces.get(server_id, []))

    # images
    def get_image(self, image_id: str) -> Image | None:
        self._op("get_image", image_id)
        fake = self.cloud.images.get(image_id)
        if fake is None:
            return None
        fake.reads += 1
        status = fake.record.status
        if status in ("queued", "saving", "importing"):
            if self.cloud.snapshot_fails and fake.server_id:
                status = "killed"
            else:
                status = {"queued": "saving", "saving": "active", "importing": "active"}[status]
            fake.record = replace(fake.record, status=status)
        return fake.record

    def find_images(self, query: ImageQuery, *, any_status: bool = False) -> list[Image]:
        self._op("find_images", query)
        out = []
        for fake in reversed(list(self.cloud.images.values())):  # newest first
            i = fake.record
            if not any_status and i.status != "active":
                continue
            if query.name and i.name != query.name:
                continue
            if query.owner and i.owner != query.owner:
                continue
            if query.visibility and i.visibility != query.visibility:
                continue
            if any(t not in i.tags for t in query.tags):
                continue
            out.append(i)
        return out

    def image_names(self) -> list[str]:
        self._op("image_names")
        return sorted({f.record.name for f in self.cloud.images.values()})

    def create_image(self, name: str, disk_format: str, properties: Mapping[str, str]) -> Image:
        self._op("create_image", (name, disk_format))
        image_id = self.cloud.new_id("img")
        return self.cloud.add_image(image_id, name, status="queued", properties=dict(properties))

    def import_image(self, image_id: str, url: str) -> None:
        self._op("import_image", (image_id, url))
        fake = self.cloud.images[image_id]
        fake.record = replace(fake.record, status="importing")

    def update_image(
        self,
        image_id: str,
        *,
        tags: Sequence[str] | None = None,
        visibility: str | None = None,
        min_disk: int | None = None,
    ) -> None:
        self._op("update_image", (image_id, tags, visibility, min_disk))
        fake = self.cloud.images[image_id]
        rec = fake.record
        if tags is not None:
            rec = replace(rec, tags=tuple(tags))
        if visibility is not None:
            rec = replace(rec, visibility=visibility)
        if min_disk is not None:
            rec = replace(rec, min_disk=min_disk)
        fake.record = rec

    def add_image_member(self, image_id: str, member: str) -> None:
        self._op("add_image_member", (image_id, member))
        self.cloud.images[image_id].members[member] = "pending"

    def accept_image_member(self, image_id: str, member: str) -> None:
        self._op("accept_image_member", (image_id, member))
        self.cloud.images[image_id].members[member] = "accepted"

    def delete_image(self, image_id: str) -> bool:
        self._op("delete_image", image_id)
        return self.cloud.images.pop(image_id, None) is not None

    # block storage
    def create_volume(self, spec: VolumeSpec) -> str:
        self._op("create_volume", spec)
        volume_id = self.cloud.new_id("vol")
        self.cloud.volumes[volume_id] = Volume(
            volume_id, spec.name, "creating", spec.size, dict(spec.metadata)
        )
        return volume_id

    def get_volume(self, volume_id: str) -> Volume | None:
        self._op("get_volume", volume_id)
        volume = self.cloud.volumes.get(volume_id)
        if volume is not None and volume.status in ("creating", "detaching"):
            volume = self.cloud.volumes[volume_id] = replace(volume, status="available")
        return volume

    def volumes(self, *, name: str = "") -> list[Volume]:
        self._op("volumes", name)
        return [v for v in self.cloud.volumes.values() if not name or v.name == name]

    def delete_volume(self, volume_id: str) -> bool:
        self._op("delete_volume", volume_id)
        return self.cloud.volumes.pop(volume_id, None) is not None

    def detach_volume(self, volume_id: str) -> None:
        self._op("detach_volume", volume_id)
        volume = self.cloud.volumes[volume_id]
        self.cloud.volumes[volume_id] = replace(volume, status="detaching")

    def set_volume_image_metadata(self, volume_id: str, metadata: Mapping[str, str]) -> None:
        self._op("set_volume_image_metadata", (volume_id, dict(metadata)))

    def upload_volume_to_image(self, volume_id: str, name: str, disk_format: str) -> str:
        self._op("upload_volume_to_image", (volume_id, name, disk_format))
        image_id = self.cloud.new_id("img")
        self.cloud.images[image_id] = FakeImage(
            Image(image_id, name, "queued", owner="admin"), volume_id=volume_id
        )
        return image_id

    # network
    def get_floating_ip(self, ip_id: str) -> FloatingIP | None:
        self._op("get_floating_ip", ip_id)
        return self.cloud.floating.get(ip_id)

    def floating_ips(self, *, status: str = "", description: str = "") -> list[FloatingIP]:
        self._op("floating_ips", (status, description))
        return [
            ip
            for ip in self.cloud.floating.values()
            if (not status or ip.status == status)
            and (not description or ip.description == description)
        ]

    def create_floating_ip(self, network_id: str, description: str) -> FloatingIP:
        self._op("create_floating_ip", (network_id, description))
        ip_id = self.cloud.new_id("fip")
        ip = FloatingIP(ip_id, f"203.0.113.{len(self.cloud.floating) + 10}", "", "DOWN",
                        network_id, description)  # fmt: skip
        self.cloud.floating[ip_id] = ip
        return ip

    def associate_floating_ip(self, ip_id: str, port_id: str) -> None:
        self._op("associate_floating_ip", (ip_id, port_id))
        ip = self.cloud.floating[ip_id]
        self.cloud.floating[ip_id] = replace(ip, port_id=port_id, status="ACTIVE")

    def delete_floating_ip(self, ip_id: str) -> bool:
        self._op("delete_floating_ip", ip_id)
        return self.cloud.floating.pop(ip_id, None) is not None

    def find_network(self, name_or_id: str) -> Network:
        self._op("find_network", name_or_id)
        for network in self.cloud.networks.values():
            if name_or_id in (network.id, network.name):
                return network
        raise NotFound("network", name_or_id, [n.name for n in self.cloud.networks.values()])

    def subnets(self) -> list[Subnet]:
        self._op("subnets")
        return list(self.cloud.subnets_list)


def check_protocol(driver: FakeDriver) -> OpenStackDriver:
    """Binds the fake to the Protocol: mypy (and this call) fail when they drift apart."""
    return driver
