"""The TLS settings shared by every connection of the client (authority, F&O and blob storage)."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi

from .errors import D365Error

__all__ = ["ssl_context"]


def ssl_context(ca_bundle: str | Path | None = None) -> ssl.SSLContext:
    """A verifying TLS context trusting the system store, certifi, and ``ca_bundle`` if given.

    ``ca_bundle`` is an *extra* PEM file to trust (``D365_CA_BUNDLE``), e.g. a corporate TLS-inspection
    root or a local emulator's CA. It adds to the default trust; it never replaces it. Verification
    cannot be switched off, and ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` / ``SSL_CERT_FILE`` play no part.
    """
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=certifi.where())
    if ca_bundle is not None and str(ca_bundle) != "":
        path = Path(ca_bundle)
        if not path.is_file():
            raise D365Error(
                f"CA bundle {str(path)!r} does not exist: point D365_CA_BUNDLE at a PEM file, or unset it"
            )
        try:
            context.load_verify_locations(cafile=str(path))
        except ssl.SSLError as exc:
            raise D365Error(
                f"CA bundle {str(path)!r} holds no usable PEM certificate ({exc}): "
                "point D365_CA_BUNDLE at a PEM file of CA certificates"
            ) from exc
    return context
