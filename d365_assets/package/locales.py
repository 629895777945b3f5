"""How a data project's locale writes dates and numbers, and reading exactly that back.

F&O renders the dates and numbers of an export by the language locale of the data project's source
data format. The catalog declares it per entity (:class:`d365_assets.schema.Locale`), and each locale
reads its own forms only:

============  =====================================  ==========================
locale        dates and datetimes                    decimals (and integers)
============  =====================================  ==========================
``ISO``       ``2026-03-01``, ``2026-03-01T14:05:00``  ``1234.56``
``en-US``     ``3/1/2026``, ``3/1/2026 2:05:00 PM``    ``1234.56``, ``1,234.56``
``en-GB``     ``01/03/2026``, ``01/03/2026 14:05:00``  ``1234.56``, ``1,234.56``
``de-DE``     ``01.03.2026``, ``01.03.2026 14:05:00``  ``1234,56``, ``1.234,56``
none          ISO, or en-US with its AM/PM clock     ``1234.56``
============  =====================================  ==========================

ISO 8601 dates are read under every locale: no locale writes a date that way, so one cannot be
misread (an Excel cell typed as a date arrives in that form too). Times may leave out the seconds
and carry a fraction. A thousands separator is taken only in its places (``1,234,567.5``, never
``1,23.4``). Without a declared locale, a slash date without the en-US clock (``01/03/2026``: January
3 in en-US, 1 March in en-GB) is refused, never guessed, and so is any grouping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import polars as pl

from d365_assets.schema import ColumnType, Locale

__all__ = ["ValueFormat", "locales_fitting", "value_format"]

_ISO_YEAR = r"\+?\d{4}-"
_ISO = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d", "%Y-%m-%d %H:%M")
"""Tried on ISO text whose ``T`` became a space and whose ``Z`` was dropped."""
_US_CLOCK = ("%m/%d/%Y %I:%M:%S%.f %p", "%m/%d/%Y %I:%M %p")
_US_DATE = ("%m/%d/%Y",)


def _day_first(separator: str) -> tuple[str, ...]:
    return tuple(f"%d{separator}%m{separator}%Y{time}" for time in (" %H:%M:%S%.f", " %H:%M", ""))


def _slash_year(separator: str) -> str:
    """The year of a ``d<sep>m<sep>yyyy`` (or month-first) date, written with 4 digits."""
    sep = re.escape(separator)
    return rf"\d{{1,2}}{sep}\d{{1,2}}{sep}\+?\d{{4}}(\s|$)"


@dataclass(frozen=True)
class ValueFormat:
    """The forms of dates and numbers one locale writes, and how to read them."""

    name: str
    """The locale as the catalog writes it; ``undeclared`` when none is declared."""
    form: str
    """The forms, for messages (``the en-GB form``)."""
    date_formats: tuple[str, ...]
    """polars ``strptime`` formats tried in order (the locale's own first, then ISO)."""
    year_pattern: str
    """Matches the start of every accepted date whose year is written with 4 digits."""
    decimal_point: str
    group: str | None
    """The thousands separator the locale may write; None: none is accepted."""
    examples: tuple[str, str, str]
    """A date, a datetime and a decimal as the locale writes them, for messages."""
    arrow_dates: bool
    """Dates are mostly ISO: the CSV parser's own ISO 8601 parser types them while parsing."""

    @property
    def plain_numbers(self) -> bool:
        """Numbers are ``1234.56``: a plain cast reads them exactly."""
        return self.decimal_point == "." and self.group is None

    def expected(self, kind: ColumnType) -> str:
        """What a value of ``kind`` must look like, for messages."""
        date, datetime, decimal = self.examples
        if kind is ColumnType.DECIMAL:
            return f"a decimal in {self.form} (at most 6 places, 26 digits before the point), e.g. {decimal}"
        if kind is ColumnType.INTEGER:
            return f"a whole number in {self.form}"
        what = "a date" if kind is ColumnType.DATE else "a date and time"
        return f"{what} in {self.form}, e.g. {date if kind is ColumnType.DATE else datetime}"

    def parse_datetime(self, value: pl.Series) -> pl.Series:
        """``value`` (stripped text) as datetimes; NULL where no accepted form fits."""
        iso = value.str.replace(r"^(\d{4}-\d{2}-\d{2})T", "$1 ").str.replace(r"(?i)Z$", "")
        present = value != ""
        result: pl.Series | None = None
        for fmt in self.date_formats:
            parsed = iso.str.to_datetime(fmt, strict=False, exact=True, time_unit="us")
            result = parsed if result is None else result.fill_null(parsed)
            if not (present & result.is_null()).any():
                break
        assert result is not None
        return result

    def number_text(self, value: pl.Series, *, places: int | None) -> pl.Series:
        """``value`` (stripped text) rewritten as plain ``1234.56`` where it is a number in this form.

        ``places`` None: a whole number; else at most that many decimal places. NULL where the
        value is not in the form.
        """
        matches = value.str.contains(_number_pattern(self.decimal_point, self.group, places))
        plain = value
        if self.group is not None:
            plain = plain.str.replace_all(self.group, "", literal=True)
        if self.decimal_point != ".":
            plain = plain.str.replace(self.decimal_point, ".", literal=True)
        return pl.select(pl.when(pl.lit(matches.fill_null(False))).then(pl.lit(plain))).to_series()


@cache
def _number_pattern(point: str, group: str | None, places: int | None) -> str:
    """A number with ``point`` before at most ``places`` decimals (None: whole), ``group`` in its places."""
    whole = r"\d+" if group is None else rf"(\d{{1,3}}({re.escape(group)}\d{{3}})+|\d+)"
    if places is None:
        return rf"^[+-]?{whole}$"
    point = re.escape(point)
    return rf"^[+-]?({whole}({point}\d{{0,{places}}})?|{point}\d{{1,{places}}})$"


_SLASH_YEAR = rf"^({_ISO_YEAR}|{_slash_year('/')})"
_FORMATS = {
    Locale.ISO: ValueFormat(
        name="ISO",
        form="the ISO form",
        date_formats=_ISO,
        year_pattern=rf"^{_ISO_YEAR}",
        decimal_point=".",
        group=None,
        examples=("2026-03-01", "2026-03-01T14:05:00", "1234.56"),
        arrow_dates=True,
    ),
    Locale.EN_US: ValueFormat(
        name="en-US",
        form="the en-US form",
        date_formats=_US_CLOCK + _US_DATE + _ISO,
        year_pattern=_SLASH_YEAR,
        decimal_point=".",
        group=",",
        examples=("3/1/2026 12:00:00 AM", "3/1/2026 2:05:00 PM", "1234.56"),
        arrow_dates=False,
    ),
    Locale.EN_GB: ValueFormat(
        name="en-GB",
        form="the en-GB form",
        date_formats=_day_first("/") + _ISO,
        year_pattern=_SLASH_YEAR,
        decimal_point=".",
        group=",",
        examples=("01/03/2026 00:00:00", "01/03/2026 14:05:00", "1234.56"),
        arrow_dates=False,
    ),
    Locale.DE_DE: ValueFormat(
        name="de-DE",
        form="the de-DE form",
        date_formats=_day_first(".") + _ISO,
        year_pattern=rf"^({_ISO_YEAR}|{_slash_year('.')})",
        decimal_point=",",
        group=".",
        examples=("01.03.2026 00:00:00", "01.03.2026 14:05:00", "1234,56"),
        arrow_dates=False,
    ),
}
_UNDECLARED = ValueFormat(
    name="undeclared",
    form="the ISO form, or the en-US form with its AM/PM clock (the catalog declares no locale)",
    date_formats=_ISO + _US_CLOCK,
    year_pattern=_SLASH_YEAR,
    decimal_point=".",
    group=None,
    examples=("2026-03-01 or 3/1/2026 12:00:00 AM", "2026-03-01T14:05:00 or 3/1/2026 2:05:00 PM", "1234.56"),
    arrow_dates=True,
)


def value_format(locale: Locale | str | None) -> ValueFormat:
    """The forms ``locale`` writes; None: no locale declared (ISO, or en-US with its clock)."""
    if locale is None:
        return _UNDECLARED
    try:
        return _FORMATS[Locale(locale)]
    except ValueError:
        raise ValueError(
            f"unknown locale {locale!r}; known: {', '.join(Locale)} (or None for ISO or en-US)"
        ) from None


def locales_fitting(value: str, kind: ColumnType) -> list[str]:
    """The locales under which ``value``, refused as a ``kind``, reads: a hint for the message."""
    series = pl.Series([value.strip()], dtype=pl.String)
    fitting = []
    for locale, fmt in _FORMATS.items():
        if kind in (ColumnType.DATE, ColumnType.DATETIME):
            parsed = fmt.parse_datetime(series).is_not_null() & series.str.contains(fmt.year_pattern)
        elif kind in (ColumnType.DECIMAL, ColumnType.INTEGER):
            parsed = fmt.number_text(series, places=6 if kind is ColumnType.DECIMAL else None).is_not_null()
        else:
            continue
        if parsed.all():
            fitting.append(locale.value)
    return fitting
