"""The blob storage origin: SAS-authorised, streamed package downloads (with ``Range`` support).

Like Azure Blob Storage for a blob stored with an MD5, a GET tells the whole blob's MD5 (base64):
in ``Content-MD5`` when it reads the whole blob, in ``x-ms-blob-content-md5`` when it has a ``Range``
header. ``EmulatorConfig.blob_content_md5 = False`` plays blobs stored without one (no such header).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import time
import uuid
from collections.abc import Callable
from email.utils import format_datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from .dmf import DmfService
from .sas import SAS_VERSION, check_sas
from .storage_errors import storage_error

__all__ = ["build_blob_app"]


def _storage_error(status: int, code: str, message: str, detail: str = "") -> Response:
    return storage_error(status, code, message, detail=detail)


def _http_date(value: dt.datetime) -> str:
    return format_datetime(value, usegmt=True)


def _parse_sas_time(value: str) -> str:
    try:
        return _http_date(dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC))
    except ValueError:
        return value


_AUTH_FAILED = (
    "Server failed to authenticate the request. Make sure the value of Authorization header is formed "
    "correctly including the signature."
)


def _blob_not_found() -> Response:
    return _storage_error(404, "BlobNotFound", "The specified blob does not exist.")


@functools.lru_cache(maxsize=256)
def _md5_of(path: str, mtime_ns: int, size: int) -> str:
    """The base64 MD5 of a package file (blobs never change once built; the key notices if one did)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def _md5_header(path: Path, *, ranged: bool) -> dict[str, str]:
    stat = path.stat()
    value = _md5_of(str(path), stat.st_mtime_ns, stat.st_size)
    return {"x-ms-blob-content-md5" if ranged else "Content-MD5": value}


def build_blob_app(
    *, service: DmfService, sas_key: bytes, retention_seconds: float, clock: Callable[[], float] = time.time
) -> Starlette:
    """The blob origin's ASGI app. Authorization headers are ignored: the SAS is the credential."""

    async def download(request: Request) -> Response:
        blob = request.path_params["blob"]
        now = dt.datetime.fromtimestamp(clock(), dt.UTC)
        check = check_sas(blob, dict(request.query_params), key=sas_key, now=now)
        if not check.ok:
            if check.reason == "window":
                start, expiry = _parse_sas_time(check.start), _parse_sas_time(check.expiry)
                detail = (
                    f"Signature not valid in the specified time frame: Start [{start}] - "
                    f"Expiry [{expiry}] - Current [{_http_date(now)}]"
                )
            else:
                detail = check.reason
            return _storage_error(403, "AuthenticationFailed", _AUTH_FAILED, detail)
        record = await run_in_threadpool(service.store.execution_for_blob, blob)
        if record is None or record.built_at is None or clock() > record.created_at + retention_seconds:
            return _blob_not_found()
        path = service.blob_path(blob)
        if not path.is_file():
            return _blob_not_found()
        headers = {
            "x-ms-blob-type": "BlockBlob",
            "x-ms-version": SAS_VERSION,
            "x-ms-request-id": str(uuid.uuid4()),
        }
        if service.config.blob_content_md5:
            ranged = "range" in request.headers
            headers.update(await run_in_threadpool(_md5_header, path, ranged=ranged))
        return FileResponse(path, media_type="application/octet-stream", headers=headers)

    return Starlette(routes=[Route("/dmf/{blob}", download, methods=["GET", "HEAD"])])
