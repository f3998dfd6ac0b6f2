"""sdk.py's offline parts: Packer 1.6.6's domain and scope rules as keystoneauth options."""

from __future__ import annotations

from builder.openstack.driver import OpenStackSettings
from builder.openstack.sdk import _interface, auth_options


def test_domain_name_is_the_users_and_the_projects() -> None:
    kind, auth = auth_options(
        OpenStackSettings(
            identity_endpoint="u", username="a", password="p", tenant_name="t", domain_name="D"
        )  # fmt: skip
    )
    assert kind == "password"
    assert auth == {"auth_url": "u", "username": "a", "password": "p", "project_name": "t",
                    "project_domain_name": "D", "user_domain_name": "D"}  # fmt: skip


def test_explicit_user_and_project_domains_win() -> None:
    _, auth = auth_options(
        OpenStackSettings(
            identity_endpoint="u",
            username="a",
            password="p",
            tenant_name="t",
            domain_name="D",
            user_domain_id="ud",
            project_domain_name="PD",
        )  # fmt: skip
    )
    assert "user_domain_name" not in auth and auth["user_domain_id"] == "ud"
    assert auth["project_domain_name"] == "PD"


def test_no_project_is_a_domain_scope_and_a_project_id_needs_no_domain() -> None:
    _, auth = auth_options(
        OpenStackSettings(identity_endpoint="u", username="a", password="p", domain_name="D")
    )
    assert auth["domain_name"] == "D" and "project_name" not in auth
    _, auth = auth_options(
        OpenStackSettings(identity_endpoint="u", user_id="uid", password="p", tenant_id="pid")
    )
    assert auth == {"auth_url": "u", "user_id": "uid", "password": "p", "project_id": "pid"}


def test_token_and_application_credentials() -> None:
    kind, auth = auth_options(OpenStackSettings(identity_endpoint="u", token="tok", tenant_id="p"))
    assert kind == "v3token" and auth == {"auth_url": "u", "token": "tok", "project_id": "p"}
    kind, auth = auth_options(
        OpenStackSettings(
            identity_endpoint="u",
            application_credential_id="ac",
            application_credential_secret="s",
            tenant_name="ignored",
        )  # fmt: skip
    )
    assert kind == "v3applicationcredential"
    assert auth == {"auth_url": "u", "application_credential_id": "ac",
                    "application_credential_secret": "s"}  # fmt: skip


def test_endpoint_types() -> None:
    assert [_interface(t) for t in ("", "public", "internalURL", "admin")] == [
        "public", "public", "internal", "admin",
    ]  # fmt: skip


def test_sdk_is_not_imported_by_the_builder_package() -> None:
    import subprocess
    import sys

    code = ("import sys, builder.openstack, builder.openstack.resources; "
            "print(any(m.split('.')[0] in ('openstack', 'keystoneauth1') for m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
