"""Exceptions raised by the data-package reader.

::

    PackageError               the package cannot be read: not a zip, unsafe entry, bad manifest,
    │                          missing file, unknown format, malformed file, bad header, or file
    │                          columns that do not match the schema
    ├── PackageValueError      a value does not parse as its column's type (names entity, column, row, value)
    ├── PackageIntegrityError  the zip's bytes are damaged (bad CRC, truncated): download or export again
    └── EntityFileError        the entity file is not whole: no header, no natural key, another entity's file
"""

from __future__ import annotations

from d365_assets.errors import D365AssetsError

__all__ = ["PackageError", "PackageIntegrityError", "PackageValueError"]


class PackageError(D365AssetsError):
    """The data package, its manifest, or one of its entity files cannot be read."""


class PackageIntegrityError(PackageError):
    """The zip's bytes are damaged: the download is corrupt or truncated.

    Raised for a file that is not a whole zip, and for a member whose compressed data does not
    inflate or whose CRC does not match, whichever reader (manifest, CSV, XML, Excel) meets it.
    The package cannot be repaired: it is downloaded, or exported, again.
    """


class PackageValueError(PackageError):
    """A field does not parse as the type its column declares.

    ``row`` is the 1-based data row number (the header row is not counted).
    """

    def __init__(self, text: str, *, entity: str, column: str, row: int, value: str) -> None:
        super().__init__(text)
        self.entity = entity
        self.column = column
        self.row = row
        self.value = value
