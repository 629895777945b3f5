"""Load typed entity frames into DuckDB: full replace or delta upsert, one transaction per load.

Every load runs in a single DuckDB transaction: a failed or interrupted load leaves the table
exactly as it was. A load ledger (``d365._load_ledger``) records each applied execution; an
execution id that is already in the ledger is not applied again.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl
import pyarrow as pa
from filelock import FileLock, Timeout
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from d365_assets.schema import COMPANY_COLUMN, LOADER_COLUMNS, EntitySchema, RefreshMode
from d365_assets.warehouse.errors import LoadError, WarehouseError, WarehouseFileError, WarehouseLockedError
from d365_assets.warehouse.guards import LoadGuard, check_keys, check_removal

__all__ = ["LoadRequest", "LoadResult", "Warehouse", "is_local_file"]


_LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS {schema}._load_ledger (
    execution_id VARCHAR PRIMARY KEY,
    entity VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    company VARCHAR,
    mode VARCHAR NOT NULL,
    rows_read BIGINT NOT NULL,
    rows_inserted BIGINT NOT NULL,
    rows_updated BIGINT NOT NULL,
    rows_deleted BIGINT NOT NULL,
    package_bytes BIGINT,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL
)
"""
T = TypeVar("T")
_CONNECTION_STRING = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
"""``md:db``, ``motherduck:db``, ``s3://...`` (a scheme of 2+ letters, so ``C:\\x`` stays a path)."""
_TABLE_PATTERN = re.compile(r"^[a-z_][a-z0-9_]*$")
_HOLDER_PATTERN = re.compile(r"Conflicting lock is held in (?P<holder>.+?)(?:\. See also|$)", re.DOTALL)


@dataclass(frozen=True)
class LoadResult:
    """What one load did to one table (for one company, or for a shared entity)."""

    table: str
    """Fully qualified table name, e.g. ``d365.customers_v3``."""
    company: str | None
    mode: RefreshMode
    execution_id: str
    applied: bool
    """False when the execution was already in the ledger and nothing was changed."""
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    company_rows: int = 0
    """Rows of this company in the table after the load (all rows for shared entities)."""
    table_rows: int = 0
    duplicate_keys: int = 0
    """Natural keys that occur more than once among this company's rows after the load."""
    previous_full_rows: int | None = None
    """Rows of the previous full load of this table and company (None when there was none)."""
    added_columns: tuple[str, ...] = ()
    columns: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """(name, DuckDB type) of every table column after the load."""
    seconds: float = 0.0


@dataclass(frozen=True)
class LoadRequest:
    """One exported package's rows, and how to apply them to one table."""

    entity: str
    """The entity's public collection name, for the ledger."""
    table: str
    """The table name (snake case) in the warehouse's schema."""
    schema: EntitySchema
    """The columns of ``batches``, in order."""
    batches: Iterable[pl.DataFrame]
    company: str | None
    """The legal entity of a company-specific entity; None for a shared one."""
    mode: RefreshMode
    """FULL replaces the company's rows (all rows when shared); DELTA upserts on (company, natural key)."""
    natural_key: tuple[str, ...]
    execution_id: str
    """F&O's execution id: the ledger applies each one once."""
    package_bytes: int | None = None
    guard: LoadGuard = field(default_factory=LoadGuard)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", RefreshMode(self.mode))  # "full" / "delta" are taken too
        object.__setattr__(self, "natural_key", tuple(self.natural_key))


@dataclass(frozen=True)
class _Load:
    """A :class:`LoadRequest` with its table's qualified name."""

    request: LoadRequest
    qualified: str


