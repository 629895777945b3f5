"""F&O client: Entra ID auth (msal as an httpx.Auth), DMF package actions, polling and download.

::

    from d365_assets.fo import ClientSecretCredential, D365Client

    credential = ClientSecretCredential(tenant_id, client_id, client_secret)
    with D365Client(environment_url=url, credential=credential) as client:
        package = client.export_package(data_project="D365A-CustomersV3", legal_entity="USMF",
                                        destination_dir=Path("packages"))
"""

from .auth import MsalAuth, MsalHttpClient
from .client import D365Client
from .credentials import ClientCertificateCredential, ClientSecretCredential, Credential
from .errors import (
    ApiError,
    AuthenticationError,
    D365Error,
    ExecutionNotFoundError,
    ExportFailedError,
    ExportTimeoutError,
    InsecureUrlError,
    PackageDownloadError,
    UnsafeExecutionIdError,
)
from .execution_ids import is_safe_execution_id, new_execution_id
from .models import DownloadedFile, ExecutionStatus, ExportedPackage
from .redact import RedactingFilter, redact
from .retry import RetryPolicy
from .tls import ssl_context
from .urls import display_url, normalize_environment_url, token_scope

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ClientCertificateCredential",
    "ClientSecretCredential",
    "Credential",
    "D365Client",
    "D365Error",
    "DownloadedFile",
    "ExecutionNotFoundError",
    "ExecutionStatus",
    "ExportFailedError",
    "ExportTimeoutError",
    "ExportedPackage",
    "InsecureUrlError",
    "MsalAuth",
    "MsalHttpClient",
    "PackageDownloadError",
    "RedactingFilter",
    "RetryPolicy",
    "UnsafeExecutionIdError",
    "display_url",
    "is_safe_execution_id",
    "new_execution_id",
    "normalize_environment_url",
    "redact",
    "ssl_context",
    "token_scope",
]
