"""Fault injection: what can go wrong, how many times, kept in SQLite so every process sees it.

A :class:`Fault` is transient: it fires for the next ``count`` matching requests (``-1``: until
cleared). Faults come from ``EmulatorConfig.faults`` (installed when an emulator is constructed with
that configuration), from ``POST /_emulator/faults`` on the F&O origin, from
:meth:`Emulator.add_faults`, or from ``--fault``/``--faults`` of the standalone command. The ASGI
side lives in :mod:`.fault_middleware`.

Kinds (``origin``: effect):

- ``throttle`` (F&O): DMF actions answer 429 with ``Retry-After`` and a documented message
  (``message``: ``requests``, ``concurrency``, ``resources`` or a literal text); ``actions`` filters.
- ``unavailable`` (F&O): DMF actions answer 503 (with ``Retry-After`` when ``retry_after`` > 0).
- ``status_bad_request`` / ``status_not_found`` (F&O): GetExecutionSummaryStatus answers a transient
  400 (a bare "Bad request", or "Execution details were not found ...").
- ``empty_package_url`` (F&O): GetExportedPackageUrl answers ``""``.
- ``sas_expiry`` (F&O): package URLs are signed with a ``seconds`` window (<= 0: already expired).
- ``http_package_url`` (F&O): GetExportedPackageUrl answers the package URL with ``http://`` (as a
  proxy or load balancer that rewrites the scheme would); the emulator's blob origin is HTTPS only.
- ``foreign_execution_id`` (F&O): ExportToPackage (of ``project``, if set) runs under another id than
  the one sent, and answers it: ``execution_id``, or F&O's own ``ExportPackage-<date time>`` form
  when empty (F&O does so when parallel exports share an execution id).
- ``lost_response`` (F&O): the action runs, then the connection drops before the response (a
  client retry of ExportToPackage then meets its own execution id).
- ``never_finish`` / ``stay_not_run`` (F&O): new exports (of ``project``, if set) stay Executing
  (or NotRun, a batch queue that never picks them up) for ever.
- ``end_as`` (F&O): new exports (of ``project``, if set) end with ``status`` instead: ``Canceled``,
  ``Unknown`` (both without execution errors) or ``Failed`` (with one); they produce no package.
- ``token_throttle`` (authority): the token endpoints answer 429 with ``Retry-After``.
- ``token_expiry`` (authority): tokens issued now are valid for ``seconds`` only, although the
  token response still says ``expires_in: <token lifetime>`` (F&O then answers 401).
- ``blob_unavailable`` (blob): downloads answer 503 ``ServerBusy``.
- ``blob_drop`` (blob): a download sends ``after_bytes`` bytes (0: half) and drops the connection.
- ``blob_corrupt`` (blob): a download's body has its byte at ``after_bytes`` (0: the middle one)
  changed; the length is the same, so only the blob's MD5 tells.
- ``ack_fail`` (F&O, recurring): an acknowledgement answers 500 after ``seconds`` and does nothing.
- ``deliver_twice`` (F&O, recurring): an acknowledgement answers 200 but the queue keeps the message,
  which is delivered again at once (a queue that delivers a message twice).
- ``missing_file`` (F&O, recurring): the next recurring export uploads no file: its message says
  ``IsDownLoadFileExist: false``.
- ``download_drop`` (F&O, recurring): a message download sends ``after_bytes`` bytes (0: half) and
  drops the connection.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

__all__ = [
    "FAULT_KINDS",
    "THROTTLE_MESSAGES",
    "Fault",
    "FaultStore",
    "fault_from_dict",
    "faults_from_json",
    "parse_fault_spec",
]

FAULT_KINDS = (
    "throttle",
    "unavailable",
    "status_bad_request",
    "status_not_found",
    "empty_package_url",
    "sas_expiry",
    "http_package_url",
    "foreign_execution_id",
    "lost_response",
    "never_finish",
    "stay_not_run",
    "end_as",
    "token_throttle",
    "token_expiry",
    "blob_unavailable",
    "blob_drop",
    "blob_corrupt",
    "ack_fail",
    "deliver_twice",
    "missing_file",
    "download_drop",
)

THROTTLE_MESSAGES: Mapping[str, str] = {
    # Microsoft's own spelling ("exeeded"), as documented for F&O service protection.
    "requests": "Number of requests exeeded the limit of 6000 over the time window of 300 seconds.",
    "concurrency": "Number of concurrent requests exceeded the limit of 52.",
    "resources": (
        "This request could not be processed at this time due to system experiencing high resource "
        "utilization."
    ),
}

_NEVER = 1e18
"""An execution timestamp that never comes."""
END_AS_STATUSES = ("Failed", "Canceled", "Unknown")
_END_AS_ERRORS = {"Failed": ["The export failed: the execution stopped with an error (injected)."]}


@dataclass(frozen=True)
class Fault:
    """One injected fault; fields other than ``kind`` and ``count`` matter only to some kinds."""

    kind: str
    count: int = 1
    """How many matching requests it affects; -1 = until cleared."""
    retry_after: int = 1
    """``Retry-After`` seconds (throttle, token_throttle; unavailable/blob_unavailable when > 0)."""
    message: str = "requests"
    """throttle: a key of :data:`THROTTLE_MESSAGES` or the literal text."""
    actions: tuple[str, ...] = ()
    """throttle/unavailable/lost_response: only these DMF actions (empty: all)."""
    seconds: float = 0.0
    """token_expiry: real token lifetime; sas_expiry: SAS window (<= 0: already expired)."""
    after_bytes: int = 0
    """blob_drop: bytes sent before the connection drops (0: half the body); blob_corrupt: the body
    byte changed (0, or beyond the body: the middle one)."""
    project: str = ""
    """never_finish/stay_not_run/end_as/foreign_execution_id: only exports of this project (empty: any)."""
    execution_id: str = ""
    """foreign_execution_id: the id ExportToPackage runs under and answers (empty: F&O's own form)."""
    status: str = ""
    """end_as: the status the export ends with, one of ``Failed``, ``Canceled``, ``Unknown``."""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")
        if self.count == 0 or self.count < -1:
            raise ValueError(f"fault {self.kind}: count must be >= 1, or -1 for until cleared")
        if self.retry_after < 0 or self.after_bytes < 0:
            raise ValueError(f"fault {self.kind}: retry_after and after_bytes must be >= 0")
        if self.kind == "end_as" and self.status not in END_AS_STATUSES:
            raise ValueError(f"fault end_as: status must be one of {', '.join(END_AS_STATUSES)}")

    @property
    def throttle_text(self) -> str:
        """The 429 message: a documented text by key, or ``message`` itself."""
        return THROTTLE_MESSAGES.get(self.message, self.message)

    def matches(self, *, action: str = "", project: str = "") -> bool:
        """Whether the fault applies to a request for ``action`` (of ``project``)."""
        if self.actions and action and action not in self.actions:
            return False
        return not (self.project and project and self.project != project)

    def to_dict(self) -> dict[str, object]:
        """The JSON-able form (``actions`` as a list)."""
        data = asdict(self)
        data["actions"] = list(self.actions)
        return data


_FIELDS = {f.name: f for f in fields(Fault)}


def fault_from_dict(data: Mapping[str, object]) -> Fault:
    """A fault from its JSON form; unknown keys are an error."""
    unknown = set(data) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown fault field(s) {sorted(unknown)}; known: {sorted(_FIELDS)}")
    values = dict(data)
    if "kind" not in values:
        raise ValueError("a fault needs a kind")
    actions = values.get("actions") or ()
    values["actions"] = tuple([actions] if isinstance(actions, str) else actions)  # type: ignore[arg-type]
    try:
        return Fault(**values)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def faults_from_json(text: str) -> tuple[Fault, ...]:
    """Faults from a JSON document: one fault object, a list of them, or ``{"faults": [...]}``."""
    doc = json.loads(text)
    if isinstance(doc, Mapping) and "faults" in doc:
        doc = doc["faults"]
    items = [doc] if isinstance(doc, Mapping) else doc
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise ValueError("faults JSON must be a fault object, a list of them, or {'faults': [...]}")
    return tuple(fault_from_dict(item) for item in items)


def parse_fault_spec(spec: str) -> Fault:
    """``NAME``, ``NAME:N`` (count) or ``NAME:key=value,key=value`` (``actions`` joined by ``+``).

    Examples: ``throttle:count=3,retry_after=2``, ``status_not_found:2``, ``blob_drop:after_bytes=4096``.
    """
    kind, _, args = spec.partition(":")
    values: dict[str, object] = {"kind": kind.strip()}
    args = args.strip()
    if args.lstrip("-").isdigit():
        values["count"] = int(args)
    elif args:
        for item in args.split(","):
            key, sep, raw = item.partition("=")
            key = key.strip()
            if not sep or key not in _FIELDS or key == "kind":
                raise ValueError(f"fault {spec!r}: expected key=value with key one of {sorted(_FIELDS)}")
            kind_of = _FIELDS[key].type
            if key == "actions":
                values[key] = tuple(a for a in raw.split("+") if a)
            elif kind_of in ("int", int):
                values[key] = int(raw)
            elif kind_of in ("float", float):
                values[key] = float(raw)
            else:
                values[key] = raw
    return fault_from_dict(values)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, remaining INTEGER NOT NULL,
    spec TEXT NOT NULL);
