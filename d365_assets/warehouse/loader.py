"""The warehouse: load typed entity frames into DuckDB, full replace or delta upsert, one transaction each.

Every load runs in a single DuckDB transaction: a failed or interrupted load leaves the table
exactly as it was. A load ledger (``d365._load_ledger``) records each applied execution; an
execution id that is already in the ledger is not applied again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from d365_assets.schema import RefreshMode
from d365_assets.warehouse.connection import Database
from d365_assets.warehouse.errors import LoadError, WarehouseError
from d365_assets.warehouse.ledger import Ledger
from d365_assets.warehouse.memory import DEFAULT_LOAD_MEMORY, LoadMemory, LoadPhase, set_load_memory
from d365_assets.warehouse.request import LoadRequest, LoadResult, RowCounts, check_request
from d365_assets.warehouse.sql import first_line, quietly
from d365_assets.warehouse.table import EntityTable

__all__ = ["Warehouse"]


class Warehouse:
    """A DuckDB database that entity tables are loaded into.

    Args:
        database: a file path or a DuckDB connection string (``md:analytics`` for MotherDuck).
        schema: the database schema the entity tables live in.
        lock_timeout: seconds a load waits for another writer (or a reader holding the file) before
            it fails with :class:`WarehouseLockedError`.
        load_memory: DuckDB's memory limits per thread while a load into a database file runs (it
            spills to disk beyond them), so a load's memory does not grow with the package; None:
            DuckDB's own limit. See :mod:`d365_assets.warehouse.memory`.
    """

    def __init__(
        self,
        database: str | Path,
        *,
        schema: str = "d365",
        lock_timeout: float = 300.0,
        load_memory: LoadMemory | None = DEFAULT_LOAD_MEMORY,
    ) -> None:
        self._database = Database(str(database), lock_timeout=lock_timeout)
        self._ledger = Ledger(schema)
        self.load_memory = load_memory

    @property
    def database(self) -> str:
        """The file path or connection string the warehouse was given."""
        return self._database.database

    @property
    def schema(self) -> str:
        return self._ledger.schema

    @property
    def identity(self) -> str:
        """The database this warehouse loads (a file path or connection string)."""
        return self.database

    def table_name(self, table: str) -> str:
        """``<database>.<schema>.<table>``: the file's stem (``warehouse``) or the ``md:`` database name."""
        database = self.database
        catalog = database.removeprefix("md:") if database.startswith("md:") else Path(database).stem
        return f"{catalog}.{self.schema}.{table}"

    def table_uri(self, table: str) -> str | None:
        """None: DuckDB's tables are read through DuckDB (``table_name``)."""
        return None

    @property
    def lock_timeout(self) -> float:
        return self._database.lock_timeout

    def connect(
        self, *, read_only: bool = False, timeout: float | None = None
    ) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """Open the database, waiting up to ``timeout`` (``lock_timeout``) while another process holds it."""
        return self._database.connect(read_only=read_only, timeout=timeout)

    def has_applied(self, execution_id: str, *, table: str) -> bool:
        """Whether the load ledger records ``execution_id`` as applied (committed) already.

        The one ledger covers every table of the database and an execution id loads one table, so
        ``table`` (the contract's argument, which a Delta lake needs) does not narrow the lookup.
        """
        with self._database.writer() as con:
            self._ledger.create(con)
            return self._ledger.has(con, execution_id)

    def load(self, request: LoadRequest) -> LoadResult:
        """Apply one exported package's rows to its table in one transaction.

        Before it commits, a load proves its keys are whole and that a full load removes no more than
        ``request.guard`` allows; otherwise it raises a :class:`LoadError` and the table stays as it was.
        """
        check_request(request)
        qualified = f"{self.schema}.{request.table}"
        try:
            with self._database.writer() as con:
                return self._apply(
                    EntityTable(con, request, schema=self.schema, before_checks=self._memory_for(con))
                )
        except duckdb.Error as exc:  # the first error is the one reported, never a clean-up's
            raise self._duckdb_failure(exc, qualified) from exc

    def _apply(self, table: EntityTable) -> LoadResult:
        """Apply the table's request in one transaction (or nothing, when the ledger has its execution)."""
        started = _now()
        clock = time.perf_counter()
        con, request = table.con, table.request
        self._ledger.create(con)
        if self._ledger.has(con, request.execution_id):
            return self._result(table, applied=False)
        with self._tuned(con, request.mode), _transaction(con, clean_up=table.drop_scratch):
            added = table.ensure()
            counts = table.replace() if request.mode is RefreshMode.FULL else table.upsert()
            self._ledger.record(
                con, request, table=table.qualified, counts=counts, started=started, finished=_now()
            )
        return self._result(
            table, applied=True, counts=counts, added=added, seconds=time.perf_counter() - clock
        )

    def _memory_for(self, con: duckdb.DuckDBPyConnection) -> Callable[[], None]:
        """What a full load runs before its checks: DuckDB's limit for them (when bounded)."""
        memory = self.load_memory
        if memory is None or not self._database.is_local:
            return lambda: None
        return lambda: set_load_memory(con, memory, LoadPhase.CHECK)

    @contextmanager
    def _tuned(self, con: duckdb.DuckDBPyConnection, mode: RefreshMode) -> Iterator[None]:
        """Settings for a bulk load: rows in any order (parallel inserts), bounded memory; reset after."""
        memory = self.load_memory if self._database.is_local else None
        con.execute("SET preserve_insertion_order = false")
        if memory is not None:
            set_load_memory(con, memory, LoadPhase.STREAM if mode is RefreshMode.FULL else LoadPhase.DELTA)
        try:
            yield
        finally:
            quietly(con, "RESET preserve_insertion_order")
            if memory is not None:
                quietly(con, "RESET memory_limit")

    def _duckdb_failure(self, exc: duckdb.Error, qualified: str) -> WarehouseError:
        """A DuckDB error inside a load's transaction, as the loader's error naming the table."""
        if isinstance(exc, duckdb.IOException):
            return self._database.file_error(f"reading or writing {qualified} failed ({first_line(exc)})")
        return LoadError(
            f"DuckDB refused the load into {qualified} of {self.database}: {first_line(exc)}. "
            f"Nothing was changed; fix the cause (a constraint or column someone added to the table, "
            f"say; a corrupt file: move it aside and reload) and run the load again."
        )

    def _result(
        self,
        table: EntityTable,
        *,
        applied: bool,
        counts: RowCounts | None = None,
        added: tuple[str, ...] = (),
        seconds: float = 0.0,
    ) -> LoadResult:
        """The result of a load; an applied one has no repeated keys (its guard proved it)."""
        request = table.request
        facts = table.facts(count_duplicates=not applied)
        counts = counts or RowCounts(read=0, inserted=0, updated=0, deleted=0)
        return LoadResult(
            table=table.qualified,
            company=request.company,
            mode=request.mode,
            execution_id=request.execution_id,
            applied=applied,
            rows_read=counts.read,
            rows_inserted=counts.inserted,
            rows_updated=counts.updated,
            rows_deleted=counts.deleted,
            company_rows=facts.company_rows,
            table_rows=facts.table_rows,
            duplicate_keys=facts.duplicate_keys,
            previous_full_rows=self._ledger.previous_full_rows(
                table.con, table=table.qualified, company=request.company, execution_id=request.execution_id
            ),
            added_columns=added,
            columns=facts.columns,
            seconds=seconds,
        )


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection, *, clean_up: Callable[[], None]) -> Iterator[None]:
    """BEGIN, then COMMIT or (on any error) ROLLBACK; ``clean_up`` runs either way.

    Neither the rollback nor the clean-up can replace the error being raised: the first one stands.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        quietly(con, "ROLLBACK")
        raise
    finally:
        clean_up()


def _now() -> datetime:
    """The current UTC time without a zone (the ledger's TIMESTAMP columns)."""
    return datetime.now(UTC).replace(tzinfo=None)
