"""The Delta lake destination: one Delta table per entity, a load = one guarded commit, applied once.

A full load replaces the company's rows with one predicate overwrite; a delta merges on (company,
natural key). The execution id travels in the commit's metadata: a load whose execution the table's
history already records is not applied again. A conflicting commit by another writer (Delta's
optimistic concurrency) is retried on a freshly opened table a bounded number of times.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from d365_assets.lake.arrow import duckdb_columns
from d365_assets.lake.config import LakeConfig, storage_failure
from d365_assets.lake.errors import LakeConflictError, LakeStorageError
from d365_assets.lake.table import EXECUTION_KEY, DeltaEntityTable
from d365_assets.loading import LoadRequest, LoadResult, RowCounts, check_request
from d365_assets.schema import COMPANY_COLUMN, RefreshMode

__all__ = ["DEFAULT_COMMIT_ATTEMPTS", "DeltaLake"]

logger = logging.getLogger(__name__)

DEFAULT_COMMIT_ATTEMPTS = 5
"""Attempts of one load when other writers' commits conflict with it (then :class:`LakeConflictError`)."""


@dataclass(frozen=True)
class _Applied:
    counts: RowCounts
    added: tuple[str, ...]
    seconds: float


class DeltaLake:
    """Entity tables as Delta tables under ``config``'s URI (Azure storage, Azurite or a local folder).

    Args:
        config: where the lake is and its credentials.
        schema: the namespace readers give the tables (``dagster/table_name`` is ``<schema>.<table>``).
        commit_attempts: tries of one load when a concurrent commit conflicts with it.
        target_file_size: bytes per data file a full load aims at (None: delta-rs's default, about
            100 MB); smaller files land in storage sooner, more of them need compacting.
    """

    def __init__(
        self,
        config: LakeConfig,
        *,
        schema: str = "d365",
        commit_attempts: int = DEFAULT_COMMIT_ATTEMPTS,
        target_file_size: int | None = None,
    ) -> None:
        self.config = config
        self.schema = schema
        self.commit_attempts = commit_attempts
        self.target_file_size = target_file_size

    @property
    def identity(self) -> str:
        """The lake's root URI (no credential in it)."""
        return self.config.root

    def table_uri(self, table: str) -> str:
        return self.config.table_uri(table)

    def table_name(self, table: str) -> str:
        return f"{self.schema}.{table}"

    def has_applied(self, execution_id: str, *, table: str) -> bool:
        """Whether ``table``'s commit history records ``execution_id`` (False when there is no table)."""
        uri = self.table_uri(table)
        try:
            history = DeltaTable(uri, storage_options=self.config.storage_options()).history()
        except TableNotFoundError:
            return False
        except (DeltaError, OSError) as exc:
            raise LakeStorageError(f"Delta table {uri}: {self._failure(exc)}") from None
        return any(entry.get(EXECUTION_KEY) == execution_id for entry in history)

    def row_counts(self, table: str) -> dict[str | None, int] | None:
        """Rows per company of ``table`` (``{None: n}`` for a shared one); None when it does not exist."""
        uri = self.table_uri(table)
        try:
            dataset = DeltaTable(uri, storage_options=self.config.storage_options()).to_pyarrow_dataset()
            if COMPANY_COLUMN not in dataset.schema.names:
                return {None: dataset.count_rows()}
            companies = dataset.to_table(columns=[COMPANY_COLUMN], use_threads=False)
        except TableNotFoundError:
            return None
        except (DeltaError, OSError) as exc:
            raise LakeStorageError(f"Delta table {uri}: {self._failure(exc)}") from None
        counted = companies.group_by(COMPANY_COLUMN).aggregate([([], "count_all")]).to_pylist()
        return {
            row[COMPANY_COLUMN]: row["count_all"] for row in sorted(counted, key=lambda r: r[COMPANY_COLUMN])
        }

    def load(self, request: LoadRequest) -> LoadResult:
        """Apply one exported package to its Delta table in one commit (or nothing).

        Keys whole and the removal guard are proved before the commit; otherwise a :class:`LoadError`
        is raised and the table stays at its version. Storage failures are :class:`LakeStorageError`
        (secrets and SAS signatures redacted).
        """
        check_request(request)
        uri = self.table_uri(request.table)
        batches = request.batches
        if request.mode is RefreshMode.DELTA:
            batches = list(batches)  # a delta is small and staged anyway: every attempt merges the same rows
        source = _Batches(batches)
        request = dataclasses.replace(request, batches=source)
        for attempt in range(1, self.commit_attempts + 1):
            try:
                return self._attempt(uri, request)
            except CommitFailedError as exc:
                if attempt == self.commit_attempts or not source.replayable:
                    raise LakeConflictError(
                        f"{uri} ({request.company or 'shared'}): another writer committed a conflicting "
                        f"change ({self._failure(exc)}) on attempt {attempt}; nothing was changed. "
                        f"Run the load again (its export stays noted); if it keeps happening, keep table "
                        f"maintenance and loads of the same company apart."
                    ) from None
                logger.warning("%s: a concurrent commit conflicted (attempt %d); retrying", uri, attempt)
                time.sleep(0.05 * 2**attempt)
            except (DeltaError, OSError) as exc:
                raise LakeStorageError(
                    f"Delta table {uri}: {self._failure(exc)}. Nothing changed; "
                    f"check D365_LAKE_URI, the container and the credentials (D365_LAKE_ACCOUNT_NAME with "
                    f"D365_LAKE_ACCOUNT_KEY or D365_LAKE_SAS_TOKEN, or the machine's managed identity)."
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _failure(self, exc: BaseException) -> str:
        return self.config.redact(storage_failure(str(exc)))

    def _attempt(self, uri: str, request: LoadRequest) -> LoadResult:
        """One try on a freshly opened table: nothing when its history has the execution, else the load."""
        table = DeltaEntityTable(
            uri,
            request,
            storage_options=self.config.storage_options(),
            target_file_size=self.target_file_size,
        )
        if table.applied():
            return _result(table, applied=None)
        clock = time.perf_counter()
        table.ensure()
        target, added = table.target_schema()
        counts = (
            table.replace(target, added) if request.mode is RefreshMode.FULL else table.merge(target, added)
        )
        assert table.table is not None
        table.table.update_incremental()
        return _result(table, applied=_Applied(counts, added, time.perf_counter() - clock))


class _Batches:
    """A load's batches, noting whether they were read: a one-pass stream that was cannot be retried."""

    def __init__(self, batches: Iterable[pl.DataFrame]) -> None:
        self._batches = batches
        self._one_pass = iter(batches) is batches
        self._started = False

    @property
    def replayable(self) -> bool:
        return not (self._one_pass and self._started)

    def __iter__(self) -> Iterator[pl.DataFrame]:
        self._started = True
        return iter(self._batches)


def _result(table: DeltaEntityTable, *, applied: _Applied | None) -> LoadResult:
    """The result of a load, read from the table now (rows per company, columns) and its history."""
    request = table.request
    delta = table.table
    counts = applied.counts if applied else RowCounts(read=0, inserted=0, updated=0, deleted=0)
    company_rows = table_rows = duplicates = 0
    columns: tuple[tuple[str, str], ...] = ()
    if delta is not None:
        dataset = delta.to_pyarrow_dataset()
        table_rows = dataset.count_rows()
        company_rows = (
            table_rows if request.company is None else dataset.count_rows(filter=table.company_filter)
        )
        columns = duckdb_columns(table.arrow_schema())
        if applied is None:
            duplicates = _duplicate_keys(table)
    previous = next(
        (
            c.rows_read
            for c in table.commits()
            if c.company == request.company and c.mode == RefreshMode.FULL.value
            and c.execution_id != request.execution_id
        ),
        None,
    )  # fmt: skip
    return LoadResult(
        table=table.uri,
        company=request.company,
        mode=request.mode,
        execution_id=request.execution_id,
        applied=applied is not None,
        rows_read=counts.read,
        rows_inserted=counts.inserted,
        rows_updated=counts.updated,
        rows_deleted=counts.deleted,
        company_rows=company_rows,
        table_rows=table_rows,
        duplicate_keys=duplicates,
        previous_full_rows=previous,
        added_columns=applied.added if applied else (),
        columns=columns,
        seconds=applied.seconds if applied else 0.0,
        version=delta.version() if delta is not None else None,
    )


def _duplicate_keys(table: DeltaEntityTable) -> int:
    """Natural keys that occur more than once among the company's rows (for a load not applied again)."""
    target = table.arrow_schema()
    keys = table.company_keys(target)
    return keys.group_by(list(table.request.natural_key)).len().filter(pl.col("len") > 1).height
