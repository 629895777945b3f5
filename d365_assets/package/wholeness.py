"""Is this entity file the entity's own, whole enough to load? Checked before any row is read.

A file that lacks its natural-key columns, is another entity's file, or has no header row at all
would otherwise load as rows with NULL keys (or as no rows), and a full load would replace good
rows with them. :func:`check_entity_file` refuses such a file with :class:`EntityFileError`,
naming the file, what is wrong and the fix.

A file with no rows at all (zero bytes, no header row, or no file in the package, as F&O may send
for an export without rows) is refused with :class:`EmptyEntityFileError`: for a full load that is
held back rather than broken, since an entity can be empty on purpose; the caller may accept it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import PackageError
from .reader import EntityFile

__all__ = [
    "MIN_SHARED_COLUMNS",
    "EmptyEntityFileError",
    "EntityFileError",
    "check_entity_file",
]

MIN_SHARED_COLUMNS = 0.5
"""Share of the declared columns a file must carry to count as the entity's file."""


class EntityFileError(PackageError):
    """The entity file is not whole: no header row, no natural key, or another entity's columns."""


class EmptyEntityFileError(EntityFileError):
    """The entity file holds nothing: zero bytes or no header row, or the package has no file for it.

    As a full load it would empty the company, so it is held back; an entity empty on purpose is
    loaded (as no rows) once the load is accepted.
    """


def check_entity_file(file: EntityFile, *, natural_key: Sequence[str], declared: bool) -> None:
    """Raise :class:`EntityFileError` unless ``file`` has a header, its key columns and its entity's columns.

    ``declared``: the schema is the catalog's own column list (so a file sharing less than
    :data:`MIN_SHARED_COLUMNS` of it is another entity's file). A schema read from F&O's
    ``$metadata`` lists fields a data project need not map, so only the key is required then.
    """
    if not file.header:
        raise EmptyEntityFileError(_empty_file_text(file))
    missing_key = [key for key in natural_key if key in file.drift.missing]
    if missing_key:
        raise EntityFileError(
            f"{file.where}: the file lacks natural-key column(s) {', '.join(missing_key)} (file columns: "
            f"{_shown(file.header)}); without them no row can be matched. Map the key fields in the "
            f"data project in F&O, or fix natural_key in the catalog. Nothing was loaded."
        )
    if not declared:
        return
    declared_names = [name for name in file.schema.names if name not in file.drift.added]
    present = len(declared_names) - len(file.drift.missing)
    if present < MIN_SHARED_COLUMNS * len(declared_names):
        raise EntityFileError(
            f"{file.where}: the file carries only {present} of the {len(declared_names)} columns the "
            f"catalog declares (missing: {_shown(file.drift.missing)}; file columns: {_shown(file.header)}), "
            f"so it looks like another entity's file. Check that the data project exports this entity "
            f"with its fields mapped, or correct the entity's columns in the catalog. Nothing was loaded."
        )


def _empty_file_text(file: EntityFile) -> str:
    """Why an entity file without a header row is refused, and the ways out."""
    if file.in_package:
        what = (
            "the file has no header row (it is empty, or holds only a byte-order mark or a blank line), "
            "so it cannot be the whole entity"
        )
    else:
        what = (
            "the package has no file for the entity although its manifest names one (F&O may leave it "
            "out of an export without rows), so it cannot be the whole entity"
        )
    return (
        f"{file.where}: {what}; export it again. If F&O keeps sending it empty, check the data project's "
        f"field mapping and filter in F&O. Nothing was loaded. If the entity really is empty, accept this "
        f"one load: it then empties the company's rows."
    )


def _shown(names: Sequence[str], limit: int = 12) -> str:
    """At most ``limit`` names, then how many more."""
    listed = ", ".join(names[:limit])
    return listed + (f" and {len(names) - limit} more" if len(names) > limit else "")
