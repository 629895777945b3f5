"""Typed frames into DuckDB as one Arrow stream: a single INSERT per load, parsing ahead on a thread.

One statement lets DuckDB write large appends straight to the database file inside the transaction
(many small INSERTs keep them all in memory until COMMIT). A background thread produces the next
frame while DuckDB inserts this one. A frame the producer fails on (a bad value, a wrong width)
surfaces as its own exception, never as a DuckDB error, and never as a short but successful insert.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from typing import TypeVar

import duckdb
import polars as pl
import pyarrow as pa

from d365_assets.schema import EntitySchema
from d365_assets.warehouse.errors import LoadError

__all__ = ["BATCH_VIEW", "insert_stream", "prefetch"]

BATCH_VIEW = "_d365_batch"
"""The name the stream is registered under: the INSERT given to :func:`insert_stream` reads it."""

T = TypeVar("T")


def insert_stream(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    values: Sequence[object],
    batches: Iterable[pl.DataFrame],
    schema: EntitySchema,
) -> int:
    """Run ``sql`` (which reads :data:`BATCH_VIEW`) once over every batch; returns the rows inserted."""
    stream = _ArrowStream(batches, schema)
    reader = stream.reader()
    if reader is None:
        return 0
    con.register(BATCH_VIEW, reader)
    try:
        con.execute(sql, list(values))
    except duckdb.Error:
        if stream.error is not None:
            raise stream.error from None
        raise
    finally:
        with suppress(duckdb.Error):  # an aborted transaction refuses this too; the first error stands
            con.unregister(BATCH_VIEW)
    if stream.error is not None:
        raise stream.error
    return stream.rows


class _ArrowStream:
    """Typed frames as one Arrow stream, so a single INSERT takes every batch.

    Counts the rows, and keeps the producer's own exception (a bad value, say) so it surfaces as
    itself, not as a DuckDB error.
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
            table = batch.to_arrow(compat_level=pl.CompatLevel.newest())  # string views: no copy
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


def _check_width(batch: pl.DataFrame, schema: EntitySchema) -> None:
    if batch.width != len(schema):
        raise LoadError(
            f"a batch has {batch.width} columns but the schema has {len(schema)}; "
            f"the package reader must return frames in schema order"
        )


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
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
