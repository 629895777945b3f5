"""A recurring job's messages loaded into the Delta destination, exactly once (local folder lake).

The lake has no load ledger table: its commits carry the execution id, so a message that comes back
after its commit must be recognised from the table's history before anything is downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from d365_assets.emulator import Emulator, Fault
from d365_assets.lake import EXECUTION_KEY, DeltaLake, LakeConfig
from d365_assets.refresh import MessageOutcome, consume_message, ledger_id
from tests.support.environment import client_for
from tests.support.lake_tables import lake_rows, open_table
from tests.support.recurring import ACTIVITY, COMPANY, produce, recurring_config, recurring_entity
from tests.support.refreshing import spool_in
from tests.support.tables import source_rows


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emulator", recurring_config()) as emulator:
        yield emulator


def test_recurring_messages_load_into_the_lake_once_each(emu: Emulator, tmp_path: Path) -> None:
    config = LakeConfig(str(tmp_path / "lake"))
    lake = DeltaLake(config)
    entity = recurring_entity()
    ids = produce(emu, 2)
    emu.set_faults(Fault("deliver_twice"))  # the first message comes back after its ack

    outcomes: list[MessageOutcome] = []
    with client_for(emu) as client:
        while (message := client.recurring.dequeue(ACTIVITY)) is not None:
            outcomes.append(
                consume_message(
                    entity=entity, message=message, client=client, warehouse=lake, spool=spool_in(tmp_path)
                )
            )

    assert [o.message.correlation_id for o in outcomes] == [ids[0], ids[0], ids[1]]
    assert [o.already_applied for o in outcomes] == [False, True, False]
    assert outcomes[0].refresh.load.rows_inserted == 60
    history = open_table(config, entity.table_name).history()
    stamped = [entry[EXECUTION_KEY] for entry in history if EXECUTION_KEY in entry]
    loaded = (outcomes[0], outcomes[2])
    assert sorted(stamped) == sorted(ledger_id(o.message) for o in loaded)  # one commit each
    assert lake_rows(config, entity, COMPANY) == source_rows(emu, entity, COMPANY)
    assert emu.recurring_waiting(ACTIVITY) == 0
