"""Turn raw generated values into data-file text (per locale) or typed Python values.

F&O writes dates and numbers by the language locale of the data project's source data format. The
emulator plays these locales, one per data project (``locale`` in ``projects.yaml``): dates,
datetimes and decimals as

- ``ISO``: ``2026-03-01``, ``2026-03-01T14:05:00``, ``-1234.500000``;
- ``en-US``: ``3/1/2026 12:00:00 AM``, ``3/1/2026 2:05:00 PM``, ``-1234.500000``;
- ``en-GB``: ``01/03/2026 00:00:00``, ``01/03/2026 14:05:00``, ``-1234.500000``;
- ``de-DE``: ``01.03.2026 00:00:00``, ``01.03.2026 14:05:00``, ``-1.234,500000``.

Enums are written as their symbol (``ProductMaster``), or as their label (``Product master``) for a
project whose mapping uses enum labels (``enum_labels``); NoYes as ``Yes``/``No`` in every locale;
integers ungrouped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from functools import lru_cache

__all__ = ["LOCALES", "row_renderer", "typed_row"]

LOCALES = ("ISO", "en-US", "en-GB", "de-DE")
_EMPTY_DATE = dt.date(1900, 1, 1)
_EMPTY_DATETIME = dt.datetime(1900, 1, 1)

Formatter = Callable[[object], str]


def _decimal_text(micros: int) -> str:
    if micros >= 0:
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
    micros = -micros
    return f"-{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _german_decimal(micros: int) -> str:
    """``-1.234,500000``: a comma before the places, a point between thousands."""
    sign = "-" if micros < 0 else ""
    whole, places = divmod(abs(micros), 1_000_000)
    return f"{sign}{whole:,}".replace(",", ".") + f",{places:06d}"


@lru_cache(maxsize=1024)
def _enum_label(symbol: str) -> str:
    """The en-us label of an enum symbol: its words apart (``ProductMaster`` -> ``Product master``)."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", symbol)
    return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else symbol


def _noyes_text(value: bool) -> str:
    return "Yes" if value else "No"


def _us_clock(value: dt.datetime) -> str:
    hour = value.hour % 12 or 12
    half = "AM" if value.hour < 12 else "PM"
    return f"{value.month}/{value.day}/{value.year} {hour}:{value.minute:02d}:{value.second:02d} {half}"


def _day_first(separator: str) -> Callable[[dt.datetime], str]:
    def render(value: dt.datetime) -> str:
        day = f"{value.day:02d}{separator}{value.month:02d}{separator}{value.year:04d}"
        return f"{day} {value.hour:02d}:{value.minute:02d}:{value.second:02d}"

    return render


@lru_cache(maxsize=8192)
def _iso_date(value: dt.date | None) -> str:
    return (value or _EMPTY_DATE).isoformat()


def _iso_datetime(value: dt.datetime | None) -> str:
    return (value or _EMPTY_DATETIME).isoformat(timespec="seconds")


_CLOCKS: dict[str, Callable[[dt.datetime], str]] = {
    "en-US": _us_clock,
    "en-GB": _day_first("/"),
    "de-DE": _day_first("."),
}


def _dates(locale: str) -> tuple[Formatter, Formatter]:
    """The date and datetime formatters of ``locale``; outside ISO a date carries a midnight time."""
    if locale == "ISO":
        return _iso_date, _iso_datetime  # type: ignore[return-value]
    clock = _CLOCKS[locale]

    @lru_cache(maxsize=8192)
    def date(value: dt.date | None) -> str:
        return clock(dt.datetime.combine(value or _EMPTY_DATE, dt.time()))

    def datetime(value: dt.datetime | None) -> str:
        return clock(value or _EMPTY_DATETIME)

    return date, datetime  # type: ignore[return-value]


def _formatters(locale: str, *, enum_labels: bool) -> dict[str, Formatter | None]:
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}; expected one of {LOCALES}")
    date, datetime = _dates(locale)
    return {
        "string": None,
        "enum": _enum_label if enum_labels else None,  # type: ignore[dict-item]
        "noyes": _noyes_text,  # type: ignore[dict-item]
        "integer": str,
        "decimal": _german_decimal if locale == "de-DE" else _decimal_text,  # type: ignore[dict-item]
        "date": date,
        "datetime": datetime,
    }


def row_renderer(
    column_types: Iterable[str], *, locale: str, enum_labels: bool = False
) -> Callable[[Iterable[list[object]]], Iterator[list[str]]]:
    """A function that renders raw rows into the text fields F&O writes in a data file."""
    table = _formatters(locale, enum_labels=enum_labels)
    fmts = [table[kind] for kind in column_types]
    plan = [(pos, f) for pos, f in enumerate(fmts) if f is not None]

    def render(rows: Iterable[list[object]]) -> Iterator[list[str]]:
        for row in rows:
            for pos, f in plan:
                row[pos] = f(row[pos])
            yield row  # type: ignore[misc]

    return render


_SIX = Decimal(1).scaleb(-6)


def typed_row(column_types: Iterable[str], raw: list[object]) -> list[object]:
    """Convert a raw row into typed values (``Decimal`` with 6 places for decimals)."""
    out: list[object] = []
    for kind, value in zip(column_types, raw, strict=True):
        if kind == "decimal":
            out.append(Decimal(value).scaleb(-6).quantize(_SIX))  # type: ignore[arg-type]
        else:
            out.append(value)
    return out
