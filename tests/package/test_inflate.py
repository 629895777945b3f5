"""The ISA-L entry reader gives zipfile's bytes exactly, and refuses what zipfile refuses."""

from __future__ import annotations

import os
import random
import struct
import zipfile
from pathlib import Path

import pytest

from d365_assets.package import PackageIntegrityError
from d365_assets.package.archive import open_archive, open_entry
from d365_assets.package.inflate import can_inflate

NAME = "General journal account entry.csv"


def _text(rows: int, *, seed: int = 3) -> bytes:
    """Varied CSV-like text, so the deflate stream has long matches and literal runs alike."""
    rng = random.Random(seed)
    lines = [
        f"{i},{rng.getrandbits(48):x},{'ab' * rng.randrange(40)},{rng.random():.6f}" for i in range(rows)
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def _zip(path: Path, entries: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _directory_record(data: bytes, name: str) -> int:
    """The offset of ``name``'s central directory record."""
    record = data.index(b"PK\x01\x02")
    while True:
        name_length, extra_length, comment_length = struct.unpack("<HHH", data[record + 28 : record + 34])
        if data[record + 46 : record + 46 + name_length] == name.encode():
            return record
        record += 46 + name_length + extra_length + comment_length


def _declare_size(path: Path, name: str, size: int) -> None:
    """Make the directory declare ``size`` uncompressed bytes for ``name`` (its data unchanged)."""
    data = path.read_bytes()
    record = _directory_record(data, name)
    path.write_bytes(data[: record + 24] + struct.pack("<I", size) + data[record + 28 :])


def _read_all(path: Path, name: str = NAME) -> bytes:
    with open_archive(path) as archive, open_entry(archive, archive.getinfo(name)) as stream:
        return stream.read()


def test_reads_of_any_size_give_zipfiles_bytes(tmp_path: Path) -> None:
    data = _text(60_000)
    path = _zip(tmp_path / "p.zip", {NAME: data, "Manifest.xml": b"<Manifest/>"})
    with open_archive(path) as archive:
        info = archive.getinfo(NAME)
        assert can_inflate(archive, info)
        with open_entry(archive, info) as stream:
            pieces, sizes = [], [1, 7, 4096, 1 << 20, 3, 4 << 20]
            while piece := stream.read(sizes[len(pieces) % len(sizes)]):
                pieces.append(piece)
    assert b"".join(pieces) == data
    assert all(len(p) == sizes[i % len(sizes)] for i, p in enumerate(pieces[:-1]))  # full reads until the end
    assert _read_all(path) == data
    assert _read_all(path, "Manifest.xml") == b"<Manifest/>"


def test_an_empty_entry_reads_as_no_bytes(tmp_path: Path) -> None:
    assert _read_all(_zip(tmp_path / "p.zip", {NAME: b""})) == b""


def test_a_stored_entry_is_read_by_zipfile(tmp_path: Path) -> None:
    data = _text(1_000)
    path = _zip(tmp_path / "p.zip", {NAME: data}, method=zipfile.ZIP_STORED)
    with open_archive(path) as archive:
        assert not can_inflate(archive, archive.getinfo(NAME))
    assert _read_all(path) == data


@pytest.mark.parametrize("change", [-1, +1], ids=["declares fewer bytes", "declares more bytes"])
def test_a_size_the_directory_misstates_is_refused(tmp_path: Path, change: int) -> None:
    data = _text(5_000)
    path = _zip(tmp_path / "p.zip", {NAME: data})
    _declare_size(path, NAME, len(data) + change)
    with pytest.raises(
        PackageIntegrityError, match=r"entry 'General journal account entry.csv'.*damaged"
    ) as error:
        _read_all(path)
    assert "export the package again" in str(error.value)


def test_a_local_header_naming_another_file_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "p.zip", {NAME: _text(100)})
    data = bytearray(path.read_bytes())
    local_name = data.index(NAME.encode())  # the local header's copy comes first
    data[local_name] = ord("X")
    path.write_bytes(bytes(data))
    with pytest.raises(PackageIntegrityError, match="differ"):
        _read_all(path)


def test_a_package_replaced_on_disk_after_opening_is_not_mixed_in(tmp_path: Path) -> None:
    first, second = _text(20_000, seed=1), _text(20_000, seed=2)
    path = _zip(tmp_path / "p.zip", {NAME: first})
    other = _zip(tmp_path / "other.zip", {NAME: second})
    with open_archive(path) as archive:
        os.replace(other, path)  # a new download lands on the same path while the old one is read
        with open_entry(archive, archive.getinfo(NAME)) as stream:
            assert stream.read() == first
    assert _read_all(path) == second
