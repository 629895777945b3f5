"""What a caller can tune in :class:`~d365_assets.fo.D365Client`, in two small groups.

::

    D365Client(environment_url=url, credential=credential,
               http=HttpOptions(ca_bundle="corp-ca.pem", proxy="https://proxy:3128"),
               polling=PollOptions(timeout=2 * 3600))

The flat spelling of the same options (``ca_bundle=``, ``poll_timeout=``, ...; see
:class:`FlatOptions`) works too and overrides the groups' fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypedDict

import httpx

from .retry import RetryPolicy

__all__ = ["FlatOptions", "HttpOptions", "PollOptions", "grouped"]


@dataclass(frozen=True, kw_only=True)
class HttpOptions:
    """How the client reaches F&O, the token authority and blob storage."""

    ca_bundle: str | Path | None = None
    """An extra PEM file of CA certificates to trust (``D365_CA_BUNDLE``); it never replaces the default."""
    timeout: float = 60.0
    """Seconds one HTTP read may take (connecting: at most 30)."""
    proxy: str | None = None
    """An HTTP(S) proxy URL for every connection; environment proxy variables play no part."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """How hard to retry one call (throttling, 5xx, a dropped connection)."""
    transport: httpx.BaseTransport | None = None
    """The F&O origin's httpx transport (tests inject one); None: real network."""
    blob_transport: httpx.BaseTransport | None = None
    """The blob host's httpx transport (tests inject one); None: real network."""
    msal_http_client: Any = None
    """msal's HTTP client for the authority (tests inject one); None: one over httpx with our TLS."""


@dataclass(frozen=True, kw_only=True)
class PollOptions:
    """How the client waits for an export: pauses that grow with the wait, capped, jittered, all bounded."""

    interval: float = 2.0
    """The shortest pause between two polls; later pauses are a tenth of the time waited so far, up to
    ``max_interval``, so an export is noticed within a tenth of its own time."""
    max_interval: float = 10.0
    """The longest pause between two polls, jitter included (never below ``interval``): a finished
    export is noticed within it. F&O's service protection documentation lists DMF as exempt (and a
    429 is honoured anyway), so polling a long export every 10 s costs little and saves minutes."""
    timeout: float = 4 * 3600.0
    """Longest wait for an execution to reach a final status (F&O may queue DMF batch jobs)."""
    not_found_grace: float = 600.0
    """How long a young execution may be unknown to F&O before that is an error."""
    url_timeout: float = 600.0
    """Longest wait for F&O to publish the package URL of a finished export."""


class FlatOptions(TypedDict, total=False):
    """The options of :class:`HttpOptions` and :class:`PollOptions` as flat keyword arguments."""

    ca_bundle: str | Path | None
    timeout: float
    proxy: str | None
    retry: RetryPolicy | None
    transport: httpx.BaseTransport | None
    blob_transport: httpx.BaseTransport | None
    msal_http_client: Any
    poll_interval: float
    max_poll_interval: float
    poll_timeout: float
    not_found_grace: float
    url_timeout: float


_POLL_NAMES = {
    "poll_interval": "interval",
    "max_poll_interval": "max_interval",
    "poll_timeout": "timeout",
    "not_found_grace": "not_found_grace",
    "url_timeout": "url_timeout",
}
_HTTP_NAMES = {f.name: f.name for f in fields(HttpOptions)}


def grouped(
    http: HttpOptions | None, polling: PollOptions | None, flat: FlatOptions
) -> tuple[HttpOptions, PollOptions]:
    """The two groups with the flat options applied on top; a name of neither is a ``TypeError``."""
    unknown = sorted(set(flat) - set(_HTTP_NAMES) - set(_POLL_NAMES))
    if unknown:
        raise TypeError(f"D365Client() got unexpected keyword argument(s): {', '.join(unknown)}")
    values: dict[str, Any] = dict(flat)
    if values.get("retry", RetryPolicy()) is None:
        values["retry"] = RetryPolicy()  # retry=None always meant the default policy
    http_changes = {_HTTP_NAMES[k]: v for k, v in values.items() if k in _HTTP_NAMES}
    poll_changes = {_POLL_NAMES[k]: v for k, v in values.items() if k in _POLL_NAMES}
    return (
        replace(http or HttpOptions(), **http_changes),
        replace(polling or PollOptions(), **poll_changes),
    )
