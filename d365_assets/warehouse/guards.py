"""What a load proves inside its transaction before it commits: keys whole, and no mass removal.

Run against the rows a load is about to commit (a full load's new rows, a delta's staged rows),
each check raises a :class:`LoadError` subclass, the transaction rolls back, and the table stays as
it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from d365_assets.warehouse.errors import KeyViolationError, RemovalHeldError
from d365_assets.warehouse.sql import key_list, quote, scalar

__all__ = ["DEFAULT_MAX_REMOVED_SHARE", "LoadGuard", "check_keys", "check_removal"]

DEFAULT_MAX_REMOVED_SHARE = 0.5
_EXAMPLES = 3


@dataclass(frozen=True)
class LoadGuard:
    """How much a full load may remove, and whether this one load is accepted beyond that."""

    max_removed_share: float = DEFAULT_MAX_REMOVED_SHARE
    """A full load that would remove more than this share of the company's rows is held back (1.0: never)."""
    accept_removal: bool = False
    """Apply this load even above ``max_removed_share`` (an empty entity, or rows F&O really deleted)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_removed_share <= 1.0:
            raise ValueError(f"max_removed_share must be between 0 and 1, not {self.max_removed_share}")


def check_keys(
    con: duckdb.DuckDBPyConnection,
    *,
    rows: str,
    natural_key: Sequence[str],
    what: str,
    params: Sequence[object] = (),
) -> None:
    """Refuse NULL or repeated natural keys among ``rows``: a relation and its WHERE clause, such as
    ``d365.customers_v3 t WHERE t.DATAAREAID = ?`` (``params`` fill its placeholders)."""
    keys = key_list(natural_key)
    any_null = " OR ".join(f"{quote(k)} IS NULL" for k in natural_key)
    nulls = scalar(con, f"SELECT count(*) FROM {rows} AND ({any_null})", params)
    if nulls:
        raise KeyViolationError(
            f"{what}: {nulls} row(s) have no value in natural-key column(s) {', '.join(natural_key)}; "
            f"F&O sent rows that cannot be matched. Check the data project's key fields in F&O and "
            f"natural_key in the catalog, then export again. Nothing was changed."
        )
    repeated = con.execute(
        f"SELECT {keys}, count(*) AS n FROM {rows} GROUP BY ALL HAVING count(*) > 1 "
        f"ORDER BY n DESC LIMIT {_EXAMPLES}",
        list(params),
    ).fetchall()
    if repeated:
        total = scalar(
            con, f"SELECT count(*) FROM (SELECT 1 FROM {rows} GROUP BY {keys} HAVING count(*) > 1)", params
        )
        examples = "; ".join(", ".join(map(repr, row[:-1])) + f" ({row[-1]} times)" for row in repeated)
        raise KeyViolationError(
            f"{what}: {total} natural key(s) ({', '.join(natural_key)}) occur more than once, e.g. "
            f"{examples}; natural_key in the catalog does not identify a row: fix it (add the missing "
            f"key columns). Nothing was changed."
        )


def check_removal(*, guard: LoadGuard, before: int, kept: int, what: str) -> None:
    """Hold back a full load that would remove more than the guard allows of ``before`` rows."""
    removed = before - kept
    if before == 0 or removed <= guard.max_removed_share * before or guard.accept_removal:
        return
    raise RemovalHeldError(
        f"{what}: the full load would remove {removed} of the {before} rows now in the table "
        f"({removed / before:.0%}, above the {guard.max_removed_share:.0%} allowed), so it is held back. "
        f"Nothing was changed. If F&O really lost those rows (or the entity is "
        f"empty on purpose), accept this one load; if not, find out why F&O exported so few rows.",
        removed=removed,
        before=before,
    )
