"""Starting an export: ``ExportToPackage`` sent so that a lost answer neither loses nor doubles it.

ExportToPackage is not idempotent. With an execution id F&O already knows, a second call is refused
(in words that differ between builds, or with a bare 500); and with F&O's "Run data package export
API synchronously" on, the call returns only when the export is done, so a long export outlasts any
HTTP timeout. After a call whose answer did not arrive (a timeout, a dropped connection, a 5xx other
than 503), nothing is re-sent blindly and F&O's wording is never read:

1. ask ``GetExecutionSummaryStatus`` for the id: known (any status) means F&O started it;
2. not known: send it once more (the first call may never have arrived);
3. that second call failing too (a refusal of the duplicate id, whatever its words, or no answer):
   poll the status for the id within ``not_found_grace`` (a young execution may not be visible
   yet). Known means started; otherwise the start failed, with an error that says its outcome is
   unknown (``ApiError.unanswered``) and where to look.

A call that certainly did nothing (no connection, 429, 503) is retried by the transport as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .actions import DmfActions
from .errors import ApiError, ExecutionNotFoundError
from .execution_ids import is_safe_execution_id, new_execution_id, package_file_name, unsafe_answer_error
from .polling import Poller

__all__ = ["ExportStarter"]


class ExportStarter:
    """Starts exports of one F&O environment through its :class:`DmfActions` and :class:`Poller`."""

    def __init__(
        self, actions: DmfActions, poller: Poller, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._actions = actions
        self._poller = poller
        self._log = actions.log
        self._clock = clock

    def export_to_package(
        self, *, data_project: str, legal_entity: str, execution_id: str | None = None
    ) -> str:
        """Start ``ExportToPackage``; returns the execution id (see :meth:`D365Client.export_to_package`)."""
        execution_id = execution_id or new_execution_id(data_project)
        package_file_name(execution_id)  # a caller's unsafe id is refused before F&O starts anything
        body = {
            "definitionGroupId": data_project,
            "packageName": execution_id,
            "executionId": execution_id,
            "reExecute": False,
            "legalEntityId": legal_entity,
        }
        value = self._start(execution_id, body)
        returned = str(value or "") or execution_id
        if returned != execution_id and not is_safe_execution_id(returned):
            error = unsafe_answer_error(
                returned=returned, sent=execution_id, data_project=data_project, secrets=self._log.secrets()
            )
            self._log.error(str(error))
            raise error
        self._log.info(
            f"export started: project {data_project}, company {legal_entity}, execution {returned}"
        )
        return returned

    def _start(self, execution_id: str, body: dict[str, object]) -> object:
        """The action's value, or our id when F&O turns out to know it after an unanswered call."""
        try:
            return self._actions.send_export(body)
        except ApiError as exc:
            if not exc.unanswered:
                raise
            first = exc
        self._log.warning(
            f"ExportToPackage for execution {execution_id} got no answer ({first}); asking F&O "
            "whether it started it before sending anything again"
        )
        if self._known(execution_id, first):
            return execution_id
        try:
            return self._actions.send_export(body)  # the one re-send: the first may never have arrived
        except ApiError as second:
            self._log.warning(
                f"ExportToPackage for execution {execution_id}, sent again, failed too ({second}); "
                f"waiting up to {self._poller.options.not_found_grace:.0f}s for F&O to know the execution"
            )
            if self._known_within_grace(execution_id, first):
                return execution_id
            raise self._not_started(execution_id, first, second) from None

    def _known(self, execution_id: str, cause: ApiError) -> bool:
        """Whether F&O knows the execution now (any status); raises when F&O cannot be asked."""
        try:
            status = self._actions.get_execution_status(execution_id)
        except ExecutionNotFoundError:
            return False
        except ApiError as exc:
            raise ApiError(
                self._log.redact(
                    f"ExportToPackage for execution {execution_id} got no answer ({cause}), and F&O could "
                    f"not be asked whether it started it ({exc}); look the execution up in Data "
                    "management > Job history before exporting again"
                ),
                status_code=exc.status_code,
                action=cause.action,
                unanswered=True,
            ) from None
        self._log.warning(f"F&O knows execution {execution_id} ({status}): it started it; carrying on")
        return True

    def _known_within_grace(self, execution_id: str, cause: ApiError) -> bool:
        deadline = self._clock() + self._poller.options.not_found_grace
        return any(self._known(execution_id, cause) for _ in self._poller.schedule(deadline))

    def _not_started(self, execution_id: str, first: ApiError, second: ApiError) -> ApiError:
        grace = self._poller.options.not_found_grace
        return ApiError(
            self._log.redact(
                f"ExportToPackage for execution {execution_id} got no answer ({first}); sent once more, it "
                f"failed ({second}), and F&O did not know the execution within {grace:.0f}s. Whether F&O "
                f"started it is unknown: look execution {execution_id} up in Data management > Job "
                "history, then export again"
            ),
            status_code=second.status_code,
            message=second.message,
            inner_message=second.inner_message,
            action=second.action,
            unanswered=True,
        )
