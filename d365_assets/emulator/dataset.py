"""The emulated F&O database: every entity's rows per company at any activity round."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .changes import ChangeModel, salt_for
from .datagen import GENERATORS, GenContext
from .entities import ENTITIES, EntityDef

__all__ = ["ActivityRates", "Dataset"]


@dataclass(frozen=True)
class ActivityRates:
    """Share of an entity's initial rows inserted, updated and deleted per activity round."""

    insert: float = 0.02
    update: float = 0.03
    delete: float = 0.01


class Dataset:
    """Deterministic source data for all entities, derived from a seed and row counts."""

    def __init__(
        self,
        *,
        seed: int,
        companies: tuple[str, ...],
        rows: Mapping[str, int],
        rates: ActivityRates,
    ) -> None:
        self.seed = seed
        self.companies = tuple(c.upper() for c in companies)
        self.rates = rates
        self._counts = {e.name: int(rows.get(e.name, e.default_rows)) for e in ENTITIES}
        self._contexts = {c: GenContext(c, dict(self._counts)) for c in (*self.companies, "")}

    def model(self, entity: EntityDef, company: str | None) -> ChangeModel:
        """The change model of one entity in one company (``None`` for shared entities)."""
        key = self._company_key(entity, company)
        return ChangeModel(
            salt=salt_for(self.seed, entity.name, key),
            base=self._counts[entity.name],
            insert_rate=self.rates.insert,
            update_rate=self.rates.update,
            delete_rate=self.rates.delete,
        )

    def raw_rows(
        self, entity: EntityDef, company: str | None, *, round_: int, since: int | None = None
    ) -> Iterator[list[object]]:
        """Raw rows at ``round_`` (only those changed after ``since`` when given), in index order."""
        key = self._company_key(entity, company)
        ctx = self._contexts.get(key) or GenContext(key, dict(self._counts))
        generate = GENERATORS[entity.name]
        for st in self.model(entity, company).rows(round_, since=since):
            yield generate(ctx, st.index, st.row_hash, st.version_hash)

    def count(self, entity: EntityDef, company: str | None, *, round_: int) -> int:
        """Number of rows existing at ``round_``."""
        return sum(1 for _ in self.model(entity, company).rows(round_))

    @staticmethod
    def _company_key(entity: EntityDef, company: str | None) -> str:
        if not entity.company_specific:
            return ""
        if not company:
            raise ValueError(f"{entity.name} is company-specific: a company is required")
        return company.upper()
