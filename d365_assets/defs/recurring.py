"""Recurring export jobs: one sensor per job, and the entity asset's run that consumes one message.

A sensor dequeues one message when no run of its entity's refresh job is queued or in progress (so
messages load in queue order) and asks for a run of that job, for the job's company, carrying the
message in a run tag (nothing secret: the download location needs the bearer token), and when it was
first dequeued (by an earlier run of the same message, when it comes back). The run
(:func:`consume_recurring`) loads the message and acknowledges it after the commit; a full load
requested after that first dequeue supersedes it. After a failed run the sensor waits for F&O's
visibility timeout, so the failed message comes back first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import dagster as dg

from d365_assets.catalog import Catalog, EntityConfig
from d365_assets.defs.automation import HELD_LOAD_TAG
from d365_assets.defs.checks import evaluate_checks
from d365_assets.defs.metadata import D365MetadataSet, materialization_metadata
from d365_assets.defs.resources import D365Resource, WarehouseResource
from d365_assets.errors import D365AssetsError
from d365_assets.fo import DequeuedMessage
from d365_assets.package import EmptyEntityFileError
from d365_assets.refresh import consume_message
from d365_assets.warehouse import LoadGuard, RemovalHeldError

__all__ = [
    "FIRST_DEQUEUED_TAG",
    "RECURRING_JOB_TAG",
    "RECURRING_MESSAGE_TAG",
    "VISIBILITY_TIMEOUT",
    "build_recurring_sensors",
    "consume_recurring",
    "recurring_failure",
    "recurring_sensor_name",
]

RECURRING_MESSAGE_TAG = "d365/recurring_message"
"""Run tag carrying the dequeued message (its activity id and exact dequeue body, as JSON)."""
RECURRING_JOB_TAG = "d365/recurring_job"
"""Run tag naming the recurring job (its activity id) a run consumes a message of."""
CORRELATION_TAG = "d365/correlation_id"
FIRST_DEQUEUED_TAG = "d365/first_dequeued_at"
"""Run tag: when the message a run carries was first dequeued (ISO 8601, UTC), by this run's sensor
tick or, for a message that came back, by the first run that carried it."""
VISIBILITY_TIMEOUT = 1800.0
"""F&O hides a dequeued message for 30 minutes; unacknowledged, it comes back then."""
_BUSY = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
_UNACKNOWLEDGED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
"""How a message's run ends when it may not have acknowledged its message."""


def recurring_sensor_name(entity: EntityConfig) -> str:
    """The sensor of an entity's recurring job."""
    return f"d365_recurring_{entity.table_name}"


def build_recurring_sensors(
    catalog: Catalog, *, running: bool = True, pause_after_failure: float = VISIBILITY_TIMEOUT
) -> list[dg.SensorDefinition]:
    """One sensor per entity read from a recurring job; RUNNING or STOPPED as the schedules are."""
    status = dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED
    return [
        _sensor(entity, status=status, pause_after_failure=pause_after_failure)
        for entity in catalog.entities
        if entity.recurring_activity_id is not None
    ]


def _sensor(
    entity: EntityConfig, *, status: dg.DefaultSensorStatus, pause_after_failure: float
) -> dg.SensorDefinition:
    job_name = f"d365_refresh_{entity.table_name}"
    activity = str(entity.recurring_activity_id)

    @dg.sensor(
        name=recurring_sensor_name(entity),
        job_name=job_name,
        default_status=status,
        minimum_interval_seconds=30,
        description=f"Dequeues the messages of recurring job {activity} one at a time; each run of "
        f"{job_name} loads one into {entity.table_name} and acknowledges it after the commit.",
    )
    def _tick(context: dg.SensorEvaluationContext, d365: D365Resource) -> dg.SensorResult | dg.SkipReason:
        waiting = _why_wait(context.instance, job_name, activity, pause_after_failure)
        if waiting:
            return dg.SkipReason(waiting)
        with d365.get_client() as client:
            message = client.recurring.dequeue(activity)
        if message is None:
            return dg.SkipReason(f"the queue of recurring job {activity} is empty")
        first = _first_dequeued(context.instance, message.correlation_id, now=datetime.now(UTC))
        tags = {
            RECURRING_MESSAGE_TAG: message.to_json(),
            RECURRING_JOB_TAG: activity,
            CORRELATION_TAG: message.correlation_id,
            FIRST_DEQUEUED_TAG: first.isoformat(timespec="milliseconds"),
        }
        request = dg.RunRequest(
            run_key=message.delivery_key,
            partition_key=entity.recurring_company if entity.company_specific else None,
            tags=tags,
        )
        return dg.SensorResult(run_requests=[request])

    return _tick


