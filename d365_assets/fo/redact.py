"""Remove secrets from text before it is logged or raised.

Every log line and exception message of the F&O client goes through :func:`redact`: the client's
logger is a :class:`RedactingLog`, and httpx's own log lines pass a :class:`RedactingFilter`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable

__all__ = ["REDACTED", "RedactingFilter", "RedactingLog", "redact"]

REDACTED = "***"

_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/=]+")
_SAS_SIG = re.compile(r"(?i)([?&;]sig=)[^&#\s\"'<>]+")
_FORM_SECRET = re.compile(
    r"(?i)\b(client_secret|access_token|refresh_token|id_token)(\"?\s*[=:]\s*\"?)[^&\s\"',}]+"
)
_LOG = logging.getLogger("d365_assets.fo")

SecretSource = Callable[[], Iterable[str]]
"""Tells the secrets to redact now (a credential's secret, the tokens handed out so far)."""


def redact(text: str, *secrets: str) -> str:
    """Return ``text`` with the given secrets, bearer tokens and SAS signatures replaced by ``***``.

    Empty or very short secrets (under 4 characters) are ignored, so that redaction never shreds
    ordinary words.
    """
    result = str(text)
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        result = result.replace(secret, REDACTED)
    result = _BEARER.sub(rf"\1 {REDACTED}", result)
    result = _SAS_SIG.sub(rf"\1{REDACTED}", result)
    return _FORM_SECRET.sub(rf"\1\2{REDACTED}", result)


class RedactingLog:
    """The F&O client's log (``d365_assets.fo``): every line is redacted of ``secrets()`` first."""

    def __init__(self, secrets: SecretSource = tuple) -> None:
        self._secrets = secrets

    def secrets(self) -> tuple[str, ...]:
        """The secrets to redact, as of now."""
        return tuple(self._secrets())

    def redact(self, text: str) -> str:
        """``text`` without the secrets, bearer tokens and SAS signatures."""
        return redact(text, *self._secrets())

    def debug(self, text: str) -> None:
        _LOG.debug("%s", self.redact(text))

    def info(self, text: str) -> None:
        _LOG.info("%s", self.redact(text))

    def warning(self, text: str) -> None:
        _LOG.warning("%s", self.redact(text))

    def error(self, text: str) -> None:
        _LOG.error("%s", self.redact(text))


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's final message (and its exception text).

    ``secrets`` is asked on every record, so the filter redacts what is secret at that moment and
    holds no secret itself. Without it, bearer tokens, SAS signatures and form secrets still go.
    """

    def __init__(self, secrets: SecretSource = tuple) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record as it is
            return True
        secrets = tuple(self._secrets())
        record.msg = redact(message, *secrets)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), *secrets)
        return True
