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
from pathlib import Path

import httpx

from .errors import PackageDownloadError
from .models import DownloadedFile
from .redact import RedactingLog
from .retry import RETRYABLE_STATUS, RetryableResponse, RetryPolicy, retrying
from .urls import display_url, is_https

__all__ = ["BlobDownload"]

_log = logging.getLogger("d365_assets.fo")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class _SasRejected(Exception):
    """403 from the blob host: the SAS expired or is invalid; a fresh URL is needed."""


class _Incomplete(Exception):
    """The body ended before Content-Length bytes arrived."""


class _Corrupt(Exception):
    """The downloaded bytes do not match the blob's MD5: download them again."""


_RETRIED = (RetryableResponse, httpx.TransportError, _SasRejected, _Incomplete, _Corrupt)


class BlobDownload:
    """One package download into ``<destination>.part``, renamed to ``destination`` once verified.

    ``client`` must carry no F&O credentials. ``fresh_url()`` is called for the first URL and again
    after each 403 (an expired SAS), at most ``max_url_refreshes`` times. A connection that drops
    mid-body resumes with ``Range: bytes=N-``. The file is accepted once its size matches
    ``Content-Length`` and its MD5 the blob's (when the host sends one) and it starts like a zip.
    A URL that is not ``https://`` is refused before any request.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        fresh_url: Callable[[], str],
        destination: Path,
        execution_id: str,
        policy: RetryPolicy,
        log: RedactingLog | None = None,
        max_url_refreshes: int = 2,
        progress_every: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.destination = Path(destination)
        self.part = self.destination.with_name(self.destination.name + ".part")
        self.execution_id = execution_id
        self._client, self._fresh_url, self._policy = client, fresh_url, policy
        self._log = log or RedactingLog()
        self._max_url_refreshes, self._progress_every = max_url_refreshes, progress_every
        self._sleep, self._clock = sleep, clock
        self._url = ""
        self._need_url = True
        self._refreshes = 0
        self._resumes = 0
        self._total: int | None = None
        self._md5: bytes | None = None
        """The whole blob's MD5 as the blob host tells it; None when it does not."""
        self._started = self._last_log = 0.0

    def run(self) -> DownloadedFile:
        """Download with bounded retries; the verified file, or :class:`PackageDownloadError`."""
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        self.part.unlink(missing_ok=True)
        self._started = self._last_log = self._clock()
        try:
            for attempt in retrying(
                self._policy,
                what=f"downloading package {self.execution_id}",
                retry_on=_RETRIED,
                sleep=self._sleep,
                clock=self._clock,
                secrets=self._log.secrets,
            ):
                with attempt:
                    self._attempt()
        except _RETRIED as exc:
            self.part.unlink(missing_ok=True)
            raise self._gave_up(exc) from None
        except BaseException:
            self.part.unlink(missing_ok=True)  # nothing half-downloaded stays behind, whatever stopped it
            raise
        return self._finish()

    # -- one attempt -------------------------------------------------------------------------

    def _attempt(self) -> None:
        """One GET of the blob (of its rest, after a dropped connection) into the ``.part`` file."""
        if self._need_url:
            self._url = self._fresh_url()
            self._need_url = False
            if not is_https(self._url):
                raise _insecure_url(self.execution_id, self._url)
        offset = self.part.stat().st_size if self.part.exists() else 0
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            self._resumes += 1
            self._log.info(f"resuming download of {self.execution_id} at byte {offset}")
        with self._client.stream("GET", self._url, headers=headers) as response:
            mode = self._accept(response, offset)
            received = self._receive(response, offset=offset if mode == "ab" else 0, mode=mode)
        self._verify(received)

    def _accept(self, response: httpx.Response, offset: int) -> str:
        """How to write the body (``"wb"`` afresh, ``"ab"`` a resumed range), or why not to."""
        status = response.status_code
        if status == 403:
            raise self._sas_rejected()
        if status == 404:
            raise PackageDownloadError(
                f"the package blob of {self.execution_id} was not found (HTTP 404); exported packages are "
                "deleted after 7 days: run the export again",
                execution_id=self.execution_id,
                status_code=404,
            )
        if status == 416 and offset:
            self.part.unlink(missing_ok=True)
            raise _Incomplete("the blob host refused the range; restarting")
        if status in RETRYABLE_STATUS:
            raise RetryableResponse(response)
        if status == 206 and offset:
            self._resume_range(response.headers, offset)
            return "ab"
        if status == 200:
            length = response.headers.get("Content-Length")
            self._total = int(length) if length and length.isdigit() else None
            self._md5 = _blob_md5(response.headers, ranged=False)
            return "wb"
        raise PackageDownloadError(
            f"downloading the package of {self.execution_id} failed: HTTP {status} from the blob host",
            execution_id=self.execution_id,
        )

    def _sas_rejected(self) -> Exception:
        """A 403: ask for a fresh package URL, unless that was done often enough already."""
        if self._refreshes >= self._max_url_refreshes:
            return PackageDownloadError(
                f"the blob host refused the package URL of {self.execution_id} (HTTP 403) even after "
                f"{self._refreshes} fresh URL(s); check the machine's clock (SAS start/expiry) "
                "and that nothing rewrites the URL",
                execution_id=self.execution_id,
            )
        self._refreshes += 1
        self._need_url = True
        self._log.warning(f"package URL of {self.execution_id} rejected (HTTP 403); asking for a fresh one")
        return _SasRejected("HTTP 403 from the blob host")

    def _resume_range(self, headers: httpx.Headers, offset: int) -> None:
        """A 206 must continue at ``offset`` and come from the blob the first bytes came from."""
        match = _CONTENT_RANGE.match(headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != offset:
            self.part.unlink(missing_ok=True)
            raise _Incomplete("unexpected Content-Range; restarting")
        if match.group(3) != "*":
            self._total = int(match.group(3))
        md5 = _blob_md5(headers, ranged=True)
        if md5 is not None and self._md5 is not None and md5 != self._md5:
            self.part.unlink(missing_ok=True)
            self._md5 = None
            raise _Incomplete("the blob changed between two ranges; restarting")
        self._md5 = self._md5 or md5

    def _receive(self, response: httpx.Response, *, offset: int, mode: str) -> int:
        """Stream the body into the ``.part`` file; returns its size. Logs progress now and then."""
        received = offset
        with self.part.open(mode) as file:
            # Unbuffered writes of what the network delivers: every byte received is on disk before
            # a dropped connection raises, so the resume starts where the body stopped.
            for chunk in response.iter_bytes():
                file.write(chunk)
                received += len(chunk)
                now = self._clock()
                if now - self._last_log >= self._progress_every:
                    self._last_log = now
                    self._log.info(_progress(self.execution_id, received, self._total, now - self._started))
        return received

    def _verify(self, received: int) -> None:
        """The ``.part`` file holds the whole blob: its announced size, and its MD5 when known."""
        if self._total is not None and received != self._total:
            self._log.warning(f"download of {self.execution_id} stopped at {received} of {self._total} bytes")
            raise _Incomplete(f"the body ended at {received} of {self._total} bytes")
        if self._md5 is not None and _file_md5(self.part) != self._md5:
            self.part.unlink(missing_ok=True)
            self._log.warning(f"the download of {self.execution_id} does not match the blob's MD5; again")
            raise _Corrupt("the downloaded bytes do not match the blob's MD5")

    # -- the end -----------------------------------------------------------------------------

    def _finish(self) -> DownloadedFile:
        """Put the verified ``.part`` file in place, unless it is not a zip at all."""
        size = self.part.stat().st_size
        with self.part.open("rb") as file:
            magic = file.read(4)
        if magic not in _ZIP_MAGIC:
            self.part.unlink(missing_ok=True)
            raise PackageDownloadError(
                f"the download of {self.execution_id} is not a zip package (starts with {magic!r}); "
                "the blob host or a proxy returned something else",
                execution_id=self.execution_id,
            )
        os.replace(self.part, self.destination)
        result = DownloadedFile(
            path=self.destination,
            size_bytes=size,
            seconds=self._clock() - self._started,
            url_refreshes=self._refreshes,
            resumes=self._resumes,
        )
        self._log.info(
            f"downloaded package {self.execution_id}: {size / 1e6:.1f} MB in {result.seconds:.1f}s "
            f"({result.mb_per_second:.1f} MB/s) to {self.destination}"
        )
        return result

    def _gave_up(self, exc: BaseException) -> PackageDownloadError:
        fix = (
            "something between the blob host and this machine changes the bytes (a proxy, a virus "
            "scanner or a faulty network link): check it"
            if isinstance(exc, _Corrupt)
            else "check the network path to the blob host"
        )
        return PackageDownloadError(
            self._log.redact(
                f"downloading the package of {self.execution_id} failed after {self._policy.max_attempts} "
                f"attempts ({_describe(exc)}); {fix}, then run the export again"
            ),
            execution_id=self.execution_id,
        )


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
