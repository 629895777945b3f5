"""Bounded HTTP retries (tenacity): 429 honours ``Retry-After``; 5xx and dropped connections back off."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import tenacity

from .redact import redact

__all__ = ["RetryPolicy", "RetryableResponse", "never_ran", "retry_after_seconds", "retrying"]

_log = logging.getLogger("d365_assets.fo")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
NOT_RUN_STATUS = frozenset({429, 503})
"""Answers that say the request was not acted on: throttled, or the service unavailable."""
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before the request left: the server cannot have seen it."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry one HTTP call. Every retry is bounded in count and in total time."""

    max_attempts: int = 6
    """Attempts in total, the first one included."""
    max_elapsed: float = 300.0
    """Seconds from the first attempt after which no further attempt starts."""
    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    """Cap on a server's ``Retry-After``."""


class RetryableResponse(Exception):
    """Raised inside a retried call for a 429/5xx response; carries the response."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def never_ran(exc: BaseException) -> bool:
    """Whether a failed call certainly did nothing at the server, so that sending it again is safe.

    True for a connection never made and for 429 / 503 answers. A timeout or a connection dropped
    after the request left, and any other 5xx, leave it unknown whether the server acted.
    """
    if isinstance(exc, RetryableResponse):
        return exc.response.status_code in NOT_RUN_STATUS
    return isinstance(exc, _NOT_SENT)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retrying(
    policy: RetryPolicy,
    *,
    what: str,
    retry_on: tuple[type[BaseException], ...] = (RetryableResponse, httpx.TransportError),
    retry_if: Callable[[BaseException], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    secrets: Callable[[], tuple[str, ...]] = tuple,
) -> tenacity.Retrying:
    """A :class:`tenacity.Retrying` for one call; the last exception is re-raised when it gives up.

    It retries the exceptions of ``retry_on``, or, when ``retry_if`` is given, those it accepts.
    """
    start = clock()
    backoff = tenacity.wait_exponential_jitter(multiplier=policy.initial_backoff, max=policy.max_backoff)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableResponse) and exc.response.status_code in (429, 503):
            retry_after = retry_after_seconds(exc.response)
            if retry_after is not None:
                return min(retry_after, policy.max_retry_after)
        return backoff(state)

    def stop(state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= policy.max_attempts:
            return True
        return clock() - start + (state.upcoming_sleep or 0.0) > policy.max_elapsed

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        reason = exc if isinstance(exc, RetryableResponse) else f"{type(exc).__name__}: {exc}"
        _log.warning(
            "%s",
            redact(
                f"{what}: {reason}; retrying in {state.upcoming_sleep:.1f}s "
                f"(attempt {state.attempt_number + 1} of {policy.max_attempts})",
                *secrets(),
            ),
        )

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(retry_if)
        if retry_if is not None
        else tenacity.retry_if_exception_type(retry_on),
        wait=wait,
        stop=stop,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
