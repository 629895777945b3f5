"""What every destination proves before it commits a load: keys whole, and no mass removal.

The checks themselves run where the rows are (DuckDB SQL in the warehouse, Arrow in the lake); the
guard's settings, the removal rule and the wording of the refusals live here, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from d365_assets.loading.errors import KeyViolationError, RemovalHeldError

__all__ = [
    "DEFAULT_MAX_REMOVED_SHARE",
    "LoadGuard",
    "check_removal",
    "null_key_error",
    "repeated_key_error",
]

DEFAULT_MAX_REMOVED_SHARE = 0.5


@dataclass(frozen=True)
class LoadGuard:
    """How much a full load may remove, and whether this one load is accepted beyond that."""

    max_removed_share: float = DEFAULT_MAX_REMOVED_SHARE
    """A full load that would remove more than this share of the company's rows is held back (1.0: never)."""
    accept_removal: bool = False
    """Apply this load even above ``max_removed_share`` (an empty entity, or rows F&O really deleted)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_removed_share <= 1.0:
            raise ValueError(f"max_removed_share must be between 0 and 1, not {self.max_removed_share}")


def null_key_error(*, what: str, nulls: int, natural_key: Sequence[str]) -> KeyViolationError:
    """The refusal of rows whose natural key is (partly) NULL."""
    return KeyViolationError(
        f"{what}: {nulls} row(s) have no value in natural-key column(s) {', '.join(natural_key)}; "
        f"F&O sent rows that cannot be matched. Check the data project's key fields in F&O and "
        f"natural_key in the catalog, then export again. Nothing was changed."
    )


def repeated_key_error(
    *, what: str, total: int, examples: Sequence[tuple[object, ...]], natural_key: Sequence[str]
) -> KeyViolationError:
    """The refusal of rows that repeat a natural key; ``examples`` are (key values..., times) rows."""
    shown = "; ".join(", ".join(map(repr, row[:-1])) + f" ({row[-1]} times)" for row in examples)
    return KeyViolationError(
        f"{what}: {total} natural key(s) ({', '.join(natural_key)}) occur more than once, e.g. "
        f"{shown}; natural_key in the catalog does not identify a row: fix it (add the missing "
        f"key columns). Nothing was changed."
    )


def check_removal(*, guard: LoadGuard, before: int, kept: int, what: str) -> None:
    """Hold back a full load that would remove more than the guard allows of ``before`` rows."""
    removed = before - kept
    if before == 0 or removed <= guard.max_removed_share * before or guard.accept_removal:
        return
    raise RemovalHeldError(
        f"{what}: the full load would remove {removed} of the {before} rows now in the table "
        f"({removed / before:.0%}, above the {guard.max_removed_share:.0%} allowed), so it is held back. "
        f"Nothing was changed. If F&O really lost those rows (or the entity is "
        f"empty on purpose), accept this one load; if not, find out why F&O exported so few rows.",
        removed=removed,
        before=before,
    )
