"""The HTTP server a build serves `http_directory` from, for boot commands and installers.

`FileServer` lives in `builder.common.http.server`, imported when a server starts.
"""

from builder.common.http.config import HTTPConfig
from builder.common.http.step_http_server import (
    HTTPRun,
    HTTPRunFields,
    StepHTTPServer,
    http_build_data,
)

__all__ = [
    "HTTPConfig",
    "HTTPRun",
    "HTTPRunFields",
    "StepHTTPServer",
    "http_build_data",
]
