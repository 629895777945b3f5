"""Streaming a package from its SAS URL to disk: no bearer token, bounded memory, resumable, verified.

Only an ``https://`` package URL is followed. When the blob host tells the blob's MD5 (Azure Blob
Storage sends ``Content-MD5`` on a whole-blob GET and ``x-ms-blob-content-md5`` on a ranged one, for a
blob stored with an MD5), the downloaded file must match it; a mismatch is downloaded afresh, like a
body that ended early.
"""

from __future__ import annotations

import base64
import hashlib
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
from .urls import display_url, is_https

__all__ = ["download_blob"]

_log = logging.getLogger("d365_assets.fo")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class _SasRejected(Exception):
    """403 from the blob host: the SAS expired or is invalid; a fresh URL is needed."""


class _Incomplete(Exception):
    """The body ended before Content-Length bytes arrived."""


class _Corrupt(Exception):
    """The downloaded bytes do not match the blob's MD5: download them again."""


@dataclass
class _State:
    url: str = ""
    need_url: bool = True
    refreshes: int = 0
    resumes: int = 0
    total: int | None = None
    md5: bytes | None = None
    """The whole blob's MD5 as the blob host tells it; None when it does not."""
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
    once its size matches ``Content-Length`` and its MD5 the blob's (when the host sends one). A URL
    that is not ``https://`` is refused before any request.
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
            if not is_https(state.url):
                raise _insecure_url(execution_id, state.url)
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
                _same_blob(state, _blob_md5(response.headers, ranged=True), part)
                mode = "ab"
            elif status == 200:
                offset = 0
                length = response.headers.get("Content-Length")
                state.total = int(length) if length and length.isdigit() else None
                state.md5 = _blob_md5(response.headers, ranged=False)
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
        if state.md5 is not None and _file_md5(part) != state.md5:
            part.unlink(missing_ok=True)
            say(logging.WARNING, f"the download of {execution_id} does not match the blob's MD5; again")
            raise _Corrupt("the downloaded bytes do not match the blob's MD5")

    try:
        for attempt_ in retrying(
            policy,
            what=f"downloading package {execution_id}",
            retry_on=(RetryableResponse, httpx.TransportError, _SasRejected, _Incomplete, _Corrupt),
            sleep=sleep,
            clock=clock,
            secrets=secrets,
        ):
            with attempt_:
                attempt()
    except (httpx.TransportError, RetryableResponse, _Incomplete, _SasRejected, _Corrupt) as exc:
        part.unlink(missing_ok=True)
        fix = (
            "something between the blob host and this machine changes the bytes (a proxy, a virus "
            "scanner or a faulty network link): check it"
            if isinstance(exc, _Corrupt)
            else "check the network path to the blob host"
        )
        raise PackageDownloadError(
            redact(
                f"downloading the package of {execution_id} failed after {policy.max_attempts} attempts "
                f"({_describe(exc)}); {fix}, then run the export again",
                *secrets(),
            ),
            execution_id=execution_id,
        ) from None
    except BaseException:
        part.unlink(missing_ok=True)  # nothing half-downloaded stays behind, whatever stopped it
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


def _insecure_url(execution_id: str, url: str) -> PackageDownloadError:
    return PackageDownloadError(
        f"F&O gave the package of {execution_id} a URL that is not HTTPS ({display_url(url)}); it was not "
        "downloaded, since the package and its SAS would travel in clear text. F&O's package URLs are "
        "https:// blob storage URLs: find what rewrites them (a proxy, or the environment's storage "
        "configuration), then run the export again",
        execution_id=execution_id,
    )


def _blob_md5(headers: httpx.Headers, *, ranged: bool) -> bytes | None:
    """The whole blob's MD5 from a GET's headers (a ranged GET's ``Content-MD5`` is the range's)."""
    value = headers.get("x-ms-blob-content-md5") or (None if ranged else headers.get("Content-MD5"))
    if not value:
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except ValueError:
        digest = b""
    if len(digest) != 16:
        _log.warning("the blob host sent an unreadable MD5 header; the download is checked by size only")
        return None
    return digest


def _same_blob(state: _State, md5: bytes | None, part: Path) -> None:
    """A resumed range must come from the blob the first bytes came from (same MD5), else restart."""
    if md5 is not None and state.md5 is not None and md5 != state.md5:
        part.unlink(missing_ok=True)
        state.md5 = None
        raise _Incomplete("the blob changed between two ranges; restarting")
    state.md5 = state.md5 or md5


def _file_md5(path: Path) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


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
    if isinstance(exc, _Corrupt):
        return "the downloaded bytes did not match the blob's MD5 each time"
    return f"{type(exc).__name__}: {exc}"
