"""Opening a package zip safely: no path traversal, no links, bounded size and compression ratio."""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import PackageError

__all__ = ["ZipLimits", "open_archive"]

_DRIVE = re.compile(r"^[A-Za-z]:")


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
    """Open ``path`` as a zip after checking every entry; raises :class:`PackageError` if unsafe.

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
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(
            f"{str(path)!r} is not a zip file ({exc}); a DMF data package is a zip holding "
            "Manifest.xml, PackageHeader.xml and one file per entity: download it again"
        ) from None
    try:
        _check(archive, path, limits)
    except PackageError:
        archive.close()
        raise
    return archive


def _check(archive: zipfile.ZipFile, path: Path, limits: ZipLimits) -> None:
    infos = archive.infolist()
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