def _first_dequeued(instance: dg.DagsterInstance, correlation_id: str, *, now: datetime) -> datetime:
    """When a message was first dequeued: ``now``, or the first run that carried it, if one did."""
    first = instance.get_run_records(
        dg.RunsFilter(tags={CORRELATION_TAG: correlation_id}),
        limit=1,
        order_by="create_timestamp",
        ascending=True,
    )
    if not first:
        return now
    run = first[0]
    noted = _first_dequeued_at(run.dagster_run.tags)
    if noted is not None:
        return min(now, datetime.fromtimestamp(noted, UTC))
    created = run.create_timestamp  # Dagster stores it in UTC
    return min(now, created if created.tzinfo else created.replace(tzinfo=UTC))


def _first_dequeued_at(tags: Mapping[str, str]) -> float | None:
    """The run's ``d365/first_dequeued_at`` as ``time.time()`` seconds; None when absent or unreadable."""
    value = tags.get(FIRST_DEQUEUED_TAG)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def _why_wait(instance: dg.DagsterInstance, job_name: str, activity: str, pause: float) -> str | None:
    """Why not to dequeue now: a run of the job is queued or running, or the last message's run failed."""
    if instance.get_run_records(dg.RunsFilter(job_name=job_name, statuses=_BUSY), limit=1):
        return f"a run of {job_name} is queued or in progress; messages load one at a time, in order"
    last = instance.get_run_records(
        dg.RunsFilter(job_name=job_name, tags={RECURRING_JOB_TAG: activity}), limit=1
    )
    if not last or last[0].dagster_run.status not in _UNACKNOWLEDGED:
        return None
    ended = last[0].end_time or 0.0
    resume = ended + pause
    if datetime.now(UTC).timestamp() >= resume:
        return None
    return (
        f"the last run of {job_name} ended {last[0].dagster_run.status.value.lower()} without "
        "acknowledging its message; waiting until "
        f"{datetime.fromtimestamp(resume, UTC):%H:%M:%S} UTC (F&O's visibility timeout), when it comes back"
    )


def consume_recurring(
    context: dg.AssetExecutionContext,
    *,
    entity: EntityConfig,
    carried: str,
    d365: D365Resource,
    warehouse: WarehouseResource,
    guard: LoadGuard,
) -> dg.MaterializeResult:
    """The run of one dequeued message: load it, acknowledge it, report it.

    ``guard`` accepts a held-back load when the run has ``d365/held_load=accept`` (re-execute the
    failed run with that tag before the message comes back: it still carries the message).
    """
    message = DequeuedMessage.from_json(carried)
    company = context.partition_key if entity.company_specific else None
    if company is not None and company != entity.recurring_company:
        raise dg.Failure(
            f"this run carries a message of {entity.name}'s recurring job, which exports "
            f"{entity.recurring_company}, but runs partition {company}; launch it from the sensor"
        )
    with d365.get_client() as client:
        outcome = consume_message(
            entity=entity,
            message=message,
            client=client,
            warehouse=warehouse.get_warehouse(),
            spool=warehouse.get_spool(environment=d365.environment_identity),
            guard=guard,
            first_dequeued_at=_first_dequeued_at(context.run.tags),
        )
    for warning in outcome.refresh.warnings:
        context.log.warning(f"{entity.name} {company or ''}: {warning}")
    details = D365MetadataSet(
        correlation_id=message.correlation_id,
        message_status=outcome.message_status,
        message_redelivered=message.redelivered,
        message_already_loaded=outcome.already_applied,
        message_superseded=outcome.superseded,
    )
    metadata = materialization_metadata(
        outcome.refresh, destination=warehouse.get_warehouse(), summary_link=False
    )
    return dg.MaterializeResult(
        asset_key=context.asset_key,
        metadata={**metadata, **details},
        check_results=evaluate_checks(outcome.refresh),
    )


def recurring_failure(exc: D365AssetsError) -> dg.Failure:
    """The failure of a message's run: what happened, and for a held-back load how to accept it."""
    hint = ""
    if isinstance(exc, RemovalHeldError | EmptyEntityFileError):
        hint = (
            f" To apply it once, re-execute this run (it carries the message) with the run tag "
            f"{HELD_LOAD_TAG}=accept; the message is not acknowledged, so it also comes back after F&O's "
            "visibility timeout (30 minutes) and is held again until accepted."
        )
    return dg.Failure(description=f"{type(exc).__name__}: {exc}{hint}")


def recurring_message(tags: Mapping[str, str]) -> str | None:
    """The message a run carries (its ``d365/recurring_message`` tag), or None."""
    return tags.get(RECURRING_MESSAGE_TAG)
