"""A recurring export job on the emulator, the catalog entity it loads, and its messages consumed.

The job exports the change-tracked data project of sales order headers for USMF: its first package
holds every row, the later ones the changes since the one before. The emulator hides a dequeued
message for :data:`QUICK_VISIBILITY` seconds (F&O: 30 minutes) and deletes nothing (DMF deltas carry
no deletes), so the table can equal the emulator's source after the deltas.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from d365_assets.catalog import EntityConfig
from d365_assets.emulator import Emulator, EmulatorConfig, RecurringJob
from d365_assets.fo import D365Client, DequeuedMessage
from d365_assets.refresh import MessageOutcome, consume_message
from tests.support.catalog import catalog_entity, catalog_of
from tests.support.environment import QUICK_LIFECYCLE
from tests.support.refreshing import spool_in, warehouse_in

__all__ = [
    "ACTIVITY",
    "COMPANY",
    "ENTITY",
    "PROJECT",
    "QUICK_VISIBILITY",
    "consume",
    "consume_next",
    "produce",
    "recurring_catalog",
    "recurring_config",
    "recurring_entity",
]

ACTIVITY = "6d31e09f-1a2b-4c3d-8e9f-0123456789ab"
"""The recurring job's activity id (its GUID on Manage scheduled data jobs)."""
ENTITY = "SalesOrderHeadersV2"
PROJECT = "D365A-SalesOrderHeadersV2"
COMPANY = "USMF"
QUICK_VISIBILITY = 1.0
"""Seconds a dequeued message stays hidden in these tests."""


def recurring_config(**changes: Any) -> EmulatorConfig:
    """An emulator with the recurring job, small data, no deletes and a quick visibility timeout."""
    values: dict[str, Any] = {
        "rows": {ENTITY: 60},
        "delete_rate": 0.0,
        "recurring_jobs": (RecurringJob(ACTIVITY, PROJECT, COMPANY),),
        "recurring_visibility_seconds": QUICK_VISIBILITY,
        **QUICK_LIFECYCLE,
    }
    return EmulatorConfig(**{**values, **changes})


def recurring_entity() -> EntityConfig:
    """The shipped catalog's sales order headers, read from the recurring job."""
    return dataclasses.replace(
        catalog_entity(ENTITY), recurring_activity_id=ACTIVITY, recurring_company=COMPANY
    )


def recurring_catalog(folder: Path) -> Path:
    """``folder/catalog.yaml``: the shipped sales order headers only, read from the recurring job."""
    path = folder / "catalog.yaml"

    def read_from_job(entry: dict[str, Any]) -> None:
        entry.update(recurring_activity_id=ACTIVITY.upper(), recurring_company=COMPANY)

    catalog_of(path, [ENTITY], change=read_from_job)
    return path


def produce(emulator: Emulator, messages: int) -> list[str]:
    """Run the job ``messages`` times with business activity in between; the messages' ids in order."""
    ids = []
    for index in range(messages):
        if index:
            emulator.advance_activity(1)
        ids.append(emulator.run_recurring_job(ACTIVITY))
    return ids


def consume(client: D365Client, folder: Path, message: DequeuedMessage, **options: Any) -> MessageOutcome:
    """Consume ``message`` into ``folder``'s warehouse (``options`` go to :func:`consume_message`)."""
    return consume_message(
        entity=recurring_entity(),
        message=message,
        client=client,
        warehouse=warehouse_in(folder),
        spool=spool_in(folder),
        **options,
    )


def consume_next(client: D365Client, folder: Path, **options: Any) -> MessageOutcome | None:
    """Dequeue the job's next message and consume it into ``folder``'s warehouse; None when empty."""
    message = client.recurring.dequeue(ACTIVITY)
    return None if message is None else consume(client, folder, message, **options)
