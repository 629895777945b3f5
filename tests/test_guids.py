"""GUIDs from F&O or the catalog in one form: lower case, no braces; anything else is not a GUID."""

from __future__ import annotations

import pytest

from d365_assets.guids import canonical_guid

GUID = "6D31E09F-1A2B-4C3D-8E9F-0123456789AB"


@pytest.mark.parametrize("value", [GUID, GUID.lower(), "{" + GUID + "}"])
def test_a_guid_comes_out_lower_case_without_braces(value: str) -> None:
    assert canonical_guid(value) == GUID.lower()


@pytest.mark.parametrize(
    "value",
    [
        "{" + GUID,  # a brace without its pair
        GUID + "}",
        " " + GUID,  # surrounding text is not trimmed here
        GUID + "0",
        GUID.replace("-", ""),
        "../" + GUID,  # would name a file elsewhere
        GUID[:-1] + "G",
        None,
        42,
    ],
)
def test_anything_else_is_not_a_guid(value: object) -> None:
    assert canonical_guid(value) is None
