"""Stateless business activity: which rows exist at activity round ``k`` and when each last changed.

Row ``i`` of an entity/company is born at round 0 (the initial ``base`` rows) or, for inserted
rows, at the round whose insert batch holds it. Its delete round and update rounds are drawn
from geometric distributions seeded by a hash of (salt, i), so the state of any row at any
round is a pure function: nothing per row is stored, and every process sees the same data.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["ChangeModel", "RowState", "mix", "salt_for"]

MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_DELETE_SALT = 0xD1B54A32D192ED03
_UPDATE_SALT = 0x8CB92BA72F3D8DD7
_VERSION_SALT = 0xAEF17502108EF2D9
_NEVER = 1 << 62


def mix(x: int) -> int:
    """SplitMix64 finaliser: a cheap, well-mixed 64-bit hash of an integer."""
    x &= MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def salt_for(seed: int, *parts: str) -> int:
    """A stable 64-bit salt for a seed and names (entity, company)."""
    text = ":".join([str(seed), *parts]).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def _geometric(rate: float, h: int) -> int:
    """Rounds to wait (>= 0) before an event with probability ``rate`` per round, from hash ``h``."""
    if rate <= 0:
        return _NEVER
    if rate >= 1:
        return 0
    u = (h >> 11) / float(1 << 53)
    return int(math.log1p(-u) / math.log1p(-rate))


class RowState(NamedTuple):
    """One row at a given round: its index, hashes for content, and its last change round."""

    index: int
    row_hash: int
    version_hash: int
    last_change: int


@dataclass(frozen=True)
class ChangeModel:
    """Inserts, updates and deletes of one entity in one company, as pure functions of the round."""

    salt: int
    base: int
    insert_rate: float
    update_rate: float
    delete_rate: float

    @property
    def inserts_per_round(self) -> int:
        """Rows inserted by each activity round."""
        if self.insert_rate <= 0 or self.base <= 0:
            return 0
        return max(1, round(self.base * self.insert_rate))

    def total(self, round_: int) -> int:
        """Number of row indices ever born up to ``round_`` (deleted ones included)."""
        return self.base + self.inserts_per_round * round_

    def birth(self, index: int) -> int:
        """Round at which row ``index`` was inserted (0 for the initial rows)."""
        if index < self.base:
            return 0
        return (index - self.base) // self.inserts_per_round + 1

    def row_hash(self, index: int) -> int:
        """The hash that fixes the row's immutable fields."""
        return mix(self.salt + index * _GOLDEN)

    def state(self, index: int, round_: int) -> RowState | None:
        """The row at ``round_``, or None if it does not exist (not yet born, or deleted)."""
        born = self.birth(index)
        if born > round_:
            return None
        h = self.row_hash(index)
        if round_ == born:
            return RowState(index, h, h, born)
        if born + 1 + _geometric(self.delete_rate, mix(h ^ _DELETE_SALT)) <= round_:
            return None
        last, version, r = born, 0, born
        while True:
            r += 1 + _geometric(self.update_rate, mix(h ^ (_UPDATE_SALT + version)))
            if r > round_:
                break
            last, version = r, version + 1
        vh = h if version == 0 else mix(h ^ (_VERSION_SALT * version))
        return RowState(index, h, vh, last)

    def rows(self, round_: int, *, since: int | None = None) -> Iterator[RowState]:
        """Rows existing at ``round_``; with ``since``, only those inserted or updated after it."""
        for index in range(self.total(round_)):
            st = self.state(index, round_)
            if st is not None and (since is None or st.last_change > since):
                yield st
