"""A full load's rows as one Arrow stream that guards itself: keys whole, no mass removal, checked at its end.

delta-rs commits a write only after it has read the whole stream, so checks that run when the last
batch has gone by, and raise there, come before the commit: the write fails and the table stays at
its version. Only the natural-key columns are kept in memory, never the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import polars as pl
import pyarrow as pa

from d365_assets.lake.arrow import stamped
from d365_assets.loading import LoadGuard, RowCounts
from d365_assets.loading.guard import check_removal, null_key_error, repeated_key_error

__all__ = ["GuardedStream", "check_keys"]

_EXAMPLES = 3


def check_keys(keys: pl.DataFrame, *, natural_key: Sequence[str], what: str) -> None:
    """Refuse NULL or repeated natural keys among ``keys`` (the key columns of the rows to commit)."""
    nulls = keys.select(pl.any_horizontal(pl.col(k).is_null() for k in natural_key).sum()).item()
    if nulls:
        raise null_key_error(what=what, nulls=int(nulls), natural_key=natural_key)
    counts = keys.group_by(list(natural_key)).len().filter(pl.col("len") > 1)
    if counts.height:
        examples = counts.sort("len", descending=True).head(_EXAMPLES).rows()
        raise repeated_key_error(what=what, total=counts.height, examples=examples, natural_key=natural_key)


class GuardedStream:
    """The batches of a full load, stamped with the loader's columns, guarded at the stream's end.

    ``old_keys``: the natural keys of the rows the load replaces (the company's rows now). After the
    stream, :attr:`counts` holds what the load does and :attr:`error` the guard's (or the reader's) error.
    """

    def __init__(
        self,
        batches: Iterable[pl.DataFrame],
        *,
        target: pa.Schema,
        stamp: dict[str, object],
        natural_key: Sequence[str],
        old_keys: pl.DataFrame,
        guard: LoadGuard,
        what: str,
    ) -> None:
        self._batches = batches
        self._target = target
        self._stamp = stamp
        self._natural_key = list(natural_key)
        self._old_keys = old_keys
        self._guard = guard
        self._what = what
        self._keys: list[pl.DataFrame] = []
        self.rows = 0
        self.counts: RowCounts | None = None
        self.error: BaseException | None = None

    def reader(self) -> pa.RecordBatchReader:
        """The stream delta-rs reads (once)."""
        return pa.RecordBatchReader.from_batches(self._target, self._guarded())

    def _guarded(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self._batches:
                self._keys.append(batch.select(self._natural_key))
                self.rows += batch.height
                yield stamped(batch, self._target, **self._stamp)  # type: ignore[arg-type]
            self.counts = self._check()
        except BaseException as exc:  # remembered: delta-rs wraps it, the caller raises it as itself
            self.error = exc
            raise

    def _check(self) -> RowCounts:
        """The keys whole and the removal within the guard, or the refusal (before delta-rs commits)."""
        keys = pl.concat(self._keys) if self._keys else self._old_keys.clear()
        check_keys(keys, natural_key=self._natural_key, what=self._what)
        before = self._old_keys.height
        kept = self._old_keys.join(keys, on=self._natural_key, how="semi").height if before else 0
        check_removal(guard=self._guard, before=before, kept=kept, what=self._what)
        return RowCounts(read=self.rows, inserted=self.rows - kept, updated=kept, deleted=before - kept)