class Warehouse:
    """A DuckDB database that entity tables are loaded into.

    Args:
        database: a file path or a DuckDB connection string (``md:analytics`` for MotherDuck).
        schema: the database schema the entity tables live in.
        lock_timeout: seconds a load waits for another writer (or a reader holding the file) before
            it fails with :class:`WarehouseLockedError`.
        load_memory_limit: DuckDB's memory limit while a load into a database file runs (it spills
            to disk beyond it), so a load's memory does not grow with the package; None: DuckDB's.
    """

    def __init__(
        self,
        database: str | Path,
        *,
        schema: str = "d365",
        lock_timeout: float = 300.0,
        load_memory_limit: str | None = "500MB",
    ) -> None:
        self.database = str(database)
        self.schema = schema
        self.lock_timeout = lock_timeout
        self.load_memory_limit = load_memory_limit
        self._is_file = is_local_file(self.database)

    # -- connections -------------------------------------------------------------------------

    @contextmanager
    def connect(
        self, *, read_only: bool = False, timeout: float | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the database, waiting up to ``timeout`` (``lock_timeout``) while another process holds it."""
        timeout = self.lock_timeout if timeout is None else max(timeout, 0.0)
        if self._is_file and read_only and not Path(self.database).exists():
            raise WarehouseFileError(
                f"DuckDB database {self.database} does not exist yet: nothing has been loaded into it; "
                f"materialize the assets first (or check D365_DUCKDB_PATH)"
            )
        if self._is_file:
            try:
                Path(self.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._file_error(f"its folder cannot be created ({exc.strerror or exc})") from None
        retrying = Retrying(
            retry=retry_if_exception(_is_lock_conflict),
            stop=stop_after_delay(timeout),
            wait=wait_exponential(multiplier=0.05, max=2.0),
            reraise=True,
        )
        try:
            connection = retrying(duckdb.connect, self.database, read_only=read_only)
        except duckdb.Error as exc:
            if not _is_lock_conflict(exc):
                raise self._file_error(f"DuckDB cannot open it ({_first_line(exc)})") from None
            match = _HOLDER_PATTERN.search(str(exc))
            holder = match.group("holder").strip() if match else "another process"
            raise WarehouseLockedError(
                f"DuckDB file {self.database} is held open by {holder}; waited {self.lock_timeout:.0f} s. "
                f"Close that connection (a notebook, the duckdb CLI, a BI tool) or query a copy of the file, "
                f"then run the load again. Nothing was changed."
            ) from None
        try:
            yield connection
        finally:
            connection.close()

    def _file_error(self, problem: str) -> WarehouseFileError:
        """The error for a database file that cannot be used, naming it and the ways out."""
        return WarehouseFileError(
            f"DuckDB database {self.database}: {problem}. If the file is corrupt or truncated, move it "
            f"aside (keep it for inspection) and run every entity's refresh (or reconcile) job to "
            f"rebuild it, or restore a backup; if its folder is not writable or the disk is full, fix "
            f"that (or point D365_DUCKDB_PATH elsewhere). Nothing was changed."
        )

    @contextmanager
    def _writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write connection, serialised across processes by a lock file next to the database."""
        if not self._is_file:
            with self.connect() as con:
                yield con
            return
        lock = FileLock(f"{self.database}.lock")
        deadline = time.monotonic() + self.lock_timeout
        try:
            lock.acquire(timeout=self.lock_timeout)
        except Timeout:
            raise WarehouseLockedError(
                f"another load into {self.database} held the writer lock ({lock.lock_file}) for over "
                f"{self.lock_timeout:.0f} s; let it finish, or raise the lock timeout. Nothing was changed."
            ) from None
        try:
            with self.connect(timeout=deadline - time.monotonic()) as con:
                yield con
        finally:
            lock.release()

    # -- loading -----------------------------------------------------------------------------

    def load(self, request: LoadRequest) -> LoadResult:
        """Apply one exported package's rows to its table in one transaction.

        Before it commits, a load proves its keys are whole and that a full load removes no more than
        ``request.guard`` allows; otherwise it raises a :class:`LoadError` and the table stays as it was.
        """
        _refuse_loader_columns(
            request.schema, table=request.table, company_specific=request.company is not None
        )
        if not _TABLE_PATTERN.match(request.table):
            raise ValueError(
                f"table name {request.table!r} must be snake_case letters, digits and underscores"
            )
        job = _Load(request=request, qualified=f"{self.schema}.{request.table}")
        try:
            with self._writer() as con:
                return self._apply(con, job)
        except duckdb.Error as exc:  # the first error is the one reported, never a clean-up's
            raise self._duckdb_failure(exc, job.qualified) from exc

    def _apply(self, con: duckdb.DuckDBPyConnection, job: _Load) -> LoadResult:
        """Apply ``job`` in one transaction (or nothing, when the ledger already has its execution)."""
        started = datetime.now(UTC).replace(tzinfo=None)
        clock = time.perf_counter()
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        con.execute(_LEDGER_DDL.format(schema=self.schema))
        if con.execute(
            f"SELECT 1 FROM {self.schema}._load_ledger WHERE execution_id = ?", [job.request.execution_id]
        ).fetchone():
            return self._result(con, job, applied=False)
        self._tune(con)
        con.execute("BEGIN TRANSACTION")
        try:
            specific = job.request.company is not None
            added = self._ensure_table(con, job.qualified, job.request.schema, company_specific=specific)
            rows_read, counts = (
                self._replace(con, job) if job.request.mode is RefreshMode.FULL else self._upsert(con, job)
            )
            request = job.request
            con.execute(
                f"INSERT INTO {self.schema}._load_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    request.execution_id, request.entity, job.qualified, request.company,
                    request.mode.value, rows_read, counts["inserted"], counts["updated"], counts["deleted"],
                    request.package_bytes, started, datetime.now(UTC).replace(tzinfo=None),
                ],
            )  # fmt: skip
            con.execute("COMMIT")
        except BaseException:
            _quietly(con, "ROLLBACK")
            raise
        finally:
            _quietly(con, "DROP TABLE IF EXISTS temp._d365_stage")
            _quietly(con, "DROP TABLE IF EXISTS temp._d365_old_keys")
            self._untune(con)
        return self._result(
            con,
            job,
            applied=True,
            duplicates=0,  # proven by the key guard before the commit
            rows_read=rows_read,
            rows_inserted=counts["inserted"],
            rows_updated=counts["updated"],
            rows_deleted=counts["deleted"],
            added_columns=tuple(added),
            seconds=time.perf_counter() - clock,
        )

    def _tune(self, con: duckdb.DuckDBPyConnection) -> None:
        """Settings for a bulk load: rows in any order (parallel inserts), bounded memory."""
        con.execute("SET preserve_insertion_order = false")
        if self.load_memory_limit and self._is_file:
            con.execute("SET memory_limit = ?", [self.load_memory_limit])

    def _untune(self, con: duckdb.DuckDBPyConnection) -> None:
        _quietly(con, "RESET preserve_insertion_order")
        if self.load_memory_limit and self._is_file:
            _quietly(con, "RESET memory_limit")

    def _duckdb_failure(self, exc: duckdb.Error, qualified: str) -> WarehouseError:
        """A DuckDB error inside a load's transaction, as the loader's error naming the table."""
        if isinstance(exc, duckdb.IOException):
            return self._file_error(f"reading or writing {qualified} failed ({_first_line(exc)})")
        return LoadError(
            f"DuckDB refused the load into {qualified} of {self.database}: {_first_line(exc)}. "
            f"Nothing was changed; fix the cause (a constraint or column someone added to the table, "
            f"say; a corrupt file: move it aside and reload) and run the load again."
        )

    def _ensure_table(
        self, con: duckdb.DuckDBPyConnection, qualified: str, schema: EntitySchema, *, company_specific: bool
    ) -> list[str]:
        """Create the table, or add columns that F&O started sending; returns the added columns."""
        wanted = [(c.name, c.type.duckdb_type) for c in schema]
        if company_specific:
            wanted.insert(0, (COMPANY_COLUMN, "VARCHAR"))
        existing = self._existing_columns(con, qualified)
        if not existing:
            columns = ", ".join(f"{_quote(n)} {t}" for n, t in wanted)
            con.execute(f"CREATE TABLE {qualified} ({columns}, _execution_id VARCHAR, _loaded_at TIMESTAMP)")
            return []
        added = []
        for name, duck_type in wanted:
            current = existing.get(name.upper())
            if current is None:
                con.execute(f"ALTER TABLE {qualified} ADD COLUMN {_quote(name)} {duck_type}")
                added.append(name)
            elif current.replace(" ", "") != duck_type.replace(" ", ""):
                raise LoadError(
                    f"column {name} of {qualified} is {current} but the schema now says {duck_type} "
                    f"(F&O or the catalog changed its type); convert it with "
                    f'ALTER TABLE {qualified} ALTER COLUMN "{name}" TYPE {duck_type}, or drop the table to '
                    f"reload it in full, then run the load again. Nothing was changed."
                )
        return added

    def _existing_columns(self, con: duckdb.DuckDBPyConnection, qualified: str) -> dict[str, str]:
        """Upper-cased column name -> DuckDB type of the table's columns (empty when it does not exist)."""
        schema, table = qualified.split(".", 1)
        rows = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
        return {name.upper(): kind for name, kind in rows}

    def _replace(self, con: duckdb.DuckDBPyConnection, job: _Load) -> tuple[int, dict[str, int]]:
        """Full load: keep the old keys, delete the company's rows, insert batches straight in.

        Every row is written once (no staging copy); the old keys alone give the counts. The new
        rows' keys are checked, and the share of old rows that would go, before the caller commits.
        """
        scope, params = _company_scope(job.request.company)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _d365_old_keys AS SELECT {_key_list(job.request.natural_key)} "
            f"FROM {job.qualified} t WHERE {scope}",
            params,
        )
        before = _one(con, "SELECT count(*) FROM _d365_old_keys")
        con.execute(f"DELETE FROM {job.qualified} t WHERE {scope}", params)
        rows = self._insert(
            con,
            job.qualified,
            job.request.schema,
            job.request.batches,
            job.request.company,
            job.request.execution_id,
        )
        what = f"{job.qualified} ({job.request.company or 'shared'})"
        new_rows = f"{job.qualified} t WHERE {scope}"
        check_keys(con, rows=new_rows, params=params, natural_key=job.request.natural_key, what=what)
        key_match = _key_match(job.request.natural_key)
        matched = _one(
            con,
            f"SELECT count(*) FROM _d365_old_keys s WHERE EXISTS "
            f"(SELECT 1 FROM {job.qualified} t WHERE {scope} AND {key_match})",
            params,
        )
        check_removal(guard=job.request.guard, before=before, kept=matched, what=what)
        return rows, {"inserted": rows - matched, "updated": matched, "deleted": before - matched}

    def _insert(
        self,
        con: duckdb.DuckDBPyConnection,
        qualified: str,
        schema: EntitySchema,
        batches: Iterable[pl.DataFrame],
        company: str | None,
        execution_id: str,
        *,
        source: str | None = None,
    ) -> int:
        """Append every batch (or table ``source``) to ``qualified``, adding the company and execution."""
        names = [c.name for c in schema]
        target = ([COMPANY_COLUMN] if company is not None else []) + names + ["_execution_id", "_loaded_at"]
        columns = (["?"] if company is not None else []) + ["*", "?", "now()"]
        values = ([company] if company is not None else []) + [execution_id]
        sql = (
            f"INSERT INTO {qualified} ({', '.join(_quote(n) for n in target)}) "
            f"SELECT {', '.join(columns)} FROM {source or '_d365_batch'}"
        )
        if source is not None:
            con.execute(sql, values)
            return 0
        return _insert_stream(con, sql, values, _prefetch(batches), schema)

    def _stage(
        self, con: duckdb.DuckDBPyConnection, schema: EntitySchema, batches: Iterable[pl.DataFrame]
    ) -> int:
        columns = ", ".join(f"{_quote(c.name)} {c.type.duckdb_type}" for c in schema)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _d365_stage ({columns})")
        names = ", ".join(_quote(c.name) for c in schema)
        sql = f"INSERT INTO _d365_stage ({names}) SELECT * FROM _d365_batch"
        return _insert_stream(con, sql, [], batches, schema)

    def _upsert(self, con: duckdb.DuckDBPyConnection, job: _Load) -> tuple[int, dict[str, int]]:
        """Delta load: stage the (small) package, refuse NULL or repeated keys, replace matching rows."""
        rows = self._stage(con, job.request.schema, job.request.batches)
        what = f"the delta for {job.qualified} ({job.request.company or 'shared'})"
        check_keys(con, rows="_d365_stage WHERE TRUE", natural_key=job.request.natural_key, what=what)
        scope, params = _company_scope(job.request.company)
        key_match = _key_match(job.request.natural_key)
        matched = _one(
            con,
            f"SELECT count(*) FROM {job.qualified} t WHERE {scope} AND EXISTS "
            f"(SELECT 1 FROM _d365_stage s WHERE {key_match})",
            params,
        )
        con.execute(
            f"DELETE FROM {job.qualified} t WHERE {scope} "
            f"AND EXISTS (SELECT 1 FROM _d365_stage s WHERE {key_match})",
            params,
        )
        self._insert(
            con,
            job.qualified,
            job.request.schema,
            [],
            job.request.company,
            job.request.execution_id,
            source="_d365_stage",
        )
        return rows, {"inserted": rows - matched, "updated": matched, "deleted": 0}

    def _result(
        self,
        con: duckdb.DuckDBPyConnection,
        job: _Load,
        *,
        applied: bool,
        duplicates: int | None = None,
        **counts: object,
    ) -> LoadResult:
        qualified, company = job.qualified, job.request.company
        scope, params = _company_scope(company)
        exists = bool(self._existing_columns(con, qualified))
        company_rows = _one(con, f"SELECT count(*) FROM {qualified} t WHERE {scope}", params) if exists else 0
        table_rows = _one(con, f"SELECT count(*) FROM {qualified}") if exists else 0
        if duplicates is None:
            duplicates = (
                _one(
                    con,
                    f"SELECT count(*) FROM (SELECT 1 FROM {qualified} t WHERE {scope} "
                    f"GROUP BY {_key_list(job.request.natural_key)} HAVING count(*) > 1)",
                    params,
                )
                if exists
                else 0
            )
        columns = (
            tuple((name, kind) for name, kind, *_ in con.execute(f"DESCRIBE {qualified}").fetchall())
            if exists
            else ()
        )
        previous_full = con.execute(
            f"SELECT rows_read FROM {self.schema}._load_ledger WHERE table_name = ? "
            "AND company IS NOT DISTINCT FROM ? AND mode = 'full' AND execution_id <> ? "
            "ORDER BY finished_at DESC LIMIT 1",
            [qualified, company, job.request.execution_id],
        ).fetchone()
        return LoadResult(
            table=qualified,
            company=company,
            mode=job.request.mode,
            execution_id=job.request.execution_id,
            applied=applied,
            company_rows=company_rows,
            table_rows=table_rows,
            duplicate_keys=duplicates,
            previous_full_rows=previous_full[0] if previous_full else None,
            columns=columns,
            **counts,  # type: ignore[arg-type]
        )


