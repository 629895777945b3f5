"""F&O client: Entra ID auth (msal as an httpx.Auth), DMF package actions, polling and download.

::

    from d365_assets.fo import ClientSecretCredential, D365Client

    credential = ClientSecretCredential(tenant_id, client_id, client_secret)
    with D365Client(environment_url=url, credential=credential) as client:
        package = client.export_package(data_project="D365A-CustomersV3", legal_entity="USMF",
                                        destination_dir=Path("packages"))

The public names are below; the modules behind them (transport, auth, polling, blob, diagnosis,
redaction, TLS, URL display) are internal and may change.
"""

from .client import D365Client
from .credentials import (
    DEFAULT_AUTHORITY_HOST,
    ClientCertificateCredential,
    ClientSecretCredential,
    Credential,
)
from .errors import (
    ActivityIdError,
    ApiError,
    AuthenticationError,
    D365Error,
    ExecutionNotFoundError,
    ExportFailedError,
    ExportTimeoutError,
    InsecureUrlError,
    PackageDownloadError,
    RecurringMessageError,
    UnsafeExecutionIdError,
)
from .execution_ids import is_safe_execution_id
from .messages import DequeuedMessage, MessageStatus, is_guid, normalize_activity_id
from .metadata import MetadataError
from .models import DownloadedFile, ExecutionStatus, ExportedPackage
from .options import HttpOptions, PollOptions
from .recurring import RecurringClient
from .retry import RetryPolicy
from .urls import normalize_environment_url, require_https_authority

__all__ = [
    "DEFAULT_AUTHORITY_HOST",
    "ActivityIdError",
    "ApiError",
    "AuthenticationError",
    "ClientCertificateCredential",
    "ClientSecretCredential",
    "Credential",
    "D365Client",
    "D365Error",
    "DequeuedMessage",
    "DownloadedFile",
    "ExecutionNotFoundError",
    "ExecutionStatus",
    "ExportFailedError",
    "ExportTimeoutError",
    "ExportedPackage",
    "HttpOptions",
    "InsecureUrlError",
    "MessageStatus",
    "MetadataError",
    "PackageDownloadError",
    "PollOptions",
    "RecurringClient",
    "RecurringMessageError",
    "RetryPolicy",
    "UnsafeExecutionIdError",
    "is_guid",
    "is_safe_execution_id",
    "normalize_activity_id",
    "normalize_environment_url",
    "require_https_authority",
]
