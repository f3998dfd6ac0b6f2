"""`ISOConfig`: the ISO options of the ISO builders (Packer 1.6.6's names, defaults, checks)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from pydantic import Field, field_validator

from builder.common.iso.checksum import ChecksumError, ChecksumSpec, parse_checksum
from builder.config import PluginConfig, StrList, config_check, option_error
from builder.errors import TemplateError

SCHEMES = ("http", "https", "file")  # and plain local paths
NONE_WARNING = (
    "A checksum of 'none' was specified. Since ISO files are so big,\n"
    "a checksum is highly recommended."
)


class ISOConfig(PluginConfig):
    """Where the ISO comes from, how it is verified, and where the download goes.

    `iso_checksum_type` and `iso_checksum_url` were removed in Packer 1.6.0; they are
    declared only so that a template using them gets Packer's error and the replacement.
    """

    iso_checksum: str = ""
    iso_url: str = ""
    iso_urls: StrList = Field(default_factory=list)
    iso_target_path: str = ""
    iso_target_extension: str = "iso"
    iso_skip_cache: bool = False
    iso_checksum_type: str = Field(default="", json_schema_extra={"deprecated": True})
    iso_checksum_url: str = Field(default="", json_schema_extra={"deprecated": True})

    @field_validator("iso_target_extension", mode="before")
    @classmethod
    def _extension(cls, value: Any) -> Any:
        """Lower case; empty means the default, as Packer's Prepare does."""
        if isinstance(value, str):
            return value.lower() or "iso"
        return value

    @property
    def urls(self) -> list[str]:
        """`iso_url`, or `iso_urls` in order (Packer folds the one into the other)."""
        return [self.iso_url, *self.iso_urls] if self.iso_url else list(self.iso_urls)

    def checksum(self) -> ChecksumSpec:
        """The parsed `iso_checksum` (checked at validate, so it parses at run time)."""
        return parse_checksum(self.iso_checksum)

    def iso_warnings(self) -> list[str]:
        """Packer's warning for `none`; the builder returns these from `warnings()`."""
        out: list[str] = []
        if self.iso_checksum == "none":
            out.append(NONE_WARNING)
        return out

    @config_check
    def check_iso(self) -> list[TemplateError]:
        """Packer's ISOConfig checks; the checksum's form is checked here, not at run time."""
        errors = self._deprecated()
        if self.iso_url and self.iso_urls:
            errors.append(
                option_error("Only one of iso_url or iso_urls must be specified", "iso_urls")
            )
        elif not self.urls:
            errors.append(option_error("One of iso_url or iso_urls must be specified", "iso_url"))
        errors.extend(self._url_errors())
        try:
            parse_checksum(self.iso_checksum)
        except ChecksumError as exc:
            errors.append(option_error(exc.message, "iso_checksum", hint=exc.hint))
        return errors

    def _deprecated(self) -> list[TemplateError]:
        out: list[TemplateError] = []
        typed = self.iso_checksum
        if ":" not in typed and typed not in ("", "none"):
            typed = f"{self.iso_checksum_type}:{typed}"  # packer fix's rewrite
        for key, replacement in (
            ("iso_checksum_type", typed),
            ("iso_checksum_url", f"file:{self.iso_checksum_url}"),
        ):
            if self.was_set(key):
                out.append(
                    option_error(
                        f"Deprecated configuration key: '{key}'. Packer 1.6 removed it",
                        key,
                        hint=f'write the checksum as "iso_checksum": "{replacement}"',
                    )
                )
        return out

    def _url_errors(self) -> list[TemplateError]:
        keyed: list[tuple[tuple[str | int, ...], str]] = []
        if self.iso_url:
            keyed.append((("iso_url",), self.iso_url))
        keyed.extend((("iso_urls", i), url) for i, url in enumerate(self.iso_urls))
        out: list[TemplateError] = []
        for keys, url in keyed:
            problem = url_problem(url)
            if problem:
                out.append(option_error(problem, *keys))
        return out


def url_problem(url: str) -> str:
    """Why pybuild cannot download `url`, or '' when it can."""
    if not url.strip():
        return "the ISO URL is empty"
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if len(scheme) <= 1 or scheme in SCHEMES:  # no scheme (or a drive letter): a local path
        if scheme in ("http", "https") and not urllib.parse.urlsplit(url).hostname:
            return f"the URL {url!r} has no host"
        return ""
    return (
        f"unsupported URL scheme {scheme!r} in {url!r}: pybuild downloads http, https "
        "and file URLs and local paths"
    )
