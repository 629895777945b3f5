"""The F&O data management client: export a data project to a package and download it."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from d365_assets.schema import EntitySchema

from .auth import MsalAuth, MsalHttpClient
from .blob import BlobDownload
from .credentials import Credential
from .errors import (
    ApiError,
    AuthenticationError,
    D365Error,
    ExecutionNotFoundError,
    ExportFailedError,
    ExportTimeoutError,
)
from .execution_ids import is_safe_execution_id, new_execution_id, package_file_name, unsafe_answer_error
from .metadata import MetadataError, parse_metadata
from .models import DownloadedFile, ExecutionStatus, ExportedPackage
from .odata import action_value, odata_error
from .redact import RedactingFilter, RedactingLog, redact
from .retry import RETRYABLE_STATUS, RetryableResponse, RetryPolicy, retrying
from .tls import ssl_context
from .urls import display_url, is_https, normalize_environment_url, require_https_authority, token_scope

__all__ = ["D365Client"]

_log = logging.getLogger("d365_assets.fo")
_ACTIONS = "data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities."
_REGISTER_APP = (
    "register the app (client id {client_id}) in F&O under System administration > Setup > "
    "Microsoft Entra applications, mapped to a user with data management rights; also check that "
    "D365_ENVIRONMENT_URL is the environment's exact URL"
)
_EXPORT_REFUSED = (
    "F&O refused to export data project {project!r} for legal entity {company!r}; check both: the "
    "data project must exist in F&O under exactly that name (Data management > Data projects, an "
    "export project holding the entity; or fix data_project in the catalog), and the legal entity "
    "must exist in F&O and be open to the app's user (or fix the company in the catalog's companies)"
)
_HTTPX_FILTER = RedactingFilter()


class D365Client:
    """A client for the DMF package REST API of one F&O environment.

    Use as a context manager (or call :meth:`close`). The canonical flow is :meth:`export_package`;
    the single actions are public too. Tests inject ``transport`` (F&O), ``blob_transport`` (blob
    host), ``msal_http_client`` (the authority), ``sleep`` and ``clock``.
    """

    def __init__(
        self,
        *,
        environment_url: str,
        credential: Credential,
        ca_bundle: str | Path | None = None,
        timeout: float = 60.0,
        poll_interval: float = 2.0,
        max_poll_interval: float = 60.0,
        poll_timeout: float = 4 * 3600.0,
        not_found_grace: float = 600.0,
        url_timeout: float = 600.0,
        retry: RetryPolicy | None = None,
        proxy: str | None = None,
        transport: httpx.BaseTransport | None = None,
        blob_transport: httpx.BaseTransport | None = None,
        msal_http_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.environment_url = normalize_environment_url(environment_url)
        require_https_authority(credential.authority)
        self.credential = credential
        self._metadata_schemas: dict[str, EntitySchema] | None = None
        self.poll_interval = poll_interval
        self.max_poll_interval = max(max_poll_interval, poll_interval)
        self.poll_timeout = poll_timeout
        self.not_found_grace = not_found_grace
        self.url_timeout = url_timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._extra_secrets: set[str] = set(credential.secrets)
        tls = ssl_context(ca_bundle)
        common: dict[str, Any] = {"verify": tls, "trust_env": False, "proxy": proxy}
        http_timeout = httpx.Timeout(timeout, connect=min(timeout, 30.0))

        self._authority_http: httpx.Client | None = None
        if msal_http_client is None:
            self._authority_http = httpx.Client(timeout=http_timeout, **common)
            msal_http_client = MsalHttpClient(self._authority_http)
        self._auth = MsalAuth(
            credential,
            scope=token_scope(self.environment_url),
            http_client=msal_http_client,
            retry=self.retry,
            sleep=sleep,
            clock=clock,
        )
        self._http = httpx.Client(
            auth=self._auth,
            timeout=http_timeout,
            transport=transport,
            headers={"Accept": "application/json", "OData-Version": "4.0", "OData-MaxVersion": "4.0"},
            **common,
        )
        # The blob client never carries credentials: the SAS in the URL is the authorisation.
        self._blob = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
            transport=blob_transport,
            follow_redirects=False,
            **common,
        )
        for secret in credential.secrets:
            _HTTPX_FILTER.add_secret(secret)
        logging.getLogger("httpx").addFilter(_HTTPX_FILTER)

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection pool of the client."""
        self._http.close()
        self._blob.close()
        if self._authority_http is not None:
            self._authority_http.close()

    def __repr__(self) -> str:
        return (
            f"D365Client(environment_url={self.environment_url!r}, client_id={self.credential.client_id!r})"
        )

    # -- actions ---------------------------------------------------------------------------------

    def export_to_package(
        self, *, data_project: str, legal_entity: str, execution_id: str | None = None
    ) -> str:
        """Start ``ExportToPackage`` for a data project and company; returns the execution id.

        A fresh unique id is generated unless one is given; the package is named after it, so a given
        id, and an id F&O answers with instead of ours, must be safe as a file name
        (:class:`UnsafeExecutionIdError` otherwise, raised before anything is written).
        """
        generated = not execution_id
        execution_id = execution_id or new_execution_id(data_project)
        package_file_name(execution_id)  # a caller's unsafe id is refused before F&O starts anything
        body = {
            "definitionGroupId": data_project,
            "packageName": execution_id,
            "executionId": execution_id,
            "reExecute": False,
            "legalEntityId": legal_entity,
        }
        try:
            value = self._action("ExportToPackage", body)
        except ApiError as exc:
            if not (generated and "already exists" in exc.inner_message.lower()):
                raise
            # The id is ours and unique: a retry (after a lost response) found the execution the
            # first attempt created. Carry on with it.
            self._warning(
                f"ExportToPackage: execution {execution_id} already exists (a retried call); using it"
            )
            value = execution_id
        returned = str(value or "") or execution_id
        if returned != execution_id and not is_safe_execution_id(returned):
            error = unsafe_answer_error(
                returned=returned, sent=execution_id, data_project=data_project, secrets=self._secrets()
            )
            self._error(str(error))
            raise error
        self._info(f"export started: project {data_project}, company {legal_entity}, execution {returned}")
        return returned

    def get_execution_status(self, execution_id: str) -> ExecutionStatus:
        """``GetExecutionSummaryStatus``. Raises :class:`ExecutionNotFoundError` for an unknown id."""
        return ExecutionStatus(str(self._action("GetExecutionSummaryStatus", {"executionId": execution_id})))

    def get_exported_package_url(self, execution_id: str) -> str:
        """``GetExportedPackageUrl``: the package's SAS URL, or ``""`` while it is being published."""
        return str(self._action("GetExportedPackageUrl", {"executionId": execution_id}) or "")

    def get_execution_errors(self, execution_id: str) -> list[str]:
        """``GetExecutionErrors``: F&O's error messages for an execution (possibly empty)."""
        return _error_list(self._action("GetExecutionErrors", {"executionId": execution_id}))

    def get_execution_summary_page_url(self, execution_id: str) -> str:
        """``GetExecutionSummaryPageUrl``: the F&O page showing the execution; ``""`` unless HTTPS.

        The page is shown as a link (in errors and Dagster metadata), so anything but an ``https://``
        URL (``http:``, ``javascript:``, a relative path) is dropped with a warning.
        """
        page = str(self._action("GetExecutionSummaryPageUrl", {"executionId": execution_id}) or "")
        if page and not is_https(page):
            self._warning(
                f"GetExecutionSummaryPageUrl of {execution_id} answered {display_url(page)}, not an "
                "https:// URL; it is not shown"
            )
            return ""
        return page

    # -- waiting ---------------------------------------------------------------------------------

    def wait_for_execution(self, execution_id: str) -> ExecutionStatus:
        """Poll until the execution is final; returns ``Succeeded`` or ``PartiallySucceeded``.

        Backs off exponentially with jitter from ``poll_interval`` to ``max_poll_interval``. A young
        execution's "not found" (or a bare "Bad request") is tolerated for ``not_found_grace``
        seconds. Raises :class:`ExportFailedError` for ``Failed``/``Canceled``/``Unknown`` and
        :class:`ExportTimeoutError` after ``poll_timeout`` seconds.
        """
        deadline = self._clock() + self.poll_timeout
        missing_since: float | None = None
        last: ExecutionStatus | None = None
        for attempt in self._polls(deadline):
            try:
                status = self.get_execution_status(execution_id)
            except ApiError as exc:
                if not _not_found_yet(exc):
                    raise
                missing_since = self._clock() if missing_since is None else missing_since
                if self._clock() - missing_since > self.not_found_grace:
                    raise ExecutionNotFoundError(
                        self._redact(
                            f"F&O still does not know execution {execution_id} after "
                            f"{self.not_found_grace:.0f}s ({exc.inner_message or exc.message}); check the "
                            "batch queue in F&O (System administration > Batch jobs) and the data project"
                        ),
                        status_code=exc.status_code,
                        message=exc.message,
                        inner_message=exc.inner_message,
                        action=exc.action,
                    ) from None
                self._debug(f"execution {execution_id} not visible yet (poll {attempt})")
                continue
            missing_since = None
            if status != last:
                self._info(f"execution {execution_id}: {status}")
                last = status
            if status.produced_package:
                return status
            if not status.is_pending:
                raise self._failed(execution_id, status)
        queued = (
            " (it never started: the batch queue may be throttled or the batch server stopped, see "
            "System administration > Batch jobs)"
            if last is ExecutionStatus.NOT_RUN
            else ""
        )
        raise ExportTimeoutError(
            self._redact(
                f"execution {execution_id} did not finish within {self.poll_timeout:.0f}s "
                f"(last status: {last or 'not found'}){queued}; F&O may still be running it: look it "
                "up in Data management > Job history, or raise poll_timeout"
            ),
            execution_id=execution_id,
        )

    def wait_for_package_url(self, execution_id: str) -> str:
        """Poll ``GetExportedPackageUrl`` until it is non-empty (bounded by ``url_timeout``)."""
        deadline = self._clock() + self.url_timeout
        for _ in self._polls(deadline, first_delay=min(1.0, self.poll_interval)):
            url = self.get_exported_package_url(execution_id)
            if url:
                return url
            self._debug(f"package URL of {execution_id} not published yet")
        raise ExportTimeoutError(
            f"F&O did not publish a package URL for execution {execution_id} within "
            f"{self.url_timeout:.0f}s; the export may have produced no package: check Data management > "
            "Job history, or raise url_timeout",
            execution_id=execution_id,
        )

    # -- download --------------------------------------------------------------------------------

    def download_package(
        self, *, execution_id: str, destination: Path, url: str | None = None
    ) -> DownloadedFile:
        """Download the execution's package to ``destination`` (a file path).

        ``url`` is a package URL just obtained; otherwise a fresh SAS URL is requested right before
        downloading, and again after a 403. No F&O credentials are sent to the blob host. The body
        streams to disk; its size is checked against ``Content-Length``; a dropped connection
        resumes with a ``Range`` request.
        """
        self._info(f"downloading package of {execution_id} to {destination}")
        first = [url] if url else []

        def fresh_url() -> str:
            return first.pop() if first else self.wait_for_package_url(execution_id)

        return BlobDownload(
            self._blob,
            fresh_url=fresh_url,
            destination=Path(destination),
            execution_id=execution_id,
            policy=self.retry,
            log=RedactingLog(self._secrets),
            sleep=self._sleep,
            clock=self._clock,
        ).run()

    def export_package(
        self, *, data_project: str, legal_entity: str, destination_dir: Path
    ) -> ExportedPackage:
        """The whole flow: export, wait for a final status, wait for the URL, download.

        The package lands at ``destination_dir/<execution id>.zip``. ``warnings`` holds F&O's
        messages when the export ended ``PartiallySucceeded``.
        """
        execution_id = self.export_to_package(data_project=data_project, legal_entity=legal_entity)
        destination = Path(destination_dir) / package_file_name(execution_id)
        return self.complete_export(execution_id=execution_id, destination=destination)

    def complete_export(self, *, execution_id: str, destination: Path) -> ExportedPackage:
        """The rest of :meth:`export_package` for an export already started: wait, then download.

        The package lands at ``destination`` (a file path the caller chose, e.g. its spool's). Lets
        a caller note the execution id first, so an interrupted wait or download can be completed
        later (F&O keeps the package for 7 days) instead of losing a change-tracked delta.
        """
        package_file_name(execution_id)  # an unsafe id is refused before any request
        started = self._clock()
        status = self.wait_for_execution(execution_id)
        warnings: list[str] = []
        if status is ExecutionStatus.PARTIALLY_SUCCEEDED:
            warnings = self._errors_or_empty(execution_id)
            for warning in warnings:
                self._warning(f"execution {execution_id} partially succeeded: {warning}")
        url = self.wait_for_package_url(execution_id)
        exported = self._clock()
        downloaded = self.download_package(execution_id=execution_id, destination=destination, url=url)
        return ExportedPackage(
            execution_id=execution_id,
            status=status,
            path=downloaded.path,
            size_bytes=downloaded.size_bytes,
            warnings=warnings,
            export_wait_seconds=exported - started,
            download_seconds=self._clock() - exported,
        )

    # -- internals -------------------------------------------------------------------------------

    def _action(self, action: str, body: dict[str, Any]) -> Any:
        url = f"{self.environment_url}/{_ACTIONS}{action}"
        try:
            for attempt in retrying(
                self.retry, what=action, sleep=self._sleep, clock=self._clock, secrets=self._secrets
            ):
                with attempt:
                    response = self._http.post(url, json=body)
                    if response.status_code in RETRYABLE_STATUS:
                        response.read()
                        raise RetryableResponse(response)
        except RetryableResponse as exc:
            raise self._api_error(action, exc.response, body) from None
        except httpx.TransportError as exc:
            raise ApiError(
                self._redact(
                    f"{action}: could not reach F&O at {self.environment_url} after "
                    f"{self.retry.max_attempts} attempts ({type(exc).__name__}: {exc}); check "
                    "D365_ENVIRONMENT_URL, the network, and D365_CA_BUNDLE if a proxy or private CA "
                    "signs the certificate"
                ),
                action=action,
            ) from None
        if response.status_code != 200:
            raise self._api_error(action, response, body)
        try:
            return action_value(response)
        except ValueError as exc:
            raise ApiError(
                self._redact(f"{action}: unexpected response from F&O: {exc}"),
                status_code=response.status_code,
                action=action,
            ) from None

    def _api_error(
        self, action: str, response: httpx.Response, body: dict[str, Any] | None = None
    ) -> D365Error:
        status = response.status_code
        if status == 401:
            return AuthenticationError(
                self._redact(
                    f"{action}: F&O rejected the access token (HTTP 401) even after renewing it; "
                    + _REGISTER_APP.format(client_id=self.credential.client_id)
                )
            )
        error = odata_error(response)
        inner = error.inner_message
        detail = inner or error.message or f"HTTP {status}"
        if status == 400 and "were not found" in inner.lower():
            cls: type[ApiError] = ExecutionNotFoundError
            fix = "the execution id is unknown to F&O (or not visible yet)"
        else:
            cls = ApiError
            fix = _fix_for(action, status, body or {})
        if status == 429:
            retry_after = response.headers.get("Retry-After", "?")
            fix = f"F&O is throttling (Retry-After {retry_after}s) and retries ran out; try again later"
        text = f"{action} failed with HTTP {status}: {detail}" + (f"; {fix}" if fix else "")
        return cls(
            self._redact(text),
            status_code=status,
            message=self._redact(error.message),
            inner_message=self._redact(inner),
            action=action,
        )

    def _failed(self, execution_id: str, status: ExecutionStatus) -> ExportFailedError:
        errors = self._errors_or_empty(execution_id)
        try:
            page = self.get_execution_summary_page_url(execution_id)
        except D365Error:
            page = ""
        shown = "; ".join(errors[:5]) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else "")
        where = f"see {page}" if page else "see Data management > Job history in F&O"
        text = (
            f"execution {execution_id} ended {status}"
            + (f": {shown}" if shown else " without error messages")
            + f"; {where} (execution id {execution_id}), fix the data project or its data, and export again"
        )
        self._error(text)
        return ExportFailedError(
            self._redact(text),
            execution_id=execution_id,
            status=str(status),
            errors=[self._redact(e) for e in errors],
        )

    def _errors_or_empty(self, execution_id: str) -> list[str]:
        try:
            return self.get_execution_errors(execution_id)
        except D365Error as exc:
            self._warning(f"GetExecutionErrors for {execution_id} failed: {exc}")
            return []

    def _polls(self, deadline: float, *, first_delay: float | None = None) -> Iterator[int]:
        """Yield poll numbers until ``deadline``, sleeping with capped exponential backoff + jitter."""
        delay = self.poll_interval if first_delay is None else first_delay
        attempt = 0
        while True:
            attempt += 1
            yield attempt
            remaining = deadline - self._clock()
            if remaining <= 0:
                return
            self._sleep(min(remaining, delay * random.uniform(0.8, 1.2)))
            delay = min(delay * 2, self.max_poll_interval)

    def _secrets(self) -> tuple[str, ...]:
        return (*self._extra_secrets, *self._auth.secrets)

    def _redact(self, text: str) -> str:
        return redact(text, *self._secrets())

    def _debug(self, text: str) -> None:
        _log.debug("%s", self._redact(text))

    def _info(self, text: str) -> None:
        _log.info("%s", self._redact(text))

    def _warning(self, text: str) -> None:
        _log.warning("%s", self._redact(text))

    def _error(self, text: str) -> None:
        _log.error("%s", self._redact(text))

    # -- OData reads: $metadata and $count ---------------------------------------------------------

    def _odata_get(self, path: str, *, what: str, accept: str, params: dict[str, str] | None = None) -> bytes:
        """GET ``<env>/data/<path>`` with the bearer token; the body, or ApiError naming ``what``."""
        url = f"{self.environment_url}/data/{path}"
        try:
            response = self._http.get(url, params=params, headers={"Accept": accept})
        except httpx.TransportError as exc:
            raise ApiError(
                self._redact(f"{what}: could not reach F&O at {self.environment_url} ({exc})"), action=what
            ) from None
        if response.status_code != 200:
            raise self._api_error(what, response)
        return response.content

    def count_entity_rows(self, collection: str, *, company: str | None) -> int:
        """F&O's own row count of entity set ``collection`` (``GET /data/<collection>/$count``).

        ``company`` counts one legal entity's rows (``dataAreaId``); None counts a shared entity.
        """
        params = {"cross-company": "true"}
        if company:
            params["$filter"] = f"dataAreaId eq '{company.lower()}'"
        body = self._odata_get(f"{collection}/$count", what="$count", accept="text/plain", params=params)
        try:
            return int(body.decode("utf-8-sig").strip())
        except ValueError:
            raise ApiError(
                self._redact(f"$count of {collection}: F&O answered {body[:100]!r}, not a number"),
                action="$count",
            ) from None

    def get_entity_schema(self, collection: str) -> EntitySchema:
        """The columns and types of entity set ``collection`` from ``GET <env>/data/$metadata``.

        The parsed document is cached per client. Raises :class:`MetadataError` for an unknown
        collection or an unreadable document, :class:`ApiError` when F&O does not answer 200.
        """
        if self._metadata_schemas is None:
            document = self._odata_get("$metadata", what="$metadata", accept="application/xml")
            self._metadata_schemas = parse_metadata(document)
        schemas = self._metadata_schemas
        found = schemas.get(collection) or next(
            (s for name, s in schemas.items() if name.casefold() == collection.casefold()), None
        )
        if found is None:
            raise MetadataError(
                f"entity set {collection!r} is not in F&O's $metadata; check the entity's public "
                "collection name (e.g. CustomersV3) and that the entity is public"
            )
        return found


