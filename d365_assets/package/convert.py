"""Typing text columns by an explicit :class:`EntitySchema`: never inferred, never silently NULL.

Every field arrives as text. Text and enum columns stay as written (an empty field stays ``""``).
Other columns: an empty field becomes NULL; anything that does not parse raises
:class:`PackageValueError` naming the entity, column, 1-based data row and value.

Two paths share these semantics. :func:`convert_frame` types text columns (Excel, XML, and any
delimited column the fast path gave up on). The delimited fast path lets the CSV parser type NoYes,
date and datetime columns itself (:func:`arrow_read_types`, :data:`ARROW_CONVERT`) and finishes with
:func:`finish_frame`: cheap casts plus checks; a column whose values are not all in the common
forms is handed to :func:`convert_frame`'s per-column converter, which accepts the rarer forms or
raises the exact error.

Dates and numbers are read in the forms of the data project's locale (:mod:`.locales`): exactly
those, so a day and a month are never swapped and ``1.234`` is never taken for ``1234`` (or the
reverse). An enum column that knows its members (typed from F&O's ``$metadata``) takes only those.

A date's year must be written with 4 digits: ``3/1/26`` is refused, not read as the year 26. The
CSV parser's ``%Y`` takes fewer digits, so a parsed date before the year 1000 sends its column back
to be read as text (:class:`ConversionFailed`), where the converter checks the digits.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from d365_assets.schema import Column, ColumnType, EntitySchema

from .delimited import ConversionFailed
from .errors import PackageValueError
from .locales import ValueFormat, locales_fitting, value_format

__all__ = [
    "ARROW_CONVERT",
    "DECIMAL_DTYPE",
    "arrow_read_types",
    "convert_frame",
    "empty_frame",
    "finish_frame",
    "polars_dtype",
]

DECIMAL_DTYPE = pl.Decimal(32, 6)
_EMPTY_DATE = dt.date(1900, 1, 1)
_YEAR_1000 = dt.datetime(1000, 1, 1)
_DTYPES: dict[ColumnType, pl.DataType] = {
    ColumnType.STRING: pl.String(),
    ColumnType.ENUM: pl.String(),
    ColumnType.NOYES: pl.Boolean(),
    ColumnType.INTEGER: pl.Int64(),
    ColumnType.DECIMAL: DECIMAL_DTYPE,
    ColumnType.DATE: pl.Date(),
    ColumnType.DATETIME: pl.Datetime("us"),
}
_NOYES = {"yes": True, "no": False, "1": True, "0": False, "true": True, "false": False}
_ARROW_TRUE = ["Yes", "yes", "YES", "1", "true", "True", "TRUE"]
_ARROW_FALSE = ["No", "no", "NO", "0", "false", "False", "FALSE"]
_ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.NOYES: pa.bool_(),
    ColumnType.DATE: pa.timestamp("us"),
    ColumnType.DATETIME: pa.timestamp("us"),
}
ARROW_CONVERT = {
    "true_values": _ARROW_TRUE,
    "false_values": _ARROW_FALSE,
    "null_values": [""],
    # Only ISO 8601, which Arrow checks whole: its strptime parsers take February 30 for March 2.
    # Arrow's parser also takes the reduced-precision form 2026-03-01T14 (14:00), which the text
    # converter rejects.
    "timestamp_parsers": [pacsv.ISO8601],
}
"""Keyword arguments of :class:`pyarrow.csv.ConvertOptions` for the types of :func:`arrow_read_types`."""
_SHORT_YEAR = (
    "has no 4-digit year: a 4-digit year is required; set the regional settings (language locale) of "
    "the data project's source data format in F&O to write 4-digit years (en-us does), or ISO 8601 dates"
)
_UNDECLARED = value_format(None)
_CAST = (ColumnType.INTEGER, ColumnType.DECIMAL)
"""The types :func:`_fast` reads by a cast that turns what it cannot read into NULL."""
_PLAIN_DECIMAL = (
    rf"^[+-]?([0-9]{{1,{DECIMAL_DTYPE.precision - DECIMAL_DTYPE.scale}}}(\.[0-9]{{0,{DECIMAL_DTYPE.scale}}})?"
    rf"|\.[0-9]{{1,{DECIMAL_DTYPE.scale}}})$"
)
"""A decimal the cheap cast reads exactly: ASCII digits, a point, at most the type's places and digits."""


def polars_dtype(kind: ColumnType) -> pl.DataType:
    """The polars type a column of logical type ``kind`` is read as."""
    return _DTYPES[kind]


def empty_frame(schema: EntitySchema) -> pl.DataFrame:
    """A zero-row frame with the schema's names and types."""
    return pl.DataFrame(schema={c.name: polars_dtype(c.type) for c in schema})