class _ArrowStream:
    """Typed frames as one Arrow stream, so a single INSERT takes every batch.

    One statement lets DuckDB write large appends straight to the database file inside the
    transaction (many small INSERTs keep them all in memory until COMMIT). Counts the rows, and keeps
    the producer's own exception (a bad value, say) so it surfaces as itself, not as a DuckDB error.
    """

    def __init__(self, batches: Iterable[pl.DataFrame], schema: EntitySchema) -> None:
        self._batches = iter(batches)
        self._schema = schema
        self.rows = 0
        self.error: BaseException | None = None

    def reader(self) -> pa.RecordBatchReader | None:
        """The stream, or None when there are no batches at all."""
        first = self._next_table()
        if first is None:
            return None
        return pa.RecordBatchReader.from_batches(first.schema, self._record_batches(first))

    def _next_table(self) -> pa.Table | None:
        try:
            batch = next(self._batches)
            _check_width(batch, self._schema)
            table = batch.to_arrow()
        except StopIteration:
            return None
        except BaseException as exc:  # every failure is remembered: a short stream must never pass
            self.error = exc
            raise
        self.rows += batch.height
        return table

    def _record_batches(self, first: pa.Table) -> Iterator[pa.RecordBatch]:
        table: pa.Table | None = first
        while table is not None:
            yield from table.cast(first.schema).to_batches()
            try:
                table = self._next_table()
            except BaseException:
                return  # DuckDB sees a short stream; the caller raises self.error


