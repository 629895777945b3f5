"""The F&O data management client: export a data project to a package and download it.

:class:`D365Client` is the facade; the work is done by :mod:`.transport` (connections, retries),
:mod:`.actions` (the DMF actions), :mod:`.polling` (the waits), :mod:`.blob` (the download),
:mod:`.diagnosis` (errors with their fix) and :mod:`.entity_sets` (``$metadata`` and ``$count``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self, Unpack

from d365_assets.schema import EntitySchema

from .actions import DmfActions
from .blob import BlobDownload
from .credentials import Credential
from .entity_sets import EntitySets
from .execution_ids import package_file_name
from .models import DownloadedFile, ExecutionStatus, ExportedPackage
from .options import FlatOptions, HttpOptions, PollOptions, grouped
from .polling import Poller
from .recurring import RecurringClient
from .starting import ExportStarter
from .transport import FoTransport
from .urls import normalize_environment_url, require_https_authority

__all__ = ["D365Client"]


class D365Client:
    """A client for the DMF package REST API of one F&O environment.

    Use as a context manager (or call :meth:`close`). The canonical flow is :meth:`export_package`;
    the single actions are public too. ``http`` and ``polling`` tune it (:class:`HttpOptions`,
    :class:`PollOptions`; their fields may also be given flat, e.g. ``ca_bundle=`` or
    ``poll_timeout=``). Tests inject transports through ``http`` and time through ``sleep`` and
    ``clock``.
    """

    def __init__(
        self,
        *,
        environment_url: str,
        credential: Credential,
        http: HttpOptions | None = None,
        polling: PollOptions | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        **flat: Unpack[FlatOptions],
    ) -> None:
        self.environment_url = normalize_environment_url(environment_url)
        require_https_authority(credential.authority)
        self.credential = credential
        self.http, self.polling = grouped(http, polling, flat)
        self._sleep, self._clock = sleep, clock
        self._transport = FoTransport(
            environment_url=self.environment_url,
            credential=credential,
            options=self.http,
            sleep=sleep,
            clock=clock,
        )
        self._log = self._transport.log
        self._actions = DmfActions(self._transport)
        self._poller = Poller(self._actions, self.polling, sleep=sleep, clock=clock)
        self._starter = ExportStarter(self._actions, self._poller, clock=clock)
        self._entity_sets = EntitySets(self._transport)
        self.recurring = RecurringClient(self._transport, sleep=sleep, clock=clock)
        """The recurring integrations API (dequeue, download, ack, message status) on these connections."""

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection pool of the client and forget its secrets."""
        self._transport.close()

    def __repr__(self) -> str:
        return (
            f"D365Client(environment_url={self.environment_url!r}, client_id={self.credential.client_id!r})"
        )

    # -- actions ---------------------------------------------------------------------------------

    def export_to_package(
        self, *, data_project: str, legal_entity: str, execution_id: str | None = None
    ) -> str:
        """Start ``ExportToPackage`` for a data project and company; returns the execution id.

        A fresh unique id is generated unless one is given (a given one must be new to F&O); the
        package is named after it, so a given id, and an id F&O answers with instead of ours, must be
        safe as a file name (:class:`UnsafeExecutionIdError` otherwise, raised before anything is
        written). When the call's answer is lost (a timeout, as with F&O's synchronous export
        setting, or a dropped connection), F&O is asked whether it knows the id before the call is
        sent again, at most once (see :mod:`d365_assets.fo.starting`); an :class:`ApiError` with
        ``unanswered`` set means F&O may have started the export anyway.
        """
        return self._starter.export_to_package(
            data_project=data_project, legal_entity=legal_entity, execution_id=execution_id
        )

    def get_execution_status(self, execution_id: str) -> ExecutionStatus:
        """``GetExecutionSummaryStatus``. Raises :class:`ExecutionNotFoundError` for an unknown id."""
        return self._actions.get_execution_status(execution_id)

    def get_exported_package_url(self, execution_id: str) -> str:
        """``GetExportedPackageUrl``: the package's SAS URL, or ``""`` while it is being published."""
        return self._actions.get_exported_package_url(execution_id)

    def get_execution_errors(self, execution_id: str) -> list[str]:
        """``GetExecutionErrors``: F&O's error messages for an execution (possibly empty)."""
        return self._actions.get_execution_errors(execution_id)

    def get_execution_summary_page_url(self, execution_id: str) -> str:
        """``GetExecutionSummaryPageUrl``: the F&O page showing the execution; ``""`` unless HTTPS.

        The page is shown as a link (in errors and Dagster metadata), so anything but an ``https://``
        URL (``http:``, ``javascript:``, a relative path) is dropped with a warning.
        """
        return self._actions.get_execution_summary_page_url(execution_id)

    # -- waiting ---------------------------------------------------------------------------------

    def wait_for_execution(self, execution_id: str) -> ExecutionStatus:
        """Poll until the execution is final; returns ``Succeeded`` or ``PartiallySucceeded``.

        Each pause is a tenth of the time waited so far, between ``poll_interval`` and
        ``max_poll_interval`` (10 s by default), so a finished export is noticed within a tenth of its
        own time. F&O not knowing a young execution (a 400 to
        the status action, whatever its words) is tolerated for ``not_found_grace`` seconds. Raises
        :class:`ExportFailedError` for ``Failed``/``Canceled``/``Unknown`` and
        :class:`ExportTimeoutError` after ``poll_timeout`` seconds.
        """
        return self._poller.wait_for_execution(execution_id)

    def wait_for_package_url(self, execution_id: str) -> str:
        """Poll ``GetExportedPackageUrl`` until it is non-empty (bounded by ``url_timeout``)."""
        return self._poller.wait_for_package_url(execution_id)

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
        self._log.info(f"downloading package of {execution_id} to {destination}")
        first = [url] if url else []

        def fresh_url() -> str:
            return first.pop() if first else self.wait_for_package_url(execution_id)

        return BlobDownload(
            self._transport.blob,
            fresh_url=fresh_url,
            destination=Path(destination),
            execution_id=execution_id,
            policy=self.http.retry,
            log=self._log,
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
            warnings = self._actions.errors_or_empty(execution_id)
            for warning in warnings:
                self._log.warning(f"execution {execution_id} partially succeeded: {warning}")
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

    # -- OData reads: $metadata and $count ---------------------------------------------------------

    def count_entity_rows(self, collection: str, *, company: str | None) -> int:
        """F&O's own row count of entity set ``collection`` (``GET /data/<collection>/$count``).

        ``company`` counts one legal entity's rows (``dataAreaId``); None counts a shared entity.
        """
        return self._entity_sets.count_rows(collection, company=company)

    def get_entity_schema(self, collection: str) -> EntitySchema:
        """The columns and types of entity set ``collection`` from ``GET <env>/data/$metadata``.

        The parsed document is cached per client. Raises :class:`MetadataError` for an unknown
        collection or an unreadable document, :class:`ApiError` when F&O does not answer 200.
        """
        return self._entity_sets.schema(collection)
