"""What a load proves inside its transaction before it commits: keys whole, and no mass removal.

The guard, the removal rule and the refusals' wording are the load contract's (:mod:`d365_assets.loading`).
Run against the rows a load is about to commit (a full load's new rows, a delta's staged rows),
each check raises a :class:`LoadError` subclass, the transaction rolls back, and the table stays as
it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from d365_assets.loading.guard import (
    DEFAULT_MAX_REMOVED_SHARE,
    LoadGuard,
    check_removal,
    null_key_error,
    repeated_key_error,
)
from d365_assets.warehouse.sql import key_list, quote, scalar

__all__ = ["DEFAULT_MAX_REMOVED_SHARE", "LoadGuard", "check_keys", "check_removal"]

_EXAMPLES = 3


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
        raise null_key_error(what=what, nulls=nulls, natural_key=natural_key)
    repeated = con.execute(
        f"SELECT {keys}, count(*) AS n FROM {rows} GROUP BY ALL HAVING count(*) > 1 "
        f"ORDER BY n DESC LIMIT {_EXAMPLES}",
        list(params),
    ).fetchall()
    if repeated:
        total = scalar(
            con, f"SELECT count(*) FROM (SELECT 1 FROM {rows} GROUP BY {keys} HAVING count(*) > 1)", params
        )
        raise repeated_key_error(what=what, total=total, examples=repeated, natural_key=natural_key)
