"""GUIDs as F&O writes them (recurring activity ids, message and correlation ids), in one form."""

from __future__ import annotations

import re

__all__ = ["canonical_guid"]

_GUID = re.compile(
    r"(\{)?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?(1)\})"
)
"""A GUID with or without braces; an opening brace needs its closing one."""


def canonical_guid(value: object) -> str | None:
    """``value`` as a GUID in lower case without braces, or None when it is not one."""
    match = _GUID.fullmatch(value) if isinstance(value, str) else None
    return match.group(2).lower() if match else None
