"""Waiting for an export: poll its status until final, then its package URL until published.

Polls back off in proportion to the time already waited: each pause is a tenth of it (``LATE_SHARE``),
never shorter than ``PollOptions.interval`` and never longer than ``max_interval``, jitter included.
So a finished export is noticed within a tenth of its own time (or ``interval``; at most
``max_interval``): a short export is not kept waiting by a doubled pause, and a long one is polled
every ``max_interval`` at most. Every wait is bounded (``timeout``, ``not_found_grace``,
``url_timeout``) and ends in an error that says where to look in F&O.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator

from .actions import DmfActions
from .errors import ExecutionNotFoundError, ExportTimeoutError
from .models import ExecutionStatus
from .options import PollOptions

__all__ = ["LATE_SHARE", "Poller"]

LATE_SHARE = 0.1
"""A pause between two polls is this share of the time waited so far (within interval and cap)."""


class Poller:
    """Waits on one F&O environment's executions through its :class:`DmfActions`."""

    def __init__(
        self,
        actions: DmfActions,
        options: PollOptions,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self._actions = actions
        self._log = actions.log
        self._sleep, self._clock = sleep, clock

    def wait_for_execution(self, execution_id: str) -> ExecutionStatus:
        """Poll until the execution is final; returns ``Succeeded`` or ``PartiallySucceeded``.

        F&O not knowing a young execution (a 400, whatever its words) is tolerated for
        ``not_found_grace`` seconds. Raises :class:`ExportFailedError` for ``Failed``/``Canceled``/
        ``Unknown`` and :class:`ExportTimeoutError` after ``timeout`` seconds.
        """
        missing_since: float | None = None
        last: ExecutionStatus | None = None
        for attempt in self.schedule(self._clock() + self.options.timeout):
            try:
                status = self._actions.get_execution_status(execution_id)
            except ExecutionNotFoundError as exc:
                missing_since = self._still_missing(execution_id, exc, since=missing_since)
                self._log.debug(f"execution {execution_id} not visible yet (poll {attempt})")
                continue
            missing_since = None
            if status != last:
                self._log.info(f"execution {execution_id}: {status}")
                last = status
            if status.produced_package:
                return status
            if not status.is_pending:
                raise self._actions.failure(execution_id, status)
        raise self._timed_out(execution_id, last)

    def wait_for_package_url(self, execution_id: str) -> str:
        """Poll ``GetExportedPackageUrl`` until it is non-empty (bounded by ``url_timeout``)."""
        deadline = self._clock() + self.options.url_timeout
        for _ in self.schedule(deadline, first_delay=min(1.0, self.options.interval)):
            url = self._actions.get_exported_package_url(execution_id)
            if url:
                return url
            self._log.debug(f"package URL of {execution_id} not published yet")
        raise ExportTimeoutError(
            f"F&O did not publish a package URL for execution {execution_id} within "
            f"{self.options.url_timeout:.0f}s; the export may have produced no package: check Data "
            "management > Job history, or raise url_timeout",
            execution_id=execution_id,
        )

    def schedule(self, deadline: float, *, first_delay: float | None = None) -> Iterator[int]:
        """Yield poll numbers until ``deadline``, pausing a tenth of the time waited so far, with jitter.

        A pause is never shorter than ``first_delay`` (default ``interval``), nor longer than
        ``max_interval`` (or ``interval``, if larger), jitter included.
        """
        floor = self.options.interval if first_delay is None else first_delay
        cap = max(self.options.max_interval, self.options.interval)
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            yield attempt
            now = self._clock()
            remaining = deadline - now
            if remaining <= 0:
                return
            pause = min(max(floor, (now - started) * LATE_SHARE), cap)
            self._sleep(min(remaining, cap, pause * random.uniform(0.8, 1.2)))

    def _still_missing(self, execution_id: str, exc: ExecutionNotFoundError, *, since: float | None) -> float:
        """When F&O first said it does not know the execution; raises once that is past the grace."""
        now = self._clock()
        since = now if since is None else since
        grace = self.options.not_found_grace
        if now - since > grace:
            raise ExecutionNotFoundError(
                self._log.redact(
                    f"F&O still does not know execution {execution_id} after {grace:.0f}s "
                    f"({exc.inner_message or exc.message}); check the batch queue in F&O (System "
                    "administration > Batch jobs) and the data project"
                ),
                status_code=exc.status_code,
                message=exc.message,
                inner_message=exc.inner_message,
                action=exc.action,
            ) from None
        return since

    def _timed_out(self, execution_id: str, last: ExecutionStatus | None) -> ExportTimeoutError:
        queued = (
            " (it never started: the batch queue may be throttled or the batch server stopped, see "
            "System administration > Batch jobs)"
            if last is ExecutionStatus.NOT_RUN
            else ""
        )
        return ExportTimeoutError(
            self._log.redact(
                f"execution {execution_id} did not finish within {self.options.timeout:.0f}s "
                f"(last status: {last or 'not found'}){queued}; F&O may still be running it: look it "
                "up in Data management > Job history, or raise poll_timeout"
            ),
            execution_id=execution_id,
        )
