"""Shared access signatures for package blobs: sign read URLs and check them."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlencode

__all__ = ["SAS_VERSION", "SasCheck", "check_sas", "sign_url"]

SAS_VERSION = "2021-08-06"
_FMT = "%Y-%m-%dT%H:%M:%SZ"
_START_SKEW = dt.timedelta(minutes=5)


def _signature(key: bytes, blob: str, *, st: str, se: str, sp: str, sr: str, sv: str) -> str:
    text = "\n".join([sp, st, se, f"/blob/emulator/dmf/{blob}", sv, sr]).encode()
    return base64.urlsafe_b64encode(hmac.new(key, text, hashlib.sha256).digest()).decode().rstrip("=")


def sign_url(blob_host: str, blob: str, *, key: bytes, lifetime_seconds: float, now: dt.datetime) -> str:
    """A read-only SAS URL for ``blob`` in the ``dmf`` container, valid for ``lifetime_seconds``."""
    start = (now - _START_SKEW).strftime(_FMT)
    expiry = (now + dt.timedelta(seconds=lifetime_seconds)).strftime(_FMT)
    sig = _signature(key, blob, st=start, se=expiry, sp="r", sr="b", sv=SAS_VERSION)
    query = urlencode({"sv": SAS_VERSION, "st": start, "se": expiry, "sr": "b", "sp": "r", "sig": sig})
    return f"{blob_host}/dmf/{blob}?{query}"


@dataclass(frozen=True)
class SasCheck:
    """Result of checking a SAS: ``ok``, or the reason and the window to report."""

    ok: bool
    start: str = ""
    expiry: str = ""
    reason: str = ""


def check_sas(blob: str, params: dict[str, str], *, key: bytes, now: dt.datetime) -> SasCheck:
    """Check signature, permissions and time window of a SAS for reading ``blob``."""
    st, se = params.get("st", ""), params.get("se", "")
    try:
        start = dt.datetime.strptime(st, _FMT).replace(tzinfo=dt.UTC)
        expiry = dt.datetime.strptime(se, _FMT).replace(tzinfo=dt.UTC)
    except ValueError:
        return SasCheck(False, st, se, "Signature fields not well formed.")
    expected = _signature(
        key, blob, st=st, se=se, sp=params.get("sp", ""), sr=params.get("sr", ""), sv=params.get("sv", "")
    )
    if not hmac.compare_digest(expected, params.get("sig", "")) or "r" not in params.get("sp", ""):
        return SasCheck(False, st, se, "Signature did not match.")
    if not start <= now <= expiry:
        return SasCheck(False, st, se, "window")
    return SasCheck(True, st, se)