def _insert_stream(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    values: Sequence[object],
    batches: Iterable[pl.DataFrame],
    schema: EntitySchema,
) -> int:
    """Run ``sql`` (which reads ``_d365_batch``) once over every batch; returns the rows inserted."""
    stream = _ArrowStream(batches, schema)
    reader = stream.reader()
    if reader is None:
        return 0
    con.register("_d365_batch", reader)
    try:
        con.execute(sql, list(values))
    except duckdb.Error:
        if stream.error is not None:
            raise stream.error from None
        raise
    finally:
        with suppress(duckdb.Error):  # an aborted transaction refuses this too; the first error stands
            con.unregister("_d365_batch")
    if stream.error is not None:
        raise stream.error
    return stream.rows


def _prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """``items`` in order, produced by a background thread up to ``depth`` ahead.

    Parsing the next batch (pyarrow and polars release the GIL) overlaps DuckDB inserting this one.
    An exception while producing is raised here, as is; stopping early stops the producer.
    """
    slots: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not _put(slots, (True, item), stop):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            _put(slots, (False, exc), stop)
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        _put(slots, (False, None), stop)

    worker = threading.Thread(target=produce, name="d365-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = slots.get()
            if ok:
                yield item  # type: ignore[misc]
            elif item is None:
                return
            else:
                raise item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def _put(slots: queue.Queue[tuple[bool, object]], entry: tuple[bool, object], stop: threading.Event) -> bool:
    """Put ``entry`` unless the consumer stopped; False when it did."""
    while not stop.is_set():
        try:
            slots.put(entry, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _check_width(batch: pl.DataFrame, schema: EntitySchema) -> None:
    if batch.width != len(schema):
        raise LoadError(
            f"a batch has {batch.width} columns but the schema has {len(schema)}; "
            f"the package reader must return frames in schema order"
        )


def is_local_file(database: str) -> bool:
    """True for a DuckDB file path; False for ``:memory:`` and connection strings such as ``md:analytics``."""
    if database == ":memory:" or database.startswith(":memory:"):
        return False
    return _CONNECTION_STRING.match(database) is None


def _refuse_loader_columns(schema: EntitySchema, *, table: str, company_specific: bool) -> None:
    """Refuse entity columns named as the loader's own (the company column, the bookkeeping columns)."""
    reserved = {name.upper() for name in LOADER_COLUMNS} | ({COMPANY_COLUMN} if company_specific else set())
    clashing = [c.name for c in schema if c.name.upper() in reserved]
    if clashing:
        raise LoadError(
            f"{table}: the entity has column(s) {', '.join(clashing)}, which the loader adds itself "
            f"({COMPANY_COLUMN} is the export's legal entity on company-specific tables; "
            f"{' and '.join(LOADER_COLUMNS)} record the load). Remove them from the data project's "
            f"field mapping in F&O (or from the catalog's columns). Nothing was changed."
        )


def _quietly(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Run a clean-up statement; its failure never hides the error being handled (DuckDB undoes the rest)."""
    with suppress(duckdb.Error):
        con.execute(sql)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _company_scope(company: str | None) -> tuple[str, list[object]]:
    if company is None:
        return "TRUE", []
    return f"t.{COMPANY_COLUMN} = ?", [company]


def _key_match(natural_key: Sequence[str]) -> str:
    """Rows ``t`` and ``s`` have the same natural key (NULLs compare equal)."""
    return " AND ".join(f"t.{_quote(k)} IS NOT DISTINCT FROM s.{_quote(k)}" for k in natural_key)


def _key_list(natural_key: Sequence[str]) -> str:
    return ", ".join(_quote(k) for k in natural_key)


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> int:
    row = con.execute(sql, list(params)).fetchone()
    return int(row[0]) if row else 0


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _is_lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()
