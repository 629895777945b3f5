"""Streaming an ``XML-Element`` / ``XML-Attribute`` entity file out of the zip as text batches.

The file is ``<Document>`` holding one element per record. F&O names record elements after the
entity in upper case (the emulator writes the AOT name, ``<CUSTCUSTOMERV3ENTITY>``); any name is
accepted. A record's fields are its attributes and its child elements, whichever the file uses:
``<CUSTOMERACCOUNT>US-001</CUSTOMERACCOUNT>`` or ``CUSTOMERACCOUNT="US-001"``. An empty element
(``<NAME/>``) and an absent field both read as ``""``. Field names match case-insensitively.

Parsing is incremental (defusedxml's expat SAX reader fed 1 MiB at a time, DTDs and entities
refused) and keeps no tree, so memory stays bounded by the batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO
from xml.sax import SAXException
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import AttributesImpl

import pyarrow as pa
from defusedxml import DefusedXmlException
from defusedxml.expatreader import DefusedExpatParser

from .errors import PackageError

__all__ = ["XmlFile"]

OpenMember = Callable[[], IO[bytes]]
_CHUNK = 1 << 20


class XmlFile:
    """One XML entity file: its columns and a stream of string-typed Arrow record batches.

    The columns are ``fields`` (the manifest's ``EntityMapList``) when given, else the fields of
    the first record. A record holding a field outside the columns raises :class:`PackageError`.
    """

    def __init__(self, open_member: OpenMember, *, fields: tuple[str, ...], where: str) -> None:
        self._open = open_member
        self._where = where
        self.header: list[str] = list(fields) if fields else self._first_record_fields()

    def batches(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """String record batches of at most ``batch_rows`` records, in file order."""
        if not self.header:
            return
        position = {name.upper(): i for i, name in enumerate(self.header)}
        width = len(self.header)
        columns: list[list[str]] = [[] for _ in range(width)]
        count = 0
        for number, record in enumerate(self._records(), start=1):
            filled = [""] * width
            for name, value in record:
                index = position.get(name.upper())
                if index is None:
                    raise PackageError(
                        f"{self._where}: record {number} has field {name!r}, which the manifest's "
                        f"field list does not name (fields: {', '.join(self.header)})"
                    )
                filled[index] = value
            for index in range(width):
                columns[index].append(filled[index])
            count += 1
            if count >= batch_rows:
                yield _batch(self.header, columns)
                columns, count = [[] for _ in range(width)], 0
        if count:
            yield _batch(self.header, columns)

    def _first_record_fields(self) -> list[str]:
        for record in self._records():
            return [name for name, _ in record]
        return []

    def _records(self) -> Iterator[list[tuple[str, str]]]:
        """Each record's ``(field, text)`` pairs, in file order; parsed a chunk at a time."""
        handler = _RecordHandler()
        parser = DefusedExpatParser(forbid_dtd=True)
        parser.setContentHandler(handler)
        stream = self._open()
        try:
            while chunk := stream.read(_CHUNK):
                parser.feed(chunk)
                yield from handler.take()
            parser.close()
            yield from handler.take()
        except (SAXException, DefusedXmlException) as exc:
            raise PackageError(f"{self._where}: the file is not well-formed or safe XML: {exc}") from None
        finally:
            stream.close()


class _RecordHandler(ContentHandler):
    """Collects records (depth-2 elements): their attributes and their child elements' text."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._record: list[tuple[str, str]] = []
        self._field = ""
        self._text: list[str] = []
        self._done: list[list[tuple[str, str]]] = []

    def take(self) -> list[list[tuple[str, str]]]:
        done, self._done = self._done, []
        return done

    def startElement(self, name: str, attrs: AttributesImpl) -> None:
        self._depth += 1
        if self._depth == 2:
            self._record = [(_local(key), value) for key, value in attrs.items()]
        elif self._depth == 3:
            self._field, self._text = name, []

    def characters(self, content: str) -> None:
        if self._depth == 3:
            self._text.append(content)

    def endElement(self, name: str) -> None:
        if self._depth == 3:
            self._record.append((_local(self._field), "".join(self._text)))
        elif self._depth == 2:
            self._done.append(self._record)
        self._depth -= 1


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def _batch(header: list[str], columns: list[list[str]]) -> pa.RecordBatch:
    arrays = [pa.array(values, type=pa.string()) for values in columns]
    return pa.RecordBatch.from_arrays(arrays, names=header)
