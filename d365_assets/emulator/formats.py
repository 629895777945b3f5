"""The DMF source data formats the emulator writes: a table of name -> how the data file looks.

Delimited formats are named ``<DELIMITER NAME>`` (UTF-8 with a BOM) and ``<DELIMITER NAME>-Unicode``
(UTF-16 LE with a BOM), after F&O's ``CSV``/``CSV-Unicode``; ``CSV-UTF8`` is UTF-8 without a BOM.
XML files are ``<Document>`` with one element per record named after the entity's AOT name in upper
case (F&O's default, "Entity names in non uppercase" off), fields as child elements
(``XML-Element``) or attributes (``XML-Attribute``). ``EXCEL`` is an xlsx workbook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["SOURCE_FORMATS", "SourceFormat", "source_format"]


@dataclass(frozen=True)
class SourceFormat:
    """How the data file of one source format is written."""

    kind: Literal["delimited", "xml", "excel"]
    extension: str
    encoding: str = "utf-8"
    bom: bool = True
    delimiter: str = ","
    xml_style: Literal["element", "attribute"] = "element"


_UTF16 = "utf-16-le"
_DELIMITERS = {"CSV": ",", "SEMICOLON": ";", "TAB": "\t", "PIPE": "|"}

SOURCE_FORMATS: dict[str, SourceFormat] = {
    **{name: SourceFormat("delimited", ".csv", "utf-8", True, sep) for name, sep in _DELIMITERS.items()},
    **{
        f"{name}-Unicode": SourceFormat("delimited", ".csv", _UTF16, True, sep)
        for name, sep in _DELIMITERS.items()
    },
    "CSV-UTF8": SourceFormat("delimited", ".csv", "utf-8", bom=False),
    "XML-Element": SourceFormat("xml", ".xml", "utf-8", xml_style="element"),
    "XML-Attribute": SourceFormat("xml", ".xml", "utf-8", xml_style="attribute"),
    "EXCEL": SourceFormat("excel", ".xlsx"),
}
"""Source format name (as in ``projects.yaml`` and the manifest) -> file layout."""


def source_format(name: str) -> SourceFormat:
    """The format called ``name``; raises :class:`KeyError` naming the known ones."""
    try:
        return SOURCE_FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown source format {name!r}; known: {', '.join(SOURCE_FORMATS)}") from None