"""


class FaultStore:
    """Active faults in the emulator's ``state.sqlite``, shared by every process on the state directory.

    Also the few state changes faults make to tokens and executions (tables of :class:`.store.Store`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            if write:
                conn.execute("BEGIN IMMEDIATE")
            yield conn
            if write:
                conn.execute("COMMIT")
        except BaseException:
            if write and conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def initialise(self) -> None:
        """Create the table (idempotent)."""
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    def add(self, faults: Iterable[Fault], *, replace_all: bool = False) -> None:
        """Activate faults (after clearing the active ones when ``replace_all``)."""
        with self._connect(write=True) as conn:
            if replace_all:
                conn.execute("DELETE FROM faults")
            conn.executemany(
                "INSERT INTO faults (kind, remaining, spec) VALUES (?, ?, ?)",
                [(f.kind, f.count, json.dumps(f.to_dict())) for f in faults],
            )

    def clear(self) -> None:
        """Deactivate every fault."""
        with self._connect(write=True) as conn:
            conn.execute("DELETE FROM faults")

    def active(self) -> list[Fault]:
        """The active faults, ``count`` being what remains of each."""
        with self._connect() as conn:
            rows = conn.execute("SELECT remaining, spec FROM faults ORDER BY id").fetchall()
        return [replace(fault_from_dict(json.loads(spec)), count=remaining) for remaining, spec in rows]

    def take(self, kinds: Sequence[str], *, action: str = "", project: str = "") -> Fault | None:
        """Consume one firing of the first active fault of ``kinds`` matching the request, or None."""
        marks = ", ".join("?" * len(kinds))
        query = f"SELECT id, remaining, spec FROM faults WHERE kind IN ({marks}) ORDER BY id"
        with self._connect() as conn:
            if not conn.execute(query, tuple(kinds)).fetchone():
                return None  # the common case: no write lock taken
        with self._connect(write=True) as conn:
            for fault_id, remaining, spec in conn.execute(query, tuple(kinds)).fetchall():
                fault = fault_from_dict(json.loads(spec))
                if not fault.matches(action=action, project=project):
                    continue
                if remaining == 1:
                    conn.execute("DELETE FROM faults WHERE id = ?", (fault_id,))
                elif remaining > 1:
                    conn.execute("UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (fault_id,))
                return fault
        return None

    # -- effects on other state --------------------------------------------------------------

    def revoke_tokens(self, *, now: float | None = None) -> int:
        """Expire every issued access token now; returns how many were still valid."""
        now = time.time() if now is None else now
        with self._connect(write=True) as conn:
            cursor = conn.execute("UPDATE tokens SET expires_at = ? WHERE expires_at > ?", (now, now))
            return cursor.rowcount

    def expire_token(self, token_hash: str, *, expires_at: float) -> None:
        """Let one issued token (by hash) expire at ``expires_at`` instead."""
        with self._connect(write=True) as conn:
            conn.execute("UPDATE tokens SET expires_at = ? WHERE token_hash = ?", (expires_at, token_hash))

    def end_execution(self, execution_id: str, *, status: str) -> None:
        """Make an execution end ``status`` (an ``end_as`` fault), with that status's errors."""
        errors = json.dumps(_END_AS_ERRORS.get(status, []))
        with self._connect(write=True) as conn:
            conn.execute(
                "UPDATE executions SET outcome = ?, errors = ? WHERE execution_id = ?",
                (status, errors, execution_id),
            )

    def stall_execution(self, execution_id: str, *, not_run: bool) -> None:
        """Make an execution stay Executing (or NotRun) for ever."""
        column = "executing_at" if not_run else "done_at"
        with self._connect(write=True) as conn:
            conn.execute(
                f"UPDATE executions SET {column} = ?, done_at = ? WHERE execution_id = ?",
                (_NEVER, _NEVER, execution_id),
            )
