"""One message for a catalog that fails its model (:mod:`d365_assets.catalog.model`): where, problem, fix.

Pydantic reports every error it finds; the reader is told the one met first reading the file from
the top: the top level's unknown keys, then version, companies, defaults (its unknown keys first),
then each entity in turn (its name, its unknown keys, its fields in order, its rules across fields),
then the rules across entities. The place is ``top level``, a section (``companies``), ``defaults``,
or ``entity <name>``, with ``entity #<n>`` (its position) while the name itself is broken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Template
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from d365_assets.catalog.model import (
    NAME_PATTERN,
    REFUSAL,
    CatalogDefaults,
    CatalogDocument,
    CatalogModel,
    EntityEntry,
    Refusal,
)

__all__ = ["explain"]

_UNKNOWN_KEY = frozenset({"extra_forbidden", "invalid_key"})
"""Error types of a key the model does not know (``invalid_key``: a key that is not text)."""
_SECTIONS = tuple(CatalogDocument.model_fields)


@dataclass(frozen=True)
class _Spot:
    """Where an error lies: the model there, its place in a message, and the error's path below it."""

    model: type[CatalogModel]
    where: str
    rest: tuple[int | str, ...]
    order: tuple[int, int]
    """Section of the document (-1: its unknown keys), then entity position: reading order."""


def explain(error: ValidationError, document: Any) -> tuple[str, str, str]:
    """Where, problem and fix of the first error in ``document`` that a reader of the file meets."""
    details = error.errors()
    spots = [_spot(detail["loc"], document) for detail in details]
    first = min(range(len(details)), key=lambda i: (*spots[i].order, _kind(details[i], spots[i]), i))
    detail, spot = details[first], spots[first]
    if detail["type"] in _UNKNOWN_KEY:
        keys = sorted(
            str(other["loc"][-1])
            for other in details
            if other["type"] in _UNKNOWN_KEY and other["loc"][:-1] == detail["loc"][:-1]
        )
        return (
            spot.where or "top level",
            f"unknown keys {keys}",
            f"use only {sorted(spot.model.model_fields)}",
        )
    if spot.rest:
        return _about_field(detail, spot)
    context = detail.get("ctx", {})
    if detail["type"] != REFUSAL:
        return spot.where or "top level", spot.model.not_a_mapping.problem, spot.model.not_a_mapping.fix
    where = f"entity {_entity(document, context['entity'])}" if "entity" in context else spot.where
    return where or "top level", context["problem"], context["fix"]


def _about_field(detail: ErrorDetails, spot: _Spot) -> tuple[str, str, str]:
    """The message of an error in one field: the field's own refusal, or the one its validator raised."""
    field, below = str(spot.rest[0]), spot.rest[1:]
    told = next(m for m in spot.model.model_fields[field].metadata if isinstance(m, Refusal))
    where = ": ".join(part for part in (spot.where, field if told.under_key else "") if part)
    if detail["type"] == REFUSAL:
        return where, detail["ctx"]["problem"], detail["ctx"]["fix"]
    if below:
        told = (told.key if below[-1] == "[key]" else told.item) or told
    value = None if detail["type"] == "missing" else detail["input"]
    fill = {"key": field, "value": repr(value), "column": str(below[0]) if below else ""}
    return where, Template(told.problem).substitute(fill), Template(told.fix).substitute(fill)


def _spot(loc: tuple[int | str, ...], document: Any) -> _Spot:
    if loc[:1] == ("defaults",):
        return _Spot(CatalogDefaults, "defaults", loc[1:], (_SECTIONS.index("defaults"), 0))
    if loc[:1] == ("entities",) and len(loc) > 1:
        index = int(loc[1])
        return _Spot(
            EntityEntry, f"entity {_entity(document, index)}", loc[2:], (_SECTIONS.index("entities"), index)
        )
    if not loc:
        return _Spot(CatalogDocument, "", loc, (len(_SECTIONS), 0))
    return _Spot(CatalogDocument, "", loc, (_SECTIONS.index(loc[0]) if loc[0] in _SECTIONS else -1, 0))


def _kind(detail: ErrorDetails, spot: _Spot) -> int:
    """Within one place: an entity's name first (it names the entity), then unknown keys, then the rest."""
    if spot.model is EntityEntry and spot.rest[:1] == ("name",):
        return 0
    return 1 if detail["type"] in _UNKNOWN_KEY else 2


def _entity(document: Any, index: int) -> str:
    """The entity at ``index`` as messages name it: its name, or ``#<position>`` while that is broken."""
    entry = document["entities"][index]
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) and re.fullmatch(NAME_PATTERN, name) else f"#{index + 1}"
