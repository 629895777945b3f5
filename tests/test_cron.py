"""Cron expressions: what the catalog accepts, Dagster's schedules accept; what never fires is refused."""

from __future__ import annotations

import random

import dagster as dg
import pytest

from d365_assets.catalog.cron import CronError, check_cron


def _dagster_accepts(cron: str) -> bool:
    try:
        dg.ScheduleDefinition(name="probe", job_name="probe", cron_schedule=cron)
    except dg.DagsterInvalidDefinitionError:
        return False
    return True


def test_every_cron_the_catalog_accepts_dagster_accepts() -> None:
    tokens = [
        *("*", "*/15", "*/0", "*/59", "*/60", "*/7", "0", "1", "7", "8", "12", "13", "23", "24", "29", "30"),
        *("31", "32", "59", "60", "01", "007", "5-10", "10-5", "5-10/2", "5/15", "1-31/31", "0-7", "1-12/3"),
        *("jan", "FEB", "dec", "jan-mar", "dec-jan", "mon", "sun-sat", "sat-sun", "mon-fri", "MON,wed"),
        *("L", "?", "1#2", "H", "-1", "1,,2", "1,2,3", "a", "*/100", "2/0", "@daily"),
    ]
    crons = {" ".join(t if i == at else "0" for i in range(5)) for t in tokens for at in range(5)}
    crons |= {f"0 0 {day} {month} {week}" for day in tokens for month in tokens for week in ("*", "1")}
    known_good = {"0 2 * * *", "*/15 * * * *", "30 4 * * mon-fri", "0 0 29 feb *", "0 0 1 jan,jul *"}
    crons |= known_good
    rng = random.Random(8)
    crons |= {" ".join(rng.choice(tokens) for _ in range(5)) for _ in range(2000)}
    accepted = set()
    for cron in sorted(crons):
        try:
            check_cron(cron)
        except CronError:
            continue
        accepted.add(cron)
    assert known_good <= accepted
    assert len(accepted) > 500
    assert [cron for cron in sorted(accepted) if not _dagster_accepts(cron)] == []


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("99 99 * * *", "the minute 99 is outside 0-59"),
        ("0 24 * * *", "the hour 24 is outside 0-23"),
        ("0 0 30 2 *", "it never fires: none of its days of the month exists in any of its months"),
        (
            "0 0 * * sat-sun",
            "the day of week range 'sat-sun' runs backwards; write it as two ranges or a list",
        ),
        ("*/0 * * * *", "the minute step /0 is outside 1-59"),
        ("0 0 L * *", "the day of month field has 'L', which is not a number or a name"),
        ("@daily", "it has 1 field instead of 5"),
        (None, "it is not text"),
    ],
)
def test_refused_cron_says_what_is_wrong(cron: object, problem: str) -> None:
    with pytest.raises(CronError) as raised:
        check_cron(cron)
    assert str(raised.value) == problem
