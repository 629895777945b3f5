"""Data-package reader: safe zip opening, ``Manifest.xml``/``PackageHeader.xml``, typed entity frames.

::

    from d365_assets.package import DataPackage
    from d365_assets.schema import EntitySchema

    with DataPackage.open("export.zip") as package:
        frame = package.read_entity("Customers V3", schema=schema)
        # one pass: header, drift (new columns kept as text, missing ones NULL), schema and batches
        file = package.open_entity("Customers V3", schema=schema)
        file.drift, file.schema
        for frame in file.batches(): ...
"""

from .archive import ZipLimits
from .convert import DECIMAL_DTYPE, polars_dtype
from .drift import ColumnDrift
from .errors import PackageError, PackageIntegrityError, PackageValueError
from .formats import DEFAULT_FORMATS, FileFormat
from .manifest import Manifest, ManifestEntity, PackageHeader
from .reader import DEFAULT_BATCH_ROWS, DataPackage, EntityFile
from .wholeness import EmptyEntityFileError, EntityFileError, check_entity_file

__all__ = [
    "DECIMAL_DTYPE",
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_FORMATS",
    "ColumnDrift",
    "DataPackage",
    "EmptyEntityFileError",
    "EntityFile",
    "EntityFileError",
    "FileFormat",
    "Manifest",
    "ManifestEntity",
    "PackageError",
    "PackageHeader",
    "PackageIntegrityError",
    "PackageValueError",
    "ZipLimits",
    "check_entity_file",
    "polars_dtype",
]
