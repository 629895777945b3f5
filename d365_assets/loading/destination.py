"""The contract of a load's destination: what refresh loads into and what the Dagster wiring reads back."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from d365_assets.loading.request import LoadRequest, LoadResult

__all__ = ["Destination"]


@runtime_checkable
class Destination(Protocol):
    """Where entity tables are loaded: the DuckDB :class:`~d365_assets.warehouse.Warehouse` or the
    Delta :class:`~d365_assets.lake.DeltaLake`.

    A load applies one package in one commit, guarded before it commits (keys whole, no mass removal),
    and applies an execution id once; its :class:`LoadResult` carries what the checks and the metadata
    need (rows per company and table, repeated keys, the previous full load's rows, the columns).
    """

    @property
    def identity(self) -> str:
        """Names where loads land (a database path, a lake URI), free of secrets: keeps spools apart."""
        ...

    def load(self, request: LoadRequest) -> LoadResult:
        """Apply one exported package's rows to its table in one commit, or nothing."""
        ...

    def has_applied(self, execution_id: str, *, table: str) -> bool:
        """Whether ``execution_id`` was applied (committed) to ``table`` already."""
        ...

    def table_name(self, table: str) -> str:
        """The name readers use for ``table`` (Dagster's ``dagster/table_name``)."""
        ...

    def table_uri(self, table: str) -> str | None:
        """Where ``table`` lives, for a reader outside DuckDB (the Delta table's URI), or None."""
        ...
