"""The `docker` builder: build an image in a local Docker engine through its API."""

from builder.docker.builder import Builder

__all__ = ["Builder"]