def _not_found_yet(exc: ApiError) -> bool:
    if isinstance(exc, ExecutionNotFoundError):
        return True
    if exc.status_code != 400:
        return False
    text = f"{exc.message} {exc.inner_message}".strip().lower()
    return text in ("", "bad request") or "were not found" in text


def _fix_for(action: str, status: int, body: dict[str, Any]) -> str:
    """The advice for a failed action, from what was sent and the HTTP status, never F&O's wording."""
    if action in ("ExportToPackage", "ExportToPackageAsync") and status == 400:
        # F&O words an unknown data project and an unknown company alike: name both, as sent.
        return _EXPORT_REFUSED.format(
            project=body.get("definitionGroupId", ""), company=body.get("legalEntityId", "")
        )
    if status == 403:
        return "the F&O user mapped to the app lacks a role: grant it Data management access"
    if status == 404:
        return (
            "the action was not found: check D365_ENVIRONMENT_URL (the environment root URL; "
            "on-premises ends with /namespaces/AXSF)"
        )
    if status >= 500:
        return "F&O kept failing; retries ran out: try again later"
    return ""


def _error_list(value: Any) -> list[str]:
    """GetExecutionErrors' value: a JSON-encoded list (usually), a plain string, or a real list."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return [text]
    if isinstance(value, list):
        return [
            item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in value if item
        ]
    if isinstance(value, str):
        return [value] if value.strip() else []
    return [json.dumps(value, ensure_ascii=False)]
