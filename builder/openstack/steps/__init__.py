"""The openstack steps, one per file, in the order a build runs them."""

from builder.openstack.steps.host import comm_host, server_address
from builder.openstack.steps.step_add_image_members import StepAddImageMembers
from builder.openstack.steps.step_allocate_ip import StepAllocateIp
from builder.openstack.steps.step_create_image import StepCreateImage
from builder.openstack.steps.step_create_volume import StepCreateVolume
from builder.openstack.steps.step_detach_volume import StepDetachVolume
from builder.openstack.steps.step_discover_network import StepDiscoverNetwork
from builder.openstack.steps.step_key_pair import StepKeyPair
from builder.openstack.steps.step_load_flavor import StepLoadFlavor
from builder.openstack.steps.step_run_source_server import StepRunSourceServer
from builder.openstack.steps.step_source_image_info import StepSourceImageInfo
from builder.openstack.steps.step_stop_server import StepStopServer
from builder.openstack.steps.step_update_image_mindisk import StepUpdateImageMinDisk
from builder.openstack.steps.step_update_image_tags import StepUpdateImageTags
from builder.openstack.steps.step_update_image_visibility import StepUpdateImageVisibility
from builder.openstack.steps.step_wait_for_rackconnect import StepWaitForRackConnect

__all__ = [
    "StepAddImageMembers",
    "StepAllocateIp",
    "StepCreateImage",
    "StepCreateVolume",
    "StepDetachVolume",
    "StepDiscoverNetwork",
    "StepKeyPair",
    "StepLoadFlavor",
    "StepRunSourceServer",
    "StepSourceImageInfo",
    "StepStopServer",
    "StepUpdateImageMinDisk",
    "StepUpdateImageTags",
    "StepUpdateImageVisibility",
    "StepWaitForRackConnect",
    "comm_host",
    "server_address",
]
