"""Opening a package zip safely: no path traversal, no links, bounded size and compression ratio.

Damaged bytes (a download cut short, a flipped bit) raise :class:`PackageIntegrityError`, whether
:func:`open_archive` meets them in the zip's directory or :func:`open_entry`'s stream meets them
while inflating an entry (bad deflate data, bad CRC, data cut short), never a raw :mod:`zipfile`,
:mod:`zlib` or ``EOFError`` exception.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import PackageError, PackageIntegrityError
from .inflate import DAMAGED_DATA, can_inflate, open_deflated

__all__ = ["ZipLimits", "open_archive", "open_entry"]

_DRIVE = re.compile(r"^[A-Za-z]:")
_ZIP_MAGIC = b"PK"
# What zipfile raises for damaged bytes: in the directory (a bad record, a version a flipped bit
# made unknown, an undecodable name), and in an entry (a bad header or CRC, bad deflate data, data
# cut short, an unknown compression method).
_DAMAGED_DIRECTORY = (zipfile.BadZipFile, NotImplementedError, EOFError, ValueError)
_DAMAGED = (zipfile.BadZipFile, zlib.error, DAMAGED_DATA, EOFError, NotImplementedError)
_AGAIN = "the download is corrupt or truncated: download or export the package again"


@dataclass(frozen=True)
class ZipLimits:
    """Bounds that refuse zip bombs. A real DMF package compresses CSV text 5-20x."""

    max_entries: int = 10_000
    max_total_uncompressed: int = 32 * 1024**3
    """Bytes, all entries together (32 GiB)."""
    max_ratio: float = 200.0
    """Uncompressed/compressed size of one entry, checked for entries above ``ratio_min_size``."""
    ratio_min_size: int = 1024**2


def open_archive(path: str | Path, *, limits: ZipLimits | None = None) -> zipfile.ZipFile:
    """Open ``path`` as a zip after checking every entry; raises :class:`PackageError` if unsafe,
    :class:`PackageIntegrityError` if it is not a whole zip (truncated, damaged, not a zip at all).

    Refused: names with ``..`` segments, absolute names, drive letters, symbolic links; more entries,
    more total bytes, or a higher per-entry compression ratio than ``limits`` allow. Reading is
    bounded by the declared sizes checked here: :mod:`zipfile` never inflates past them.
    """
    limits = limits or ZipLimits()
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise PackageError(f"package {str(path)!r} does not exist") from None
    except _DAMAGED_DIRECTORY as exc:
        raise _unreadable(path, exc) from None
    except OSError as exc:
        raise PackageError(f"cannot read package {str(path)!r}: {exc}") from None
    try:
        _check(archive, path, limits)
    except PackageError:
        archive.close()
        raise
    return archive


def open_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    """Entry ``info`` of ``archive`` as a stream inflated as it is read (by ISA-L when deflated).

    Damaged bytes raise :class:`PackageIntegrityError` naming the package and the entry, from
    here or from any read of the stream (the CRC is checked when the last byte is read).
    """
    where = f"{Path(archive.filename or 'package').name}: entry {info.filename!r}"
    try:
        if can_inflate(archive, info):
            return _CheckedEntry(open_deflated(archive, info), where=where)
        return _CheckedEntry(archive.open(info), where=where)
    except _DAMAGED as exc:
        raise _damaged(where, exc) from None


class _CheckedEntry(io.BufferedIOBase):
    """A zip entry's stream whose damaged-data errors become :class:`PackageIntegrityError`."""

    def __init__(self, member: IO[bytes], *, where: str) -> None:
        super().__init__()
        self._member = member
        self._where = where

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            return self._member.read(-1 if size is None else size)
        except _DAMAGED as exc:
            raise _damaged(self._where, exc) from None

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def close(self) -> None:
        self._member.close()
        super().close()


def _damaged(where: str, exc: BaseException) -> PackageIntegrityError:
    detail = str(exc) or type(exc).__name__
    return PackageIntegrityError(f"{where} is damaged ({detail}); {_AGAIN}")


def _unreadable(path: Path, exc: BaseException) -> PackageIntegrityError:
    """The error for a file :class:`zipfile.ZipFile` cannot open: not a zip, or a damaged one."""
    with path.open("rb") as file:
        magic = file.read(len(_ZIP_MAGIC))
    if magic != _ZIP_MAGIC:
        return PackageIntegrityError(
            f"{str(path)!r} is not a zip file (it starts with {magic!r}); a DMF data package is a zip "
            f"holding Manifest.xml, PackageHeader.xml and one file per entity: {_AGAIN}"
        )
    detail = str(exc) or type(exc).__name__
    return PackageIntegrityError(f"{str(path)!r} is a truncated or damaged zip ({detail}); {_AGAIN}")


def _check(archive: zipfile.ZipFile, path: Path, limits: ZipLimits) -> None:
    infos = archive.infolist()
    size = path.stat().st_size
    if len(infos) > limits.max_entries:
        raise PackageError(f"{path.name}: {len(infos)} entries exceed the limit of {limits.max_entries}")
    total = 0
    for info in infos:
        name = info.filename
        unsafe = _unsafe_name(name)
        if unsafe:
            raise PackageError(f"{path.name}: refusing entry {name!r}: {unsafe}")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise PackageError(f"{path.name}: refusing entry {name!r}: it is a symbolic link")
        if not 0 <= info.header_offset <= info.header_offset + info.compress_size <= size:
            raise PackageIntegrityError(
                f"{path.name}: entry {name!r} lies outside the zip's data (a damaged directory); {_AGAIN}"
            )
        if info.flag_bits & 0x1:
            raise PackageError(f"{path.name}: entry {name!r} is encrypted; DMF packages never are")
        total += info.file_size
        if total > limits.max_total_uncompressed:
            raise PackageError(
                f"{path.name}: uncompressed size exceeds {limits.max_total_uncompressed} bytes "
                "(a zip bomb, or raise ZipLimits.max_total_uncompressed)"
            )
        if info.file_size > limits.ratio_min_size:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise PackageError(
                    f"{path.name}: entry {name!r} expands {ratio:.0f}x (limit {limits.max_ratio:.0f}x); "
                    "refusing a likely zip bomb (or raise ZipLimits.max_ratio)"
                )


def _unsafe_name(name: str) -> str:
    normalized = name.replace("\\", "/")
    if normalized.startswith("/"):
        return "absolute path"
    if _DRIVE.match(normalized):
        return "drive letter"
    if any(part == ".." for part in normalized.split("/")):
        return "path traversal ('..')"
    if "\x00" in normalized:
        return "NUL in name"
    return ""
