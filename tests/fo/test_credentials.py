"""Credentials: authority URLs (Entra ID and AD FS) and the certificate's msal form."""

from __future__ import annotations

from pathlib import Path

import pytest

from d365_assets.emulator import Emulator
from d365_assets.fo import AuthenticationError, ClientCertificateCredential, ClientSecretCredential


@pytest.mark.parametrize(
    ("host", "tenant", "authority", "adfs"),
    [
        ("https://login.microsoftonline.com/", "t1", "https://login.microsoftonline.com/t1", False),
        ("https://adfs.contoso.com/adfs", "ignored", "https://adfs.contoso.com/adfs", True),
        ("https://adfs.contoso.com", "adfs", "https://adfs.contoso.com/adfs", True),
    ],
)
def test_authority(host: str, tenant: str, authority: str, adfs: bool) -> None:
    credential = ClientSecretCredential(tenant, "client", "s3cret-value", authority_host=host)
    assert credential.authority == authority
    assert credential.is_adfs is adfs
    assert "s3cret-value" not in repr(credential)


def test_certificate_msal_form(tmp_path: Path) -> None:
    pem = Emulator(tmp_path / "emulator").client_certificate  # the app registration's PEM (key + certificate)
    form = ClientCertificateCredential("t", "c", pem).msal_credential()
    assert form["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert len(form["thumbprint"]) == 40
    assert (
        ClientCertificateCredential("t", "c", pem, thumbprint="ab:cd").msal_credential()["thumbprint"]
        == "ABCD"
    )
    with pytest.raises(AuthenticationError, match="cannot read certificate"):
        ClientCertificateCredential("t", "c", tmp_path / "missing.pem").msal_credential()
    (tmp_path / "bad.pem").write_text("nothing")
    with pytest.raises(AuthenticationError, match="no usable private key"):
        ClientCertificateCredential("t", "c", tmp_path / "bad.pem").msal_credential()
