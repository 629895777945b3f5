"""Streaming a package from its SAS URL to disk: no bearer token, bounded memory, resumable."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from .errors import PackageDownloadError
from .models import DownloadedFile
from .redact import redact
from .retry import RETRYABLE_STATUS, RetryableResponse, RetryPolicy, retrying

__all__ = ["download_blob"]

_log = logging.getLogger("d365_assets.fo")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class _SasRejected(Exception):
    """403 from the blob host: the SAS expired or is invalid; a fresh URL is needed."""


class _Incomplete(Exception):
    """The body ended before Content-Length bytes arrived."""


@dataclass
class _State:
    url: str = ""
    need_url: bool = True
    refreshes: int = 0
    resumes: int = 0
    total: int | None = None
    last_log: float = 0.0


def download_blob(
    client: httpx.Client,
    *,
    fresh_url: Callable[[], str],
    destination: Path,
    execution_id: str,
    policy: RetryPolicy,
    max_url_refreshes: int = 2,
    chunk_size: int = 1 << 20,
    progress_every: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    secrets: Callable[[], tuple[str, ...]] = tuple,
) -> DownloadedFile:
    """Download the package of ``execution_id`` to ``destination``.

    ``client`` must carry no F&O credentials. ``fresh_url()`` is called for the first URL and again
    after each 403 (an expired SAS), at most ``max_url_refreshes`` times. A connection that drops
    mid-body resumes with ``Range: bytes=N-``. The body streams into ``<destination>.part`` in
    the pieces the network delivers (``chunk_size`` is kept for compatibility) and is renamed into place
    once its size matches ``Content-Length``.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + ".part")
    part.unlink(missing_ok=True)
    started = clock()
    state = _State(last_log=started)

    def say(level: int, text: str) -> None:
        _log.log(level, "%s", redact(text, *secrets()))

    def attempt() -> None:
        if state.need_url:
            state.url = fresh_url()
            state.need_url = False
        offset = part.stat().st_size if part.exists() else 0
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            state.resumes += 1
            say(logging.INFO, f"resuming download of {execution_id} at byte {offset}")
        with client.stream("GET", state.url, headers=headers) as response:
            status = response.status_code
            if status == 403:
                if state.refreshes >= max_url_refreshes:
                    raise PackageDownloadError(
                        f"the blob host refused the package URL of {execution_id} (HTTP 403) even after "
                        f"{state.refreshes} fresh URL(s); check the machine's clock (SAS start/expiry) "
                        "and that nothing rewrites the URL",
                        execution_id=execution_id,
                    )
                state.refreshes += 1
                state.need_url = True
                say(
                    logging.WARNING,
                    f"package URL of {execution_id} rejected (HTTP 403); asking for a fresh one",
                )
                raise _SasRejected("HTTP 403 from the blob host")
            if status == 404:
                raise PackageDownloadError(
                    f"the package blob of {execution_id} was not found (HTTP 404); exported packages are "
                    "deleted after 7 days: run the export again",
                    execution_id=execution_id,
                    status_code=404,
                )
            if status == 416 and offset:
                part.unlink(missing_ok=True)
                raise _Incomplete("the blob host refused the range; restarting")
            if status in RETRYABLE_STATUS:
                raise RetryableResponse(response)
            if status == 206 and offset:
                match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
                if not match or int(match.group(1)) != offset:
                    part.unlink(missing_ok=True)
                    raise _Incomplete("unexpected Content-Range; restarting")
                if match.group(3) != "*":
                    state.total = int(match.group(3))
                mode = "ab"
            elif status == 200:
                offset = 0
                length = response.headers.get("Content-Length")
                state.total = int(length) if length and length.isdigit() else None
                mode = "wb"
            else:
                raise PackageDownloadError(
                    f"downloading the package of {execution_id} failed: HTTP {status} from the blob host",
                    execution_id=execution_id,
                )
            received = offset
            with part.open(mode) as file:
                # Unbuffered: every byte received is on disk before a dropped connection raises,
                # so the resume starts where the body stopped (a chunk_size buffer would lose it).
                for chunk in response.iter_bytes():
                    file.write(chunk)
                    received += len(chunk)
                    now = clock()
                    if now - state.last_log >= progress_every:
                        state.last_log = now
                        say(logging.INFO, _progress(execution_id, received, state.total, now - started))
        if state.total is not None and received != state.total:
            say(logging.WARNING, f"download of {execution_id} stopped at {received} of {state.total} bytes")
            raise _Incomplete(f"the body ended at {received} of {state.total} bytes")

    try:
        for attempt_ in retrying(
            policy,
            what=f"downloading package {execution_id}",
            retry_on=(RetryableResponse, httpx.TransportError, _SasRejected, _Incomplete),
            sleep=sleep,
            clock=clock,
            secrets=secrets,
        ):
            with attempt_:
                attempt()
    except (httpx.TransportError, RetryableResponse, _Incomplete, _SasRejected) as exc:
        part.unlink(missing_ok=True)
        raise PackageDownloadError(
            redact(
                f"downloading the package of {execution_id} failed after {policy.max_attempts} attempts "
                f"({_describe(exc)}); check the network path to the blob host, then run the export again",
                *secrets(),
            ),
            execution_id=execution_id,
        ) from None
    except PackageDownloadError:
        part.unlink(missing_ok=True)
        raise

    size = part.stat().st_size
    with part.open("rb") as file:
        magic = file.read(4)
    if magic not in _ZIP_MAGIC:
        part.unlink(missing_ok=True)
        raise PackageDownloadError(
            f"the download of {execution_id} is not a zip package (starts with {magic!r}); "
            "the blob host or a proxy returned something else",
            execution_id=execution_id,
        )
    os.replace(part, destination)
    seconds = clock() - started
    result = DownloadedFile(
        path=destination,
        size_bytes=size,
        seconds=seconds,
        url_refreshes=state.refreshes,
        resumes=state.resumes,
    )
    say(
        logging.INFO,
        f"downloaded package {execution_id}: {size / 1e6:.1f} MB in {seconds:.1f}s "
        f"({result.mb_per_second:.1f} MB/s) to {destination}",
    )
    return result


def _progress(execution_id: str, received: int, total: int | None, seconds: float) -> str:
    rate = received / 1e6 / seconds if seconds > 0 else 0.0
    of = f" of {total / 1e6:.1f} MB ({100 * received / total:.0f}%)" if total else ""
    return f"downloading {execution_id}: {received / 1e6:.1f} MB{of}, {rate:.1f} MB/s"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RetryableResponse):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, _Incomplete):
        return "the body ended early"
    if isinstance(exc, _SasRejected):
        return "HTTP 403"
    return f"{type(exc).__name__}: {exc}"
