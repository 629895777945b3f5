"""Safe zip opening: traversal, links, bombs, not-a-zip."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from d365_assets.package import DataPackage, PackageError, ZipLimits
from d365_assets.package.archive import open_archive

from .builders import EntityFile, make_package, unicode_csv


def _zip(path: Path, name: str, data: bytes = b"x", *, mode: int | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.create_system = 3
            info.external_attr = mode << 16
        archive.writestr(info, data)
    return path


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.txt", "path traversal"),
        ("a/../../evil.txt", "path traversal"),
        ("..\\evil.txt", "path traversal"),
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/evil.dll", "drive letter"),
        ("c:evil", "drive letter"),
    ],
)
def test_unsafe_names_are_refused(tmp_path: Path, name: str, reason: str) -> None:
    with pytest.raises(PackageError, match=reason):
        open_archive(_zip(tmp_path / "p.zip", name))


def test_symlinks_are_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "p.zip", "link", b"/etc/passwd", mode=stat.S_IFLNK | 0o777)
    with pytest.raises(PackageError, match="symbolic link"):
        open_archive(path)


def test_zip_bomb_ratio_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Big.csv", b"\0" * (20 * 1024 * 1024))
    with pytest.raises(PackageError, match="zip bomb"):
        open_archive(path)
    open_archive(path, limits=ZipLimits(max_ratio=10_000)).close()


def test_total_size_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a", b"x" * 1000)
        archive.writestr("b", b"x" * 1000)
    with pytest.raises(PackageError, match="uncompressed size"):
        open_archive(path, limits=ZipLimits(max_total_uncompressed=1500))


def test_entry_count_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(5):
            archive.writestr(f"f{i}", b"x")
    with pytest.raises(PackageError, match="entries"):
        open_archive(path, limits=ZipLimits(max_entries=4))


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    path.write_text("<html>not a package</html>")
    with pytest.raises(PackageError, match="is not a zip file"):
        DataPackage.open(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="does not exist"):
        DataPackage.open(tmp_path / "nope.zip")


def test_zip_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"no Manifest\.xml"):
        DataPackage.open(_zip(tmp_path / "p.zip", "Customers.csv"))


def test_safe_package_opens(tmp_path: Path) -> None:
    path = make_package(tmp_path / "p.zip", [EntityFile("E", unicode_csv([["A"], ["1"]]))])
    with DataPackage.open(path) as package:
        assert package.labels == ["E"]
