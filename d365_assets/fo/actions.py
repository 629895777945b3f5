"""The DMF package actions of one F&O environment, one method per action, and the failure report."""

from __future__ import annotations

from .diagnosis import error_list, export_failed
from .errors import D365Error, ExportFailedError
from .models import ExecutionStatus
from .transport import FoTransport
from .urls import display_url, is_https

__all__ = ["DmfActions"]


class DmfActions:
    """``ExportToPackage`` and the ``GetExecution*`` / ``GetExportedPackageUrl`` actions over a transport.

    Starting an export safely (what to do when its answer is lost) is :mod:`.starting`'s job.
    """

    def __init__(self, transport: FoTransport) -> None:
        self._transport = transport
        self.log = transport.log

    def send_export(self, body: dict[str, object]) -> object:
        """POST ``ExportToPackage`` once (see :mod:`.starting`): its value, or :class:`ApiError`.

        Never re-sent by the transport unless the call certainly did nothing (no connection, 429,
        503); an error marked ``unanswered`` leaves it unknown whether F&O started the export.
        """
        return self._transport.action("ExportToPackage", body, resend=False)

    def get_execution_status(self, execution_id: str) -> ExecutionStatus:
        """``GetExecutionSummaryStatus``. Raises :class:`ExecutionNotFoundError` for an unknown id."""
        value = self._transport.action("GetExecutionSummaryStatus", {"executionId": execution_id})
        return ExecutionStatus(str(value))

    def get_exported_package_url(self, execution_id: str) -> str:
        """``GetExportedPackageUrl``: the package's SAS URL, or ``""`` while it is being published."""
        return str(self._transport.action("GetExportedPackageUrl", {"executionId": execution_id}) or "")

    def get_execution_errors(self, execution_id: str) -> list[str]:
        """``GetExecutionErrors``: F&O's error messages for an execution (possibly empty)."""
        return error_list(self._transport.action("GetExecutionErrors", {"executionId": execution_id}))

    def get_execution_summary_page_url(self, execution_id: str) -> str:
        """``GetExecutionSummaryPageUrl``: the F&O page showing the execution; ``""`` unless HTTPS."""
        page = self._transport.action("GetExecutionSummaryPageUrl", {"executionId": execution_id})
        page = str(page or "")
        if page and not is_https(page):
            self.log.warning(
                f"GetExecutionSummaryPageUrl of {execution_id} answered {display_url(page)}, not an "
                "https:// URL; it is not shown"
            )
            return ""
        return page

    def errors_or_empty(self, execution_id: str) -> list[str]:
        """F&O's error messages for an execution; none (with a warning) when F&O does not tell them."""
        try:
            return self.get_execution_errors(execution_id)
        except D365Error as exc:
            self.log.warning(f"GetExecutionErrors for {execution_id} failed: {exc}")
            return []

    def failure(self, execution_id: str, status: ExecutionStatus) -> ExportFailedError:
        """The error for an execution that ended ``status``: F&O's messages and its summary page."""
        errors = self.errors_or_empty(execution_id)
        try:
            page = self.get_execution_summary_page_url(execution_id)
        except D365Error:
            page = ""
        error = export_failed(execution_id, status, errors=errors, page=page, redact=self.log.redact)
        self.log.error(str(error))
        return error
