"""The DMF package API's behaviour, independent of HTTP: exports, execution lifecycle, packages."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from filelock import FileLock, Timeout

from .config import DataProject, EmulatorConfig
from .dataset import Dataset
from .entities import find_entity
from .outcomes import PACKAGE_OUTCOMES, LeftOut, duplicate_id_answer, oversize_errors, partial_errors
from .package import PackageSpec, write_package
from .render import row_renderer
from .sas import sign_url
from .store import ExecutionExistsError, ExecutionRecord, Store

__all__ = ["DmfError", "DmfService", "ModelStateError"]

log = logging.getLogger(__name__)

_EXPORT_KEYS: Mapping[str, type] = {
    "definitionGroupId": str,
    "packageName": str,
    "executionId": str,
    "reExecute": bool,
    "legalEntityId": str,
}
_PACKAGE_OUTCOMES = PACKAGE_OUTCOMES
_SYNC_WAIT_LIMIT = 3600.0
"""The longest a synchronous ExportToPackage call waits for its export, in seconds."""


class DmfError(Exception):
    """An action failed; F&O reports it as HTTP 400 with this detail in the inner error.

    Another ``status`` (a 500, say) is answered with that status and no body.
    """

    def __init__(self, detail: str, *, status: int = 400) -> None:
        super().__init__(detail)
        self.status = status


class ModelStateError(Exception):
    """A parameter is missing or has the wrong JSON type (``InvokeAction - Model state is invalid.``)."""


@dataclass(frozen=True)
class _Clock:
    now: Callable[[], float] = time.time

    def utc(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now(), dt.UTC)


def require(body: object, keys: Mapping[str, type]) -> dict[str, object]:
    """Validate an action body: every key present with the right JSON type."""
    if not isinstance(body, dict):
        raise ModelStateError
    for key, kind in keys.items():
        if key not in body or not isinstance(body[key], kind):
            raise ModelStateError
    return body


def _safe_blob_stem(package_name: str) -> str:
    stem = package_name[:-4] if package_name.lower().endswith(".zip") else package_name
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem)[:100] or "package"


class DmfService:
    """Exports, statuses and package URLs for one emulator process, backed by the shared store."""

    def __init__(
        self,
        *,
        config: EmulatorConfig,
        store: Store,
        dataset: Dataset,
        projects: Mapping[str, DataProject],
        blobs_dir: Path,
        sas_key: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.dataset = dataset
        self.projects = dict(projects)
        self.blobs_dir = blobs_dir
        self._sas_key = sas_key
        self._clock = _Clock(clock)
        self._building: set[str] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # -- actions -----------------------------------------------------------------------------

    def export_to_package(self, body: object) -> str:
        """ExportToPackage / ExportToPackageAsync: register the execution; returns its id."""
        args = require(body, _EXPORT_KEYS)
        group, package = str(args["definitionGroupId"]), str(args["packageName"])
        execution_id, legal = str(args["executionId"]), str(args["legalEntityId"])
        failure = (
            f"Export to package failed for definition group: {group}, package name: {package}, "
            f"execution id: {execution_id}, reExecute: {args['reExecute']}, legal entity: {legal}"
        )
        project = self.projects.get(group)
        if project is None and self.config.strict_project_check:
            raise DmfError(failure)
        company: str | None = None
        if project is not None and project.entity_def.company_specific:
            company = legal.upper()
            if company not in self.dataset.companies:
                raise DmfError(failure)
        now = self._clock.now()
        execution_id = execution_id or self._new_execution_id()
        outcome, errors = self._outcome(group, project)
        c = self.config
        visible = now + (0.0 if c.export_synchronous else c.not_visible_seconds)
        record = ExecutionRecord(
            execution_id=execution_id,
            project=group,
            entity=project.entity_def.name if project else None,
            company=company,
            package_name=package,
            blob_name=f"{_safe_blob_stem(package)}-{uuid.uuid4().hex[:12]}.zip" if project else None,
            outcome=outcome,
            errors=json.dumps(errors),
            snapshot_round=0,
            since_round=None,
            created_at=now,
            visible_at=visible,
            executing_at=visible + c.not_run_seconds,
            done_at=visible + c.not_run_seconds + c.executing_seconds,
            url_delay=c.package_url_delay_seconds,
        )
        try:
            stored = self.store.register_export(
                record,
                incremental=project is not None and project.refresh == "incremental",
                watermark_moves=c.watermark_moves,
                interval=c.activity_interval_seconds,
            )
        except ExecutionExistsError:
            status, detail = duplicate_id_answer(
                c.duplicate_id_answer, failure=failure, execution_id=execution_id
            )
            raise DmfError(detail, status=status) from None
        if outcome in _PACKAGE_OUTCOMES:
            self.ensure_built(stored)
        if c.export_synchronous:
            self._wait_until_done(execution_id)
        return execution_id

    def _wait_until_done(self, execution_id: str) -> None:
        """F&O's synchronous export: return only once the execution is final and its package built."""
        deadline = time.monotonic() + _SYNC_WAIT_LIMIT
        while time.monotonic() < deadline:
            record = self.store.get_execution(execution_id)
            if record is None:
                return
            built = record.built_at is not None or record.outcome not in _PACKAGE_OUTCOMES
            if built and self._clock.now() >= record.done_at:
                return
            time.sleep(0.05)

    def summary_status(self, body: object) -> str:
        """GetExecutionSummaryStatus: NotRun, Executing, then the outcome."""
        record = self._visible(body)
        now = self._clock.now()
        if now < record.executing_at:
            return "NotRun"
        if now < record.done_at:
            return "Executing"
        if record.outcome in _PACKAGE_OUTCOMES and record.built_at is None:
            self.ensure_built(record)
            return "Executing"
        return record.outcome

    def exported_package_url(self, body: object, *, blob_host: str) -> str:
        """GetExportedPackageUrl: ``""`` until the package is ready, then a fresh SAS URL."""
        record = self._visible(body)
        if record.outcome not in _PACKAGE_OUTCOMES or record.blob_name is None:
            return ""
        if record.built_at is None:
            self.ensure_built(record)
            return ""
        now = self._clock.now()
        if now < max(record.done_at, record.built_at) + record.url_delay:
            return ""
        if (
            now > record.created_at + self.config.retention_seconds
            and self.config.expired_package_url != "url"
        ):
            if self.config.expired_package_url == "empty":
                return ""  # the package is deleted: F&O may answer "" for ever, or an error
            raise DmfError(f"The package of execution id {record.execution_id} does not exist any more.")
        return sign_url(
            blob_host,
            record.blob_name,
            key=self._sas_key,
            lifetime_seconds=self.config.sas_lifetime_seconds,
            now=self._clock.utc(),
        )

    def execution_errors(self, body: object) -> str:
        """GetExecutionErrors: a JSON-encoded list of messages (``"[]"`` when none)."""
        record = self._visible(body)
        building = record.built_at is None and record.outcome in _PACKAGE_OUTCOMES
        if self._clock.now() < record.done_at or building:
            return "[]"
        return record.errors

    def summary_page_url(self, body: object, *, environment_url: str) -> str:
        """GetExecutionSummaryPageUrl: the execution summary form in the F&O UI."""
        record = self._visible(body)
        company = quote(record.company or self.dataset.companies[0])
        return (
            f"{environment_url}/?cmp={company}&mi=DMFExecutionSummaryList"
            f"&ExecutionId={quote(record.execution_id, safe='')}"
        )

    # -- execution lookup and outcome --------------------------------------------------------

    def _visible(self, body: object) -> ExecutionRecord:
        execution_id = str(require(body, {"executionId": str})["executionId"])
        record = self.store.get_execution(execution_id)
        now, history = self._clock.now(), self.config.history_retention_seconds
        if record is None or now < record.visible_at or now > record.created_at + history:  # cleaned up
            raise DmfError(f"Execution details were not found for execution id: {execution_id}")
        return record

    def _outcome(self, group: str, project: DataProject | None) -> tuple[str, list[str]]:
        if project is None:
            return "Failed", [f"Data project {group} was not found."]
        outcome = self.config.outcomes.get(group, "Succeeded")
        errors = list(self.config.outcome_errors.get(group, ()))
        if outcome not in ("Succeeded", "PartiallySucceeded") and not errors:
            label = project.entity_def.label
            errors = [f"Entity {label}: the export ended {outcome}. Results. Some records were not exported."]
        return outcome, errors

    def _new_execution_id(self) -> str:
        stamp = self._clock.utc().strftime("%m/%d/%Y %I:%M:%S %p").lower()
        return f"ExportPackage-{stamp}-{uuid.uuid4().hex[:8]}"

    # -- package building --------------------------------------------------------------------

    def blob_path(self, blob_name: str) -> Path:
        """Where a package blob is stored."""
        return self.blobs_dir / blob_name

    def ensure_built(self, record: ExecutionRecord) -> None:
        """Build the execution's package in a background thread unless built or being built."""
        if record.blob_name is None or record.built_at is not None:
            return
        with self._lock:
            if record.execution_id in self._building:
                return
            self._building.add(record.execution_id)
            thread = threading.Thread(
                target=self._build, args=(record.execution_id,), name=f"dmf-build-{record.execution_id}"
            )
            self._threads.append(thread)
        thread.start()

    def _build(self, execution_id: str) -> None:
        try:
            record = self.store.get_execution(execution_id)
            if record is None or record.blob_name is None:
                return
            self.blobs_dir.mkdir(parents=True, exist_ok=True)
            lock = FileLock(self.blobs_dir / f".{record.blob_name}.lock", timeout=0)
            try:
                lock.acquire()
            except Timeout:
                return  # another process builds it
            try:
                fresh = self.store.get_execution(execution_id)
                if fresh is None or fresh.built_at is not None:
                    return
                self._finish_build(fresh)
            finally:
                lock.release()
        except Exception:
            log.exception("building the package of execution %s failed", execution_id)
        finally:
            with self._lock:
                self._building.discard(execution_id)

    def _finish_build(self, record: ExecutionRecord) -> None:
        """Build the package, then record it built: Failed instead when its file is above the size
        limit (no package then); a PartiallySucceeded one's errors count the rows it left out."""
        assert record.blob_name is not None
        partial = record.outcome == "PartiallySucceeded"
        left_out = LeftOut(self.config.partial_failed_rows if partial else 0)
        count = self.build_package(record, left_out=left_out)
        outcome, errors = None, None
        too_large = oversize_errors(self.blob_path(record.blob_name), self.config.export_size_limit_bytes)
        if too_large is not None:
            self.blob_path(record.blob_name).unlink(missing_ok=True)
            outcome, errors = "Failed", too_large
        elif partial and record.errors == "[]":
            errors = partial_errors(find_entity(record.entity or "").label, left_out.left_out)
        self.store.mark_built(
            record.execution_id, row_count=count, built_at=self._clock.now(), outcome=outcome, errors=errors
        )

    def build_package(self, record: ExecutionRecord, *, left_out: LeftOut | None = None) -> int:
        """Write the package of ``record`` (its snapshot or delta) to the blob store; returns rows.

        ``left_out`` leaves the first rows out (and counts them), as a PartiallySucceeded export does.
        """
        project = self.projects[record.project]
        entity = find_entity(record.entity or project.entity)
        spec = PackageSpec(
            project=record.project,
            entity=entity,
            source_format=project.source_format,
            incremental=project.refresh == "incremental",
            layout=self.config.layout(entity),
            empty_form=self.config.empty_export,
        )
        assert spec.layout is not None
        raw = spec.layout.apply(
            self.dataset.raw_rows(
                entity, record.company, round_=record.snapshot_round, since=record.since_round
            )
            if record.project not in self.config.empty_projects
            else iter(())
        )
        if left_out is not None:
            raw = left_out.apply(raw)
        render = row_renderer(
            spec.layout.column_types, locale=project.locale, enum_labels=project.enum_labels
        )
        assert record.blob_name is not None
        return write_package(self.blob_path(record.blob_name), spec, render(raw))

    def purge_expired(self) -> int:
        """Delete package files older than the retention period (and stale temp files); returns count."""
        if not self.blobs_dir.is_dir():
            return 0
        cutoff = self._clock.now() - self.config.retention_seconds
        removed = 0
        for path in self.blobs_dir.iterdir():
            stale_tmp = path.name.endswith(".tmp") and path.stat().st_mtime < self._clock.now() - 3600
            if (path.suffix == ".zip" and path.stat().st_mtime < cutoff) or stale_tmp:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait for background package builds started by this process."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
            self._threads.clear()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
