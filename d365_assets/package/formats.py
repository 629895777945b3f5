"""DMF source data formats: how an entity file named in the manifest is decoded.

A format is looked up by the manifest's ``<SourceFormat>`` (case-insensitive). The defaults cover
the formats F&O ships (``CSV-Unicode``, ``CSV``, ``EXCEL``); a data project using a custom format
(semicolon, tab or pipe separated, another code page) is read by passing ``formats=`` to
:meth:`DataPackage.open`, e.g. ``{"SEMICOLON-Unicode": FileFormat.delimited(";", "utf-16-le")}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .errors import PackageError

__all__ = ["DEFAULT_FORMATS", "FileFormat", "resolve_format"]


@dataclass(frozen=True)
class FileFormat:
    """How to decode one entity file."""

    kind: Literal["delimited", "excel", "xml"]
    encoding: str = "utf-8"
    """The text encoding used when the file has no BOM (a BOM always wins)."""
    delimiter: str = ","
    quote_char: str = '"'

    @classmethod
    def delimited(cls, delimiter: str = ",", encoding: str = "utf-8", quote_char: str = '"') -> FileFormat:
        """A delimited text format with a header row."""
        return cls("delimited", encoding=encoding, delimiter=delimiter, quote_char=quote_char)


DEFAULT_FORMATS: Mapping[str, FileFormat] = {
    "CSV-UNICODE": FileFormat.delimited(",", "utf-16-le"),
    "CSV": FileFormat.delimited(",", "utf-8"),
    "CSV-UTF8": FileFormat.delimited(",", "utf-8"),
    "EXCEL": FileFormat("excel"),
}


def resolve_format(
    source_format: str, *, entity: str, formats: Mapping[str, FileFormat] | None = None
) -> FileFormat:
    """The :class:`FileFormat` of a manifest ``<SourceFormat>``; raises for an unknown one."""
    known = {name.upper(): fmt for name, fmt in {**DEFAULT_FORMATS, **(formats or {})}.items()}
    found = known.get(source_format.strip().upper())
    if found is None:
        raise PackageError(
            f"entity {entity!r}: source format {source_format!r} is not supported (known: "
            f"{', '.join(sorted(known))}); export the data project as CSV-Unicode, or pass "
            "formats={...: FileFormat.delimited(...)} to DataPackage.open"
        )
    if found.kind == "xml":
        raise PackageError(
            f"entity {entity!r}: XML source formats are not supported yet; export as CSV-Unicode"
        )
    return found
