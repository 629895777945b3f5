"""DMF source data formats: how an entity file named in the manifest is decoded.

A format is looked up by the manifest's ``<SourceFormat>`` (case-insensitive) in
:data:`DEFAULT_FORMATS`, a plain table of name -> :class:`FileFormat`. F&O's source formats are
environment-configurable, so a data project using another name (or another code page) is read by
passing ``formats=`` to :meth:`DataPackage.open`, e.g.
``{"COLON-Unicode": FileFormat.delimited(":", "utf-16-le")}``; entries there win over the defaults.

A byte-order mark always wins over a format's encoding, so ``CSV`` reads UTF-8 with or without
a BOM, and a UTF-16 file with a BOM reads under any delimited format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .errors import PackageError

__all__ = ["DEFAULT_FORMATS", "FileFormat", "resolve_format"]

FormatKind = Literal["delimited", "excel", "xml"]


@dataclass(frozen=True)
class FileFormat:
    """How to decode one entity file."""

    kind: FormatKind
    encoding: str = "utf-8"
    """The text encoding used when the file has no BOM (a BOM always wins)."""
    delimiter: str = ","
    quote_char: str = '"'
    xml_style: Literal["element", "attribute"] = "element"
    """XML only: fields as child elements or as attributes (the reader accepts both either way)."""

    @classmethod
    def delimited(cls, delimiter: str = ",", encoding: str = "utf-8", quote_char: str = '"') -> FileFormat:
        """A delimited text format with a header row."""
        return cls("delimited", encoding=encoding, delimiter=delimiter, quote_char=quote_char)

    @classmethod
    def xml(cls, style: Literal["element", "attribute"] = "element") -> FileFormat:
        """An XML format: ``<Document>`` holding one element per record."""
        return cls("xml", xml_style=style)


_UTF16 = "utf-16-le"
_DELIMITERS = {"CSV": ",", "SEMICOLON": ";", "TAB": "\t", "PIPE": "|", "COLON": ":"}

DEFAULT_FORMATS: Mapping[str, FileFormat] = {
    # <NAME> is UTF-8 (BOM optional), <NAME>-Unicode is UTF-16 LE, per delimiter.
    **{name: FileFormat.delimited(delimiter, "utf-8") for name, delimiter in _DELIMITERS.items()},
    **{f"{name}-Unicode": FileFormat.delimited(delimiter, _UTF16) for name, delimiter in _DELIMITERS.items()},
    "CSV-UTF8": FileFormat.delimited(",", "utf-8"),
    "TSV": FileFormat.delimited("\t", "utf-8"),
    "TSV-Unicode": FileFormat.delimited("\t", _UTF16),
    "EXCEL": FileFormat("excel"),
    "XML-Element": FileFormat.xml("element"),
    "XML-Attribute": FileFormat.xml("attribute"),
}
"""Source format name -> file format; names match case-insensitively."""


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
    return found
