"""Opening the warehouse's DuckDB database: waiting out other processes, one writer at a time.

DuckDB lets one process hold a database file for writing. A connection that finds the file held
retries until the lock timeout, then names the holder; loads also queue on a lock file next to the
database, so two loads of this package never race for it. A file DuckDB cannot open (corrupt,
truncated, in a folder that cannot be written) is a :class:`WarehouseFileError` naming the way out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from d365_assets.warehouse.errors import WarehouseFileError, WarehouseLockedError
from d365_assets.warehouse.sql import first_line

__all__ = ["Database", "is_local_file"]

_CONNECTION_STRING = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
"""``md:db``, ``motherduck:db``, ``s3://...`` (a scheme of 2+ letters, so ``C:\\x`` stays a path)."""
_HOLDER_PATTERN = re.compile(r"Conflicting lock is held in (?P<holder>.+?)(?:\. See also|$)", re.DOTALL)


def is_local_file(database: str) -> bool:
    """True for a DuckDB file path; False for ``:memory:`` and connection strings such as ``md:analytics``."""
    if database == ":memory:" or database.startswith(":memory:"):
        return False
    return _CONNECTION_STRING.match(database) is None


@dataclass(frozen=True)
class Database:
    """A DuckDB database (a file path or a connection string) and how long to wait for its other users."""

    database: str
    lock_timeout: float

    @property
    def is_local(self) -> bool:
        """True for a database file on this machine (the writer lock file and memory tuning apply)."""
        return is_local_file(self.database)

    @contextmanager
    def connect(
        self, *, read_only: bool = False, timeout: float | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the database, waiting up to ``timeout`` (``lock_timeout``) while another process holds it."""
        timeout = self.lock_timeout if timeout is None else max(timeout, 0.0)
        if self.is_local:
            self._prepare_file(read_only=read_only)
        connection = self._open(read_only=read_only, timeout=timeout)
        try:
            yield connection
        finally:
            connection.close()

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write connection, serialised across processes by a lock file next to the database."""
        if not self.is_local:
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

    def file_error(self, problem: str) -> WarehouseFileError:
        """The error for a database file that cannot be used, naming it and the ways out."""
        return WarehouseFileError(
            f"DuckDB database {self.database}: {problem}. If the file is corrupt or truncated, move it "
            f"aside (keep it for inspection) and run every entity's refresh (or reconcile) job to "
            f"rebuild it, or restore a backup; if its folder is not writable or the disk is full, fix "
            f"that (or point D365_DUCKDB_PATH elsewhere). Nothing was changed."
        )

    def _prepare_file(self, *, read_only: bool) -> None:
        """Refuse to read a file that does not exist; make the folder of one about to be written."""
        path = Path(self.database)
        if read_only and not path.exists():
            raise WarehouseFileError(
                f"DuckDB database {self.database} does not exist yet: nothing has been loaded into it; "
                f"materialize the assets first (or check D365_DUCKDB_PATH)"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self.file_error(f"its folder cannot be created ({exc.strerror or exc})") from None

    def _open(self, *, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
        """``duckdb.connect``, retried while another process holds the file's lock."""
        retrying = Retrying(
            retry=retry_if_exception(_is_lock_conflict),
            stop=stop_after_delay(timeout),
            wait=wait_exponential(multiplier=0.05, max=2.0),
            reraise=True,
        )
        try:
            return retrying(duckdb.connect, self.database, read_only=read_only)
        except duckdb.Error as exc:
            if not _is_lock_conflict(exc):
                raise self.file_error(f"DuckDB cannot open it ({first_line(exc)})") from None
            match = _HOLDER_PATTERN.search(str(exc))
            holder = match.group("holder").strip() if match else "another process"
            raise WarehouseLockedError(
                f"DuckDB file {self.database} is held open by {holder}; waited {self.lock_timeout:.0f} s. "
                f"Close that connection (a notebook, the duckdb CLI, a BI tool) or query a copy of the file, "
                f"then run the load again. Nothing was changed."
            ) from None


def _is_lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()