def convert_frame(
    text: pl.DataFrame,
    schema: EntitySchema,
    *,
    entity: str,
    first_row: int,
    values: ValueFormat = _UNDECLARED,
) -> pl.DataFrame:
    """Convert ``text`` (String columns named as in ``schema``) to the schema's types.

    ``first_row`` is the data row number of ``text``'s first row (1-based), for error messages;
    ``values`` the forms of the data project's locale.
    """
    return pl.DataFrame([_convert(text.get_column(c.name), c, entity, first_row, values) for c in schema])


def arrow_read_types(
    schema: EntitySchema, *, text: frozenset[str] = frozenset(), values: ValueFormat = _UNDECLARED
) -> dict[str, pa.DataType]:
    """The type the CSV parser reads each column as: NoYes and (ISO) dates typed, the rest text.

    Columns named in ``text`` are read as text (the parser rejected one of their values before);
    dates are too when the locale does not write them in ISO form.
    """
    types = dict(_ARROW_TYPES)
    if not values.arrow_dates:
        del types[ColumnType.DATE], types[ColumnType.DATETIME]
    return {c.name: pa.string() if c.name in text else types.get(c.type, pa.string()) for c in schema}


def finish_frame(
    frame: pl.DataFrame,
    schema: EntitySchema,
    *,
    text: frozenset[str],
    entity: str,
    first_row: int,
    values: ValueFormat = _UNDECLARED,
) -> pl.DataFrame:
    """Type ``frame``, read with :func:`arrow_read_types` (``text`` as given there), to ``schema``.

    Integers and decimals get a strict cast; a column with any value outside the common forms goes
    through the per-column converter, which takes the rarer forms (surrounding blanks, ``true``)
    or raises :class:`PackageValueError` for the first bad value.
    """
    read_as = arrow_read_types(schema, text=text, values=values)
    parsed = [c for c in schema if read_as[c.name] != pa.string()]
    _check_years(frame, [c for c in parsed if c.type is not ColumnType.NOYES])
    suspects = [c for c in schema if c not in parsed and _may_be_suspect(c)]
    typed = frame.select([_fast(c, parsed=c in parsed) for c in schema])
    if suspects:
        slow = [
            _convert(frame.get_column(c.name), c, entity, first_row, values)
            for c in _slow_columns(frame, typed, suspects, values)
        ]
        if slow:
            typed = typed.with_columns(slow)
    return typed


def _slow_columns(
    frame: pl.DataFrame, typed: pl.DataFrame, suspects: list[Column], values: ValueFormat
) -> list[Column]:
    """The text-read columns the per-column converter must type: any value :func:`_suspect`, or a
    number the cheap cast made NULL though it was not empty (the cast must never lose a value)."""
    counted = frame.select(
        [_suspect(c, values).sum().alias(f"suspect {i}") for i, c in enumerate(suspects)]
        + [(pl.col(c.name) == "").sum().alias(f"empty {i}") for i, c in enumerate(suspects)]
    ).row(0)
    flagged, empty = counted[: len(suspects)], counted[len(suspects) :]
    return [
        column
        for column, n, blank in zip(suspects, flagged, empty, strict=True)
        if n or (column.type in _CAST and typed.get_column(column.name).null_count() != blank)
    ]


def _check_years(frame: pl.DataFrame, dates: list[Column]) -> None:
    """Raise :class:`ConversionFailed` for a parsed date column holding a year before 1000.

    The CSV parser reads ``3/1/26`` as the year 26; such a column is read again as text, so the
    per-column converter refuses a year not written with 4 digits, naming row and value.
    """
    if not dates:
        return
    early = frame.select([(pl.col(c.name) < _YEAR_1000).any() for c in dates]).row(0)
    for column, found in zip(dates, early, strict=True):
        if found:
            raise ConversionFailed(column.name, f"column {column.name}: a year before 1000")


def _fast(column: Column, *, parsed: bool) -> pl.Expr:
    """The column typed the cheap way (exact where :func:`_suspect` finds nothing)."""
    value = pl.col(column.name)
    kind = column.type
    if kind is ColumnType.INTEGER:
        return value.cast(pl.Int64, strict=False)
    if kind is ColumnType.DECIMAL:
        return value.cast(DECIMAL_DTYPE, strict=False)
    if not parsed:
        return (
            value
            if kind in (ColumnType.STRING, ColumnType.ENUM)
            else pl.lit(None, _DTYPES[kind]).alias(column.name)
        )
    if kind is ColumnType.DATE:
        day = value.dt.date()
        return pl.when(day != _EMPTY_DATE).then(day).alias(column.name)
    if kind is ColumnType.DATETIME:
        return pl.when(value.dt.date() != _EMPTY_DATE).then(value).alias(column.name)
    return value


def _may_be_suspect(column: Column) -> bool:
    """Whether a text-read column is checked by :func:`_suspect` (text is taken as it comes)."""
    if column.type is ColumnType.ENUM:
        return column.members is not None
    return column.type is not ColumnType.STRING


