"""Data-package reader: safe zip opening, ``Manifest.xml``/``PackageHeader.xml``, typed entity frames.

::

    from d365_assets.package import DataPackage
    from d365_assets.schema import EntitySchema

    with DataPackage.open("export.zip") as package:
        frame = package.read_entity("Customers V3", schema=schema)
        # schema drift: keep new file columns as text, missing schema columns as NULL
        drift = package.column_drift("Customers V3", schema)
        effective = package.effective_schema("Customers V3", schema)
        frames = package.iter_entity_batches("Customers V3", schema=schema, extra_columns="keep")
"""

from .archive import ZipLimits, open_archive
from .convert import DECIMAL_DTYPE, polars_dtype
from .drift import ColumnDrift, ExtraColumns
from .errors import PackageError, PackageIntegrityError, PackageValueError
from .formats import DEFAULT_FORMATS, FileFormat
from .manifest import Manifest, ManifestEntity, PackageHeader, parse_manifest, parse_package_header
from .reader import DEFAULT_BATCH_ROWS, DataPackage, EntityFile
from .wholeness import EntityFileError, check_entity_file

__all__ = [
    "DECIMAL_DTYPE",
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_FORMATS",
    "ColumnDrift",
    "DataPackage",
    "EntityFile",
    "EntityFileError",
    "ExtraColumns",
    "FileFormat",
    "Manifest",
    "ManifestEntity",
    "PackageError",
    "PackageHeader",
    "PackageIntegrityError",
    "PackageValueError",
    "ZipLimits",
    "check_entity_file",
    "open_archive",
    "parse_manifest",
    "parse_package_header",
    "polars_dtype",
]
