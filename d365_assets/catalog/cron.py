"""Checking five-field cron expressions without importing Dagster.

The catalog's crons become Dagster schedules, but the catalog knows nothing of Dagster, and Dagster's
own check (``is_valid_cron_string`` over its vendored croniter) lives inside the ``dagster`` package,
which cannot be imported without importing all of Dagster. So the catalog checks its crons here, with
a deliberately narrow grammar: every expression this module accepts, Dagster accepts too
(``tests/test_catalog.py`` compares the two), and it also refuses what Dagster lets through but
never fires (``0 0 31 4 *``: there is no 31 April).

The grammar, per field: ``*``, a value, a range ``a-b`` (a <= b), each optionally with a step
``/n``, or a comma-separated list of those. Months and weekdays may be written as names
(``jan``..``dec``, ``sun``..``sat``, any case); weekday 7 is Sunday, like 0. Extensions such as
``L``, ``W``, ``#``, ``?`` and ``@daily`` are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from d365_assets.errors import D365AssetsError

__all__ = ["CRON_SYNTAX", "CronError", "check_cron"]

CRON_SYNTAX = (
    "write five fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or jan-dec), "
    "day of week (0-7 or sun-sat); each *, a value, a range a-b, a step */n or a-b/n, or a list "
    'of those separated by commas; e.g. "0 2 * * *" (02:00 daily) or "30 4 * * mon-fri"'
)
"""What a valid expression looks like, for error messages."""


class CronError(D365AssetsError):
    """A cron expression outside the grammar, out of range, or one that never fires."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    """Names for the values ``low``, ``low + 1``, ... (months and weekdays)."""

    def value(self, token: str) -> int:
        if token.isdigit() and len(token) <= 2:
            number = int(token)
        elif token.lower() in self.names:
            number = self.low + self.names.index(token.lower())
        else:
            raise CronError(f"the {self.name} field has {token!r}, which is not a number or a name")
        if not self.low <= number <= self.high:
            raise CronError(f"the {self.name} {number} is outside {self.low}-{self.high}")
        return number


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field(
        "month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    ),
    _Field("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_ITEM = re.compile(r"^(?P<span>\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>[0-9]+))?$")
_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
"""Days of each month in the longest year (February of a leap year)."""


def check_cron(expression: object) -> None:
    """Raise :class:`CronError` (saying what is wrong) unless ``expression`` is a valid cron that fires."""
    if not isinstance(expression, str):
        raise CronError("it is not text")
    fields = expression.split()
    if len(fields) != len(_FIELDS):
        raise CronError(f"it has {len(fields)} field{'' if len(fields) == 1 else 's'} instead of 5")
    values = [_expand(text, field) for text, field in zip(fields, _FIELDS, strict=True)]
    days, months = values[2], values[3]
    if fields[2] != "*" and not any(day <= _LONGEST_MONTH[month - 1] for day in days for month in months):
        raise CronError("it never fires: none of its days of the month exists in any of its months")


def _expand(text: str, field: _Field) -> set[int]:
    """The values of one field; raises :class:`CronError` naming the field."""
    result: set[int] = set()
    for item in text.split(","):
        match = _ITEM.match(item)
        if not match:
            raise CronError(
                f"the {field.name} field has {item!r}, which is not *, a value, a range or a step"
            )
        span, step_text = match["span"], match["step"]
        if span == "*":
            low, high = field.low, field.high
        elif "-" in span:
            low, high = (field.value(token) for token in span.split("-"))
            if low > high:
                raise CronError(
                    f"the {field.name} range {span!r} runs backwards; write it as two ranges or a list"
                )
        else:
            low = field.value(span)
            high = field.high if step_text else low
        result.update(range(low, high + 1, _step(step_text, field)))
    return result


def _step(text: str | None, field: _Field) -> int:
    """The step of an item (1 when it has none)."""
    if text is None:
        return 1
    if len(text) > 2 or not 1 <= int(text) <= field.high:
        raise CronError(f"the {field.name} step /{text} is outside 1-{field.high}")
    return int(text)
