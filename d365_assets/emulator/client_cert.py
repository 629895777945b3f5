"""The app registration's certificate credential: a test certificate and client-assertion checks.

The emulator generates one RSA certificate (with its private key, one PEM file) per state directory
and accepts a ``client_assertion`` (RFC 7523 JWT, RS256 or PS256) signed with its key, the way Entra
ID accepts a certificate uploaded to an app registration.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Collection
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .tls import key_pem, self_signed, write_private

__all__ = ["ASSERTION_TYPE", "check_client_assertion", "ensure_client_certificate"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def ensure_client_certificate(state_dir: Path) -> Path:
    """``client-cert.pem`` (private key + certificate, mode 0600), created once; call under the init lock."""
    path = state_dir / "client-cert.pem"
    if path.exists():
        return path
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, common_name="d365-assets emulator client", days=730).sign(key, hashes.SHA256())
    write_private(path, key_pem(key) + cert.public_bytes(serialization.Encoding.PEM))
    return path


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def check_client_assertion(
    assertion: str, *, certificate: Path, client_id: str, audiences: Collection[str], now: float | None = None
) -> str | None:
    """Why ``assertion`` is not acceptable for ``client_id``, or None when it is.

    Checks: a three-part JWT, alg RS256/PS256, a signature by ``certificate``'s key, ``x5t`` or
    ``x5t#S256`` (when present) naming the certificate, ``iss`` = ``sub`` = ``client_id``, ``aud``
    one of ``audiences`` (the token endpoint), ``exp`` in the future and ``nbf`` not in the future.
    """
    try:
        head_b64, body_b64, sig_b64 = assertion.split(".")
        header, claims = json.loads(_b64(head_b64)), json.loads(_b64(body_b64))
        signature = _b64(sig_b64)
    except ValueError:
        return "the client assertion is not a well-formed JWT"
    cert = x509.load_pem_x509_certificate(certificate.read_bytes())
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    signed = f"{head_b64}.{body_b64}".encode()
    alg = header.get("alg")
    if alg == "RS256":
        scheme: padding.AsymmetricPadding = padding.PKCS1v15()
    elif alg == "PS256":
        scheme = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    else:
        return f"unsupported assertion algorithm {alg!r}"
    try:
        public_key.verify(signature, signed, scheme, hashes.SHA256())
    except InvalidSignature:
        return "Client assertion failed signature validation."
    thumbprints = {
        "x5t": base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).decode().rstrip("="),  # noqa: S303
        "x5t#S256": base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).decode().rstrip("="),
    }
    for name, expected in thumbprints.items():
        if name in header and header[name].rstrip("=") != expected:
            return f"Client assertion contains an invalid signature ({name} names another certificate)."
    now = time.time() if now is None else now
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        return "The client assertion's iss and sub must be the client id."
    if claims.get("aud") not in audiences:
        return f"The audience {claims.get('aud')!r} of the client assertion is not the token endpoint."
    if float(claims.get("exp", 0)) <= now or float(claims.get("nbf", 0)) > now + 300:
        return "The client assertion is expired or not yet valid."
    return None
