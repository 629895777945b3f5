"""URLs that carry a token, a secret or a package: HTTPS only, and shown without their query.

The environment URL gets the bearer token, the authority gets the client secret (or a signed
assertion), and a package URL carries a SAS and the exported rows. None of them may be plain
``http://``, loopback included (the embedded emulator is HTTPS too). Errors show a URL through
:func:`display_url`: scheme, host and path only, so a SAS signature or a password never shows.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .errors import InsecureUrlError

__all__ = [
    "display_url",
    "is_https",
    "normalize_environment_url",
    "require_https",
    "require_https_authority",
    "token_scope",
]

_ENVIRONMENT_EXAMPLE = "https://<environment>.operations.dynamics.com"


def display_url(url: str) -> str:
    """``url`` as ``scheme://host[:port]/path``: no user info, query or fragment (no SAS, no password)."""
    try:
        parts = urlsplit(str(url).strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # an unparsable port: show nothing beyond the scheme
        return "<unparsable URL>"
    if not parts.scheme and not host:
        return repr(str(url).split("?", 1)[0].split("#", 1)[0][:100])
    return f"{parts.scheme}://{host}{port}{parts.path}"


def is_https(url: str) -> bool:
    """Whether ``url`` is an absolute ``https://`` URL with a host and no user info."""
    try:
        parts = urlsplit(str(url).strip())
    except ValueError:
        return False
    return parts.scheme.lower() == "https" and bool(parts.hostname) and "@" not in parts.netloc


def require_https(url: str, *, what: str, fix: str) -> str:
    """``url`` stripped, or :class:`InsecureUrlError` naming ``what``, the URL (no query) and ``fix``."""
    if is_https(url):
        return str(url).strip()
    parts = urlsplit(str(url).strip()) if "://" in str(url) else None
    if parts is not None and parts.scheme.lower() == "https" and "@" in parts.netloc:
        reason = "carries a user name or password"
    elif parts is not None and parts.scheme.lower() == "http":
        reason = "is plain http: what it carries would travel in clear text"
    else:
        reason = "is not an absolute https:// URL"
    raise InsecureUrlError(f"{what} {display_url(url)} {reason}; {fix}", url=display_url(url))


def normalize_environment_url(url: str) -> str:
    """``url`` without trailing slashes or query; an on-premises ``/namespaces/AXSF`` path is kept.

    Raises :class:`InsecureUrlError` unless it is an ``https://`` URL: the bearer token goes there.
    """
    url = require_https(
        url,
        what="the F&O environment URL",
        fix=f"set D365_ENVIRONMENT_URL to {_ENVIRONMENT_EXAMPLE} "
        "(on-premises: https://<AOS host>/namespaces/AXSF)",
    )
    parts = urlsplit(url)
    return f"https://{parts.netloc}{parts.path.rstrip('/')}"


def token_scope(environment_url: str) -> str:
    """The Entra scope for an environment: its origin (no path, no trailing slash) + ``/.default``."""
    parts = urlsplit(normalize_environment_url(environment_url))
    return f"https://{parts.netloc}/.default"


def require_https_authority(authority_url: str) -> str:
    """The token authority (``<host>/<tenant>`` or AD FS), refused unless HTTPS: the secret goes there."""
    return require_https(
        authority_url,
        what="the token authority",
        fix="set D365_AUTHORITY_HOST to an https:// URL (default https://login.microsoftonline.com; "
        "AD FS: https://<adfs host>/adfs)",
    )