def _suspect(column: Column, values: ValueFormat) -> pl.Expr:
    """True where the cheap path of a text-read column may differ from :func:`_convert`."""
    value = pl.col(column.name)
    present = value != ""
    if column.type is ColumnType.ENUM:
        return present & ~value.is_in(column.members or ())
    if column.type is ColumnType.INTEGER:
        return present & value.cast(pl.Int64, strict=False).is_null()
    if column.type is ColumnType.DECIMAL and values.decimal_point != ".":
        return present  # 1.234 reads as 1.234 in a cast, as 1234 in this locale
    if column.type is ColumnType.DECIMAL:
        # One regex pass: the common form, within the type's digits (a quarter of the cost of
        # checking places and exponents apart); :func:`_slow_columns` checks the cast lost nothing.
        return present & ~value.str.contains(_PLAIN_DECIMAL)
    return pl.lit(True)


def _convert(raw: pl.Series, column: Column, entity: str, first_row: int, values: ValueFormat) -> pl.Series:
    kind = column.type
    if kind in (ColumnType.STRING, ColumnType.ENUM):
        text = raw.cast(pl.String).fill_null("")
        if column.members is not None:
            _refuse_first(text != "", ~text.is_in(column.members), raw, column, entity, first_row, values)
        return text.alias(column.name)
    value = raw.cast(pl.String).fill_null("").str.strip_chars()
    present = value != ""
    if kind is ColumnType.NOYES:
        typed = value.str.to_lowercase().replace_strict(_NOYES, default=None, return_dtype=pl.Boolean)
    elif kind is ColumnType.INTEGER:
        typed = values.number_text(value, places=None).cast(pl.Int64, strict=False)
    elif kind is ColumnType.DECIMAL:
        typed = values.number_text(value, places=6).cast(DECIMAL_DTYPE, strict=False)
    else:
        typed = values.parse_datetime(value)
    bad = present & typed.is_null()
    if kind in (ColumnType.DATE, ColumnType.DATETIME):
        short = typed.is_not_null() & ~value.str.contains(values.year_pattern)
        _refuse_first(present, bad | short, raw, column, entity, first_row, values, short=short)
        if kind is ColumnType.DATE:
            typed = typed.dt.date()
            return _where(typed != _EMPTY_DATE, typed).alias(column.name)
        return _where(typed.dt.date() != _EMPTY_DATE, typed).alias(column.name)
    _refuse_first(present, bad, raw, column, entity, first_row, values)
    return typed.alias(column.name)


def _where(mask: pl.Series, series: pl.Series) -> pl.Series:
    """``series`` where ``mask`` holds, else NULL."""
    return pl.select(pl.when(pl.lit(mask.fill_null(False))).then(pl.lit(series))).to_series()


def _refuse_first(
    present: pl.Series,
    bad: pl.Series,
    raw: pl.Series,
    column: Column,
    entity: str,
    first_row: int,
    values: ValueFormat,
    *,
    short: pl.Series | None = None,
) -> None:
    """Raise :class:`PackageValueError` for the first present value marked ``bad``, if any."""
    bad = present & bad
    if not bad.any():
        return
    index = int(bad.arg_max() or 0)
    row = first_row + index
    shown = "" if raw[index] is None else str(raw[index])
    problem = _SHORT_YEAR if short is not None and short[index] else _problem(shown, column, values)
    raise PackageValueError(
        f"entity {entity!r}, column {column.name} ({column.type}), data row {row}: {shown!r} {problem}",
        entity=entity,
        column=column.name,
        row=row,
        value=shown,
    )


def _problem(value: str, column: Column, values: ValueFormat) -> str:
    """What is wrong with a refused ``value`` of ``column``, and the fix."""
    fix = "fix the column's type in the catalog, or the data in F&O"
    if column.type is ColumnType.ENUM:
        members = column.members or ()
        shown = ", ".join(members[:12]) + (f" and {len(members) - 12} more" if len(members) > 12 else "")
        return (
            f"is not a member of the enum as F&O's $metadata lists it ({shown}); the data project may "
            "write enum labels instead of symbols (turn that off in its field mapping in F&O), or F&O "
            "writes a member its $metadata does not list: declare the column in the catalog (a "
            "declared enum column takes any text)"
        )
    if column.type is ColumnType.NOYES:
        return f"is not Yes/No (or 1/0, true/false); {fix}"
    fits = [name for name in locales_fitting(value, column.type) if name != values.name]
    if fits:
        fix = (
            f"it is written in the {' or '.join(fits)} form: declare the language locale of the data "
            "project's source data format (its regional settings in F&O) in the catalog, for the "
            f"entity or under defaults, e.g. locale: {fits[0]}"
        )
    return f"is not {values.expected(column.type)}; {fix}"
