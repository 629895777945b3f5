"""Exceptions raised by the F&O client.

Every message names the cause and the fix, and passes through :func:`~d365_assets.fo.redact.redact`
first, so no secret, bearer token or SAS signature ever reaches a log or a traceback.

::

    D365Error                      base class: catch this to catch everything below
    ├── InsecureUrlError           an environment or authority URL that is not HTTPS
    ├── UnsafeExecutionIdError     an execution id that cannot safely name a file
    ├── AuthenticationError        no token from Entra ID, or F&O answered 401 to a valid token
    ├── ApiError                   an F&O action failed (HTTP status, OData error, or unreachable)
    │   └── ExecutionNotFoundError F&O answered 400 to GetExecutionSummaryStatus: it does not know
    │                              the execution (yet)
    ├── ExportFailedError          the export ended Failed, Canceled or Unknown
    ├── ExportTimeoutError         the export (or its package URL) did not finish within the timeout
    ├── PackageDownloadError       the package could not be downloaded from blob storage
    ├── ActivityIdError            a recurring job's activity id that is not a GUID (nothing was sent)
    └── RecurringMessageError      a dequeued message that cannot be used: an ill-formed answer, or a
                                   download location outside the environment (nothing was fetched)
"""

from __future__ import annotations

from d365_assets.errors import D365AssetsError

__all__ = [
    "ActivityIdError",
    "ApiError",
    "AuthenticationError",
    "D365Error",
    "ExecutionNotFoundError",
    "ExportFailedError",
    "ExportTimeoutError",
    "InsecureUrlError",
    "PackageDownloadError",
    "RecurringMessageError",
    "UnsafeExecutionIdError",
]


class D365Error(D365AssetsError):
    """Base class of every error raised by :mod:`d365_assets.fo`."""


class InsecureUrlError(D365Error):
    """A URL that would carry a token, a secret or a package is not HTTPS (nothing was sent to it).

    ``url`` is the URL as shown: scheme, host and path, never its query (a SAS) or a password.
    """

    def __init__(self, text: str, *, url: str) -> None:
        super().__init__(text)
        self.url = url


class UnsafeExecutionIdError(D365Error):
    """An execution id that would name a file outside the package folder, or an unusable one.

    Raised before anything is written; ``execution_id`` is the id as received (possibly shortened).
    """

    def __init__(self, text: str, *, execution_id: str) -> None:
        super().__init__(text)
        self.execution_id = execution_id


class AuthenticationError(D365Error):
    """No access token could be obtained, or F&O rejected it."""


class ApiError(D365Error):
    """An F&O data management action failed.

    ``status_code`` is the HTTP status (``None`` when F&O could not be reached at all), ``message`` the
    OData error message, ``inner_message`` the ``innererror.message`` (the useful part on F&O; shown,
    never interpreted), and ``action`` the DMF action called. ``unanswered`` is True when F&O may have
    run the action without its answer arriving (a timeout, a dropped connection, a 5xx other than
    503): what the action did is then unknown.
    """

    def __init__(
        self,
        text: str,
        *,
        status_code: int | None = None,
        message: str = "",
        inner_message: str = "",
        action: str = "",
        unanswered: bool = False,
    ) -> None:
        super().__init__(text)
        self.status_code = status_code
        self.message = message
        self.inner_message = inner_message
        self.action = action
        self.unanswered = unanswered


class ExecutionNotFoundError(ApiError):
    """F&O answered 400 to ``GetExecutionSummaryStatus``: it does not know the execution (yet).

    Normal for a while after ``ExportToPackage`` (the batch job is not created yet). Recognised by the
    action and the HTTP status alone, never by F&O's wording.
    """


class ExportFailedError(D365Error):
    """The export ended ``Failed``, ``Canceled`` or ``Unknown``; ``errors`` holds F&O's messages."""

    def __init__(self, text: str, *, execution_id: str, status: str, errors: list[str]) -> None:
        super().__init__(text)
        self.execution_id = execution_id
        self.status = status
        self.errors = list(errors)


class ExportTimeoutError(D365Error):
    """The export did not reach a final status (or publish its package URL) in time."""

    def __init__(self, text: str, *, execution_id: str) -> None:
        super().__init__(text)
        self.execution_id = execution_id


class PackageDownloadError(D365Error):
    """The exported package could not be downloaded, or arrived incomplete."""

    def __init__(self, text: str, *, execution_id: str = "", status_code: int | None = None) -> None:
        super().__init__(text)
        self.execution_id = execution_id
        self.status_code = status_code
        """The blob host's HTTP status when it refused the download (404: the package is gone)."""

    @property
    def package_gone(self) -> bool:
        """True when the blob no longer exists (F&O deletes packages after 7 days): export again."""
        return self.status_code == 404


class ActivityIdError(D365Error, ValueError):
    """A recurring data job's activity id that is not a GUID; refused before it reaches a URL or a file."""


class RecurringMessageError(D365Error):
    """A message of the recurring integrations API that cannot be used as it came.

    ``correlation_id`` is the message's id when it was readable (else ``""``). Raised for a dequeue
    answer without its fields (or with fields of the wrong type), and for a download location on
    another host than the environment's; nothing was downloaded or acknowledged.
    """

    def __init__(self, text: str, *, correlation_id: str = "") -> None:
        super().__init__(text)
        self.correlation_id = correlation_id
