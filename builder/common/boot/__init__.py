"""Typing a boot command: Packer's key language, its options, the VNC sender and the step.

Heavy pieces stay out of this import: the VNC client lives in `builder.common.boot.vnc`.
"""

from builder.common.boot.config import BootConfig, VNCConfig, key_interval
from builder.common.boot.keys import (
    Action,
    BootCommandError,
    KeyDown,
    KeyPress,
    KeyUp,
    Wait,
    keysym,
    parse,
    problems,
    usb_usage,
)
from builder.common.boot.step_boot_command import (
    BootCommandRun,
    BootCommandTemplateData,
    KeySender,
    StepTypeBootCommand,
    key_events,
    type_keys,
)

__all__ = [
    "Action",
    "BootCommandError",
    "BootCommandRun",
    "BootCommandTemplateData",
    "BootConfig",
    "KeyDown",
    "KeyPress",
    "KeySender",
    "KeyUp",
    "StepTypeBootCommand",
    "VNCConfig",
    "Wait",
    "key_events",
    "key_interval",
    "keysym",
    "parse",
    "problems",
    "type_keys",
    "usb_usage",
]
