"""One entity's Delta table: open it, find an execution in its log, replace or merge one company's rows.

Every write carries the load in its commit's metadata (``d365.execution_id`` and the row counts),
so the table's own history is the load ledger: an execution found there was applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from d365_assets.lake.arrow import entity_arrow_schema, merged_schema, stamped
from d365_assets.lake.guarded import GuardedStream, check_keys
from d365_assets.loading import LoadRequest, RowCounts
from d365_assets.schema import COMPANY_COLUMN

__all__ = ["EXECUTION_KEY", "DeltaEntityTable", "LoadCommit"]

EXECUTION_KEY = "d365.execution_id"
"""The commit metadata key that names the execution a commit applied."""
_PREFIX = "d365."


@dataclass(frozen=True)
class LoadCommit:
    """A load as its commit recorded it (from the table's history)."""

    version: int
    execution_id: str
    company: str | None
    mode: str
    rows_read: int
    timestamp: datetime


def quote(identifier: str) -> str:
    """``identifier`` as a quoted SQL identifier (delta-rs predicates fold unquoted names to lower case)."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    """``value`` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


class DeltaEntityTable:
    """The Delta table at ``uri`` that ``request`` is loaded into (opened fresh: one attempt of a load)."""

    def __init__(
        self,
        uri: str,
        request: LoadRequest,
        *,
        storage_options: dict[str, str],
        target_file_size: int | None = None,
    ) -> None:
        self.uri = uri
        self.target_file_size = target_file_size
        self.request = request
        self.options = storage_options
        self.table = self._open()
        self.what = f"{uri} ({request.company or 'shared'})"
        self._commits: list[LoadCommit] | None = None

    def _open(self) -> DeltaTable | None:
        try:
            return DeltaTable(self.uri, storage_options=self.options)
        except TableNotFoundError:
            return None

    @property
    def company_filter(self) -> ds.Expression | None:
        company = self.request.company
        return None if company is None else ds.field(COMPANY_COLUMN) == company

    def commits(self) -> list[LoadCommit]:
        """The loads the table's history recorded when it was opened, newest first (read once)."""
        if self._commits is None:
            history = self.table.history() if self.table is not None else []
            self._commits = [_commit(entry) for entry in history if EXECUTION_KEY in entry]
        return self._commits

    def applied(self) -> bool:
        """Whether the request's execution is in the table's history already."""
        return any(c.execution_id == self.request.execution_id for c in self.commits())

    def ensure(self) -> None:
        """Create the table (empty, partitioned by company when specific) unless it exists."""
        if self.table is not None:
            return
        specific = self.request.company is not None
        self.table = DeltaTable.create(
            self.uri,
            entity_arrow_schema(self.request.schema, company_specific=specific),
            mode="ignore",
            partition_by=[COMPANY_COLUMN] if specific else None,
            storage_options=self.options,
        )

    def arrow_schema(self) -> pa.Schema:
        assert self.table is not None
        return pa.schema(self.table.schema().to_arrow())

    def target_schema(self) -> tuple[pa.Schema, tuple[str, ...]]:
        """The schema this load writes (the table's plus new columns) and the columns it adds."""
        wanted = entity_arrow_schema(self.request.schema, company_specific=self.request.company is not None)
        current = self.arrow_schema()
        target = merged_schema(current, wanted, what=self.what)
        return target, tuple(target.names[len(current.names) :])

    def company_keys(self, target: pa.Schema) -> pl.DataFrame:
        """The natural keys of the company's rows now (every row's when shared)."""
        keys = list(self.request.natural_key)
        assert self.table is not None
        found = self.table.to_pyarrow_dataset().to_table(
            columns=keys, filter=self.company_filter, use_threads=False
        )
        return pl.from_arrow(found.cast(pa.schema([target.field(k) for k in keys])))  # type: ignore[return-value]

    def replace(self, target: pa.Schema, added: tuple[str, ...]) -> RowCounts:
        """Full load: the company's rows replaced in one commit, guarded before it (see :mod:`guarded`)."""
        request = self.request
        stream = GuardedStream(
            request.batches,
            target=target,
            stamp=self._stamp(),
            natural_key=request.natural_key,
            old_keys=self.company_keys(target),
            guard=request.guard,
            what=self.what,
        )
        try:
            write_deltalake(
                self.table,  # type: ignore[arg-type]
                stream.reader(),
                mode="overwrite",
                predicate=self._scope(),
                schema_mode="merge" if added else None,
                target_file_size=self.target_file_size,
                commit_properties=self._commit_properties(),
            )
        except Exception:
            if stream.error is not None:
                raise stream.error from None
            raise
        assert stream.counts is not None
        return stream.counts

    def merge(self, target: pa.Schema, added: tuple[str, ...]) -> RowCounts:
        """Delta load: the (small) package staged in memory, its keys checked, merged on (company, key)."""
        request = self.request
        frames = list(request.batches)
        keys = pl.concat([f.select(list(request.natural_key)) for f in frames]) if frames else None
        if keys is None or keys.height == 0:
            return RowCounts(read=0, inserted=0, updated=0, deleted=0)
        check_keys(keys, natural_key=request.natural_key, what=f"the delta for {self.what}")
        source = pa.Table.from_batches([stamped(f, target, **self._stamp()) for f in frames], schema=target)
        match = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in request.natural_key)
        if request.company is not None:
            match = f"t.{quote(COMPANY_COLUMN)} = {literal(request.company)} AND {match}"
        assert self.table is not None
        metrics = (
            self.table.merge(
                source,
                match,
                source_alias="s",
                target_alias="t",
                merge_schema=bool(added),
                commit_properties=self._commit_properties(),
            )
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )
        updated = int(metrics.get("num_target_rows_updated", 0))
        return RowCounts(read=source.num_rows, inserted=source.num_rows - updated, updated=updated, deleted=0)

    def _scope(self) -> str | None:
        company = self.request.company
        return None if company is None else f"{quote(COMPANY_COLUMN)} = {literal(company)}"

    def _stamp(self) -> dict[str, object]:
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        return {
            "company": self.request.company,
            "execution_id": self.request.execution_id,
            "loaded_at": loaded_at,
        }

    def _commit_properties(self) -> CommitProperties:
        """The load in the commit's metadata: the table's history is its ledger."""
        request = self.request
        metadata: dict[str, Any] = {
            EXECUTION_KEY: request.execution_id,
            f"{_PREFIX}entity": request.entity,
            f"{_PREFIX}company": request.company or "",
            f"{_PREFIX}mode": request.mode.value,
        }
        return CommitProperties(custom_metadata=metadata)


def _commit(entry: dict[str, Any]) -> LoadCommit:
    """A history entry of a load: its execution, company and mode, and the rows it wrote (its metrics)."""
    metrics = entry.get("operationMetrics") or {}
    return LoadCommit(
        version=int(entry.get("version", -1)),
        execution_id=str(entry[EXECUTION_KEY]),
        company=entry.get(f"{_PREFIX}company") or None,
        mode=str(entry.get(f"{_PREFIX}mode", "")),
        rows_read=int(metrics.get("num_added_rows", metrics.get("num_source_rows", 0))),
        timestamp=datetime.fromtimestamp(int(entry.get("timestamp", 0)) / 1000, UTC),
    )
