"""Turn raw generated values into data-file text (per date style) or typed Python values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from functools import lru_cache

__all__ = ["DATE_STYLES", "row_renderer", "typed_row"]

DATE_STYLES = ("iso", "en-us")
_EMPTY_DATE = dt.date(1900, 1, 1)
_EMPTY_DATETIME = dt.datetime(1900, 1, 1)


def _decimal_text(micros: int) -> str:
    if micros >= 0:
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
    micros = -micros
    return f"-{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _noyes_text(value: bool) -> str:
    return "Yes" if value else "No"


def _us_clock(value: dt.datetime) -> str:
    hour = value.hour % 12 or 12
    half = "AM" if value.hour < 12 else "PM"
    return f"{value.month}/{value.day}/{value.year} {hour}:{value.minute:02d}:{value.second:02d} {half}"


@lru_cache(maxsize=8192)
def _iso_date(value: dt.date | None) -> str:
    return (value or _EMPTY_DATE).isoformat()


@lru_cache(maxsize=8192)
def _us_date(value: dt.date | None) -> str:
    return _us_clock(dt.datetime.combine(value or _EMPTY_DATE, dt.time()))


def _iso_datetime(value: dt.datetime | None) -> str:
    return (value or _EMPTY_DATETIME).isoformat(timespec="seconds")


def _us_datetime(value: dt.datetime | None) -> str:
    return _us_clock(value or _EMPTY_DATETIME)


def _formatters(date_style: str) -> dict[str, Callable[[object], str] | None]:
    if date_style not in DATE_STYLES:
        raise ValueError(f"unknown date style {date_style!r}; expected one of {DATE_STYLES}")
    iso = date_style == "iso"
    return {
        "string": None,
        "enum": None,
        "noyes": _noyes_text,
        "integer": str,
        "decimal": _decimal_text,
        "date": _iso_date if iso else _us_date,
        "datetime": _iso_datetime if iso else _us_datetime,
    }  # type: ignore[return-value]


def row_renderer(
    column_types: Iterable[str], *, date_style: str
) -> Callable[[Iterable[list[object]]], Iterator[list[str]]]:
    """A function that renders raw rows into the text fields F&O writes in a data file."""
    table = _formatters(date_style)
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
