"""How the catalog's model words a refusal: the :class:`Refusal` of a field, and :func:`refusal` errors."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_core import PydanticCustomError

__all__ = ["REFUSAL", "Refusal", "refusal"]

REFUSAL = "catalog_refusal"
"""Error type of :func:`refusal`; its context holds ``problem``, ``fix`` and maybe ``entity``."""


@dataclass(frozen=True)
class Refusal:
    """What a value failing a field's type or constraints is told (``$key``, ``$value`` as repr fill in)."""

    problem: str
    fix: str
    item: Refusal | None = None
    """For one item of a list, or one value of a mapping (``$column`` is its key)."""
    key: Refusal | None = None
    """For one key of a mapping."""
    under_key: bool = False
    """The message is placed under the key (``companies: ...``); otherwise its problem names the key."""


def refusal(problem: str, fix: str, *, entity: int | None = None) -> PydanticCustomError:
    """A validation error telling ``problem`` and ``fix``; ``entity``: the position of the entity meant."""
    context = {"problem": problem, "fix": fix} | ({} if entity is None else {"entity": entity})
    return PydanticCustomError(REFUSAL, "{problem}. Fix: {fix}", context)
