"""The catalog fields of an entity read from a recurring export job, and the rules across them.

``recurring_activity_id`` is the job's GUID; ``recurring_company`` the legal entity it exports, since
a recurring job's messages do not say (one job exports one company).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Protocol

from pydantic import AfterValidator, StrictStr

from d365_assets.catalog.problems import Refusal, refusal
from d365_assets.guids import canonical_guid

__all__ = [
    "ACTIVITY_REFUSAL",
    "RECURRING_COMPANY_REFUSAL",
    "ActivityId",
    "check_recurring_companies",
    "check_recurring_entry",
]

_WHERE = "the ID column of Data management > Manage scheduled data jobs"


def _guid(value: str) -> str:
    """An activity id as a GUID in lower case without braces."""
    guid = canonical_guid(value.strip())
    if guid is None:
        raise refusal(
            f"recurring_activity_id {value!r} is not a GUID",
            f"copy the recurring data job's ID from {_WHERE}, "
            "e.g. recurring_activity_id: 6D31E09F-1A2B-4C3D-8E9F-0123456789AB",
        )
    return guid


ActivityId = Annotated[StrictStr, AfterValidator(_guid)]
"""A recurring data job's activity id (a GUID), kept in lower case without braces."""
ACTIVITY_REFUSAL = Refusal(
    "recurring_activity_id must be the recurring data job's GUID, as text", f"copy it from {_WHERE}"
)
RECURRING_COMPANY_REFUSAL = Refusal(
    "recurring_company $value is not a legal entity id (1 to 4 letters or digits)",
    "write the company the recurring job exports, e.g. recurring_company: USMF",
)


class _Entry(Protocol):
    company_specific: bool
    companies: list[str] | None
    recurring_activity_id: str | None
    recurring_company: str | None


def check_recurring_entry(entry: _Entry) -> None:
    """A company-specific entity read from a recurring job names the company; no other names one."""
    company = entry.recurring_company
    if entry.recurring_activity_id is None:
        if company is not None:
            raise refusal(
                "recurring_company is only for an entity read from a recurring job",
                "add recurring_activity_id (the job's GUID), or remove recurring_company",
            )
    elif entry.company_specific and company is None:
        raise refusal(
            "a company-specific entity read from a recurring job needs recurring_company: the "
            "messages of a recurring job do not say which legal entity they hold",
            "add recurring_company: the legal entity the recurring data job exports (one job per "
            "company), e.g. recurring_company: USMF",
        )
    elif not entry.company_specific and company is not None:
        raise refusal(
            "recurring_company is only for company-specific entities; a shared entity has no company",
            "remove recurring_company",
        )
    elif entry.companies is not None and company not in entry.companies:
        raise refusal(
            f"recurring_company {company} is not one of the entity's companies {entry.companies}",
            "add it to the entity's companies, or name one of them",
        )


def check_recurring_companies(entries: Sequence[_Entry], companies: Sequence[str]) -> None:
    """An entity without companies of its own names one of the catalog's as its recurring company."""
    for index, entry in enumerate(entries):
        company = entry.recurring_company
        if entry.companies is None and company is not None and company not in companies:
            raise refusal(
                f"recurring_company {company} is not one of the catalog's companies {list(companies)}",
                "add it to companies, or name one of them",
                entity=index,
            )
