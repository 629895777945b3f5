"""App-registration credentials for the client-credentials flow: a client secret or a certificate.

Both build the msal authority from ``authority_host`` and ``tenant_id``. For **AD FS** (F&O
on-premises) give ``authority_host="https://adfs.contoso.com/adfs"`` (any tenant id), or the AD FS
host with ``tenant_id="adfs"``: the authority is then ``https://adfs.contoso.com/adfs``, msal treats it
as AD FS (``/.well-known/openid-configuration`` without ``/v2.0``, no instance discovery, SHA-1
certificate thumbprints) and the client also passes ``validate_authority=False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from .errors import AuthenticationError
from .urls import require_https_authority

__all__ = ["ClientCertificateCredential", "ClientSecretCredential", "Credential", "authority_url"]

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"


def authority_url(authority_host: str, tenant_id: str) -> str:
    """``<host>/<tenant>``; an AD FS host (ending in ``/adfs``, or tenant ``adfs``) gives ``<host>/adfs``."""
    host = authority_host.strip().rstrip("/")
    if host.lower().endswith("/adfs"):
        return host
    if tenant_id.strip().lower() == "adfs":
        return f"{host}/adfs"
    return f"{host}/{tenant_id.strip()}"


class _Authority:
    """The msal authority of an app registration (mixed into the credential dataclasses)."""

    tenant_id: str
    authority_host: str

    def __post_init__(self) -> None:
        # The secret (or a signed assertion) goes to the authority: refuse anything but HTTPS at once.
        require_https_authority(self.authority)

    @property
    def authority(self) -> str:
        """The msal authority: ``<authority_host>/<tenant_id>`` (AD FS: ``<host>/adfs``)."""
        return authority_url(self.authority_host, self.tenant_id)

    @property
    def is_adfs(self) -> bool:
        """Whether the authority is AD FS (on-premises)."""
        return self.authority.lower().endswith("/adfs")


@dataclass(frozen=True)
class ClientSecretCredential(_Authority):
    """An Entra ID app registration's client-credentials secret. The secret never shows in ``repr``."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    authority_host: str = DEFAULT_AUTHORITY_HOST

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in logs or errors."""
        return (self.client_secret,)

    def msal_credential(self) -> Any:
        """msal's ``client_credential``: the secret."""
        return self.client_secret


@dataclass(frozen=True)
class ClientCertificateCredential(_Authority):
    """An app registration's certificate: a PEM file holding the private key and the certificate.

    ``thumbprint`` is the certificate's SHA-1 thumbprint (hex, as the Entra/AD FS portal shows it);
    when omitted it is computed from the certificate in the file. msal signs a client assertion
    (RS256 JWT, ``x5t`` header) with the key for every token request; the key never leaves the
    process. ``passphrase`` decrypts an encrypted key.
    """

    tenant_id: str
    client_id: str
    certificate_path: str | Path
    thumbprint: str | None = None
    authority_host: str = DEFAULT_AUTHORITY_HOST
    passphrase: str | None = field(default=None, repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in logs or errors."""
        return (self.passphrase,) if self.passphrase else ()

    def msal_credential(self) -> dict[str, str]:
        """msal's ``client_credential``: ``{"private_key": <PKCS#8 PEM>, "thumbprint": <SHA-1 hex>}``."""
        path = Path(self.certificate_path)
        fix = "point the certificate path at a PEM file holding the private key and the certificate"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AuthenticationError(
                f"cannot read certificate {str(path)!r} ({exc.strerror}); {fix}"
            ) from None
        password = self.passphrase.encode() if self.passphrase else None
        try:
            key = serialization.load_pem_private_key(data, password=password)
            certificate = x509.load_pem_x509_certificate(data)
        except (ValueError, TypeError) as exc:
            raise AuthenticationError(
                f"certificate file {str(path)!r} has no usable private key and certificate "
                f"({type(exc).__name__}); {fix} (and the passphrase, if the key is encrypted)"
            ) from None
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        thumbprint = self.thumbprint or certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303
        return {"private_key": private_pem, "thumbprint": thumbprint.replace(":", "").upper()}


Credential = ClientSecretCredential | ClientCertificateCredential
"""Either kind of app-registration credential."""
