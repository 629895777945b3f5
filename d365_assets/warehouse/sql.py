"""Small pieces of DuckDB SQL the loader's modules share: quoting, scalars, scopes, quiet clean-ups."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress

import duckdb

from d365_assets.schema import COMPANY_COLUMN

__all__ = ["company_scope", "first_line", "key_list", "key_match", "quietly", "quote", "scalar"]


def quote(identifier: str) -> str:
    """``identifier`` as a quoted DuckDB identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def key_list(natural_key: Sequence[str]) -> str:
    """The natural-key columns, quoted and comma-separated (for SELECT and GROUP BY)."""
    return ", ".join(quote(k) for k in natural_key)


def key_match(natural_key: Sequence[str]) -> str:
    """Rows ``t`` and ``s`` have the same natural key (NULLs compare equal)."""
    return " AND ".join(f"t.{quote(k)} IS NOT DISTINCT FROM s.{quote(k)}" for k in natural_key)


def company_scope(company: str | None) -> tuple[str, list[object]]:
    """A WHERE condition on table alias ``t`` for one company's rows (every row when shared)."""
    if company is None:
        return "TRUE", []
    return f"t.{COMPANY_COLUMN} = ?", [company]


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> int:
    """The integer a one-value query returns (0 when it returns no row)."""
    row = con.execute(sql, list(params)).fetchone()
    return int(row[0]) if row else 0


def quietly(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Run a clean-up statement; its failure never hides the error being handled (DuckDB undoes the rest)."""
    with suppress(duckdb.Error):
        con.execute(sql)


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (DuckDB's carry hints below it), or its type's name."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
