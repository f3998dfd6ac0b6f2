"""AWS access options (credentials, region, endpoint, retries, polling) shared by amazon builders."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field

from builder.amazon.common.driver import SessionSettings, default_region
from builder.config import PluginConfig, Secret, StrList, config_check, option_error
from builder.errors import TemplateError

RETRY_MODES = ("standard", "adaptive", "legacy")


class _Block(BaseModel):
    """A nested option block: unknown keys are errors, values coerce like the top level."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)


class AssumeRoleConfig(_Block):
    """`assume_role`: the role to assume through STS with the base credentials."""

    role_arn: str = ""
    session_name: str = ""
    duration_seconds: int = 0
    external_id: str = ""
    policy: str = ""
    policy_arns: StrList = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    transitive_tag_keys: StrList = Field(default_factory=list)


class PollingConfig(_Block):
    """`aws_polling`: how waiters poll (seconds between polls, polls before giving up)."""

    delay_seconds: float = 0
    max_attempts: int = 0


class VaultAWSEngine(_Block):
    """`vault_aws_engine`: recognised so the error can say it is unsupported.

    None of these is a secret: Vault's token comes from VAULT_TOKEN, never the template.
    """

    name: str = ""
    role_arn: str = ""
    ttl: str = ""
    engine_name: str = ""


class AccessConfig(PluginConfig):
    """Packer's AccessConfig: where the credentials, region and endpoint come from."""

    access_key: Secret = ""
    secret_key: Secret = ""
    token: Secret = ""
    profile: str = ""
    shared_credentials_file: str = ""
    mfa_code: Secret = ""
    region: str = ""
    assume_role: AssumeRoleConfig = Field(default_factory=AssumeRoleConfig)
    custom_endpoint_ec2: str = ""
    insecure_skip_tls_verify: bool = False
    max_retries: int = 0
    skip_metadata_api_check: bool = False
    skip_credential_validation: bool = False
    skip_region_validation: bool = False
    decode_authorization_messages: bool = False
    aws_polling: PollingConfig = Field(default_factory=PollingConfig)
    vault_aws_engine: VaultAWSEngine | None = None

    def build_region(self) -> str:
        """The region to build in: the option, else AWS_REGION / AWS_DEFAULT_REGION."""
        return self.region or default_region()

    @config_check
    def check_access(self) -> list[TemplateError]:
        """Packer's AccessConfig.Prepare checks."""
        errs: list[TemplateError] = []
        if bool(self.access_key) != bool(self.secret_key):
            errs.append(
                option_error(
                    "`access_key` and `secret_key` must both be either set or not set.",
                    "access_key" if self.access_key else "secret_key",
                )
            )
        if not self.build_region():
            errs.append(
                option_error(
                    "region must be specified",
                    "region",
                    hint='set "region" or the AWS_REGION environment variable',
                )
            )
        if self.vault_aws_engine is not None:
            errs.append(
                option_error(
                    "vault_aws_engine is not supported by pybuild",
                    "vault_aws_engine",
                    hint="pass the credentials through variables or the AWS_* environment",
                )
            )
        if self.max_retries < 0:
            errs.append(option_error("must not be negative", "max_retries"))
        mode = os.environ.get("AWS_RETRY_MODE", "")
        if mode and mode not in RETRY_MODES:
            errs.append(
                option_error(
                    f"AWS_RETRY_MODE must be one of {', '.join(RETRY_MODES)}, not {mode!r}",
                    "max_retries",
                    hint="unset AWS_RETRY_MODE to use botocore's standard retries",
                )
            )
        polling = self.aws_polling
        for name, value in (
            ("delay_seconds", polling.delay_seconds),
            ("max_attempts", polling.max_attempts),
        ):
            if value < 0:
                errs.append(option_error("must not be negative", "aws_polling", name))
        role = self.assume_role
        if role.duration_seconds and not 900 <= role.duration_seconds <= 43200:
            errs.append(
                option_error(
                    "must be between 900 and 43200 seconds", "assume_role", "duration_seconds"
                )
            )
        if not role.role_arn and (role.session_name or role.external_id or role.policy):
            errs.append(
                option_error(
                    "role_arn is required when assume_role is given", "assume_role", "role_arn"
                )
            )
        return errs

    def session_settings(self) -> SessionSettings:
        """The plain settings the driver needs to open sessions (no SDK types)."""
        role = self.assume_role
        return SessionSettings(
            region=self.build_region(),
            access_key=self.access_key,
            secret_key=self.secret_key,
            token=self.token,
            profile=self.profile,
            shared_credentials_file=os.path.expanduser(self.shared_credentials_file)
            if self.shared_credentials_file
            else "",
            endpoint=self.custom_endpoint_ec2,
            verify_tls=not self.insecure_skip_tls_verify,
            max_retries=self.max_retries,
            retry_mode=os.environ.get("AWS_RETRY_MODE", "") or "standard",
            mfa_code=self.mfa_code,
            decode_authorization_messages=self.decode_authorization_messages,
            role_arn=role.role_arn,
            role_session_name=role.session_name,
            role_duration=role.duration_seconds,
            role_external_id=role.external_id,
            role_policy=role.policy,
            role_policy_arns=tuple(role.policy_arns),
            role_tags=tuple(sorted(role.tags.items())),
            role_transitive_tag_keys=tuple(role.transitive_tag_keys),
        )
