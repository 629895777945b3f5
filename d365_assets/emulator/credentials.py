"""The emulated app registration (tenant, client id, secret) and the SAS signing key, kept on disk."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Credentials", "ensure_credentials"]


@dataclass(frozen=True)
class Credentials:
    """Secrets of one emulated environment; generated once per state directory."""

    tenant_id: str
    client_id: str
    client_secret: str
    sas_key: bytes

    def __repr__(self) -> str:
        return f"Credentials(tenant_id={self.tenant_id!r}, client_id={self.client_id!r}, client_secret=***)"


def ensure_credentials(state_dir: Path) -> Credentials:
    """Read ``credentials.json`` or create it (mode 0600); call under the init lock."""
    path = state_dir / "credentials.json"
    if not path.exists():
        data = {
            "tenant_id": str(uuid.uuid4()),
            "client_id": str(uuid.uuid4()),
            "client_secret": secrets.token_urlsafe(30),
            "sas_key": secrets.token_hex(32),
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    return Credentials(
        tenant_id=data["tenant_id"],
        client_id=data["client_id"],
        client_secret=data["client_secret"],
        sas_key=bytes.fromhex(data["sas_key"]),
    )
