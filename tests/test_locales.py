"""Dates and numbers per the data format's locale, and package details as real ones, end to end.

Over HTTPS against the emulator switched to each answer F&O may give (issue 9, items 2 and 9):

- a data project writes ISO, en-US, en-GB or de-DE dates and numbers: declared in the catalog, each
  loads exactly F&O's rows, in full, as deltas and as a reconcile;
- F&O's format changes its locale (or none is declared): the load is refused naming the column, row,
  value and the locale that fits, the table stays as it was, the export stays noted, and once the
  catalog declares the locale the next refresh loads it first: no delta is lost;
- enum columns typed from ``$metadata`` know their members: a project that writes enum labels is
  refused, and the table comes right when the symbols come back;
- the manifest lists the fields alphabetically, unlike the file: an XML file (whose columns the
  reader takes from the manifest) with a new upstream column still loads into the right columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from d365_assets.catalog import CatalogError, EntityConfig, load_catalog
from d365_assets.emulator import DataProject, Emulator, EmulatorConfig
from d365_assets.package import PackageValueError
from d365_assets.refresh import RefreshOutcome
from d365_assets.schema import Locale, RefreshMode
from d365_assets.spool import SpoolError
from tests.support.catalog import catalog_with, document_entity, shipped_document, write_document
from tests.support.environment import QUICK_LIFECYCLE, TEST_ROWS
from tests.support.refreshing import refresh_from
from tests.support.tables import source_rows, table_rows

GL = "GeneralJournalAccountEntries"
GL_LABEL = "General journal account entry"


# -- helpers: an emulator whose data projects write a locale, a catalog that declares one -----------


def gl_projects(locale: str) -> dict[str, DataProject]:
    """A change-tracked data project of the GL entries and its full-push reconcile, in ``locale``."""
    return {
        "LOC-GL": DataProject("LOC-GL", GL_LABEL, "CSV-Unicode", "incremental", locale),  # type: ignore[arg-type]
        "LOC-GL-Full": DataProject("LOC-GL-Full", GL_LABEL, "CSV-Unicode", "full", locale),  # type: ignore[arg-type]
    }


def entity_with(
    tmp_path: Path, name: str, *, without: tuple[str, ...] = (), **changes: object
) -> EntityConfig:
    """Entity ``name`` of the shipped catalog with ``changes`` and ``without`` keys, loaded from a file."""
    return load_catalog(catalog_with(tmp_path, name, without=without, **changes)).entity(name)


def gl_entity(tmp_path: Path, locale: str | None) -> EntityConfig:
    """The GL entries through the LOC-GL projects, with ``locale`` declared (None: left out)."""
    declared = {} if locale is None else {"locale": locale}
    return entity_with(tmp_path, GL, data_project="LOC-GL", reconcile_project="LOC-GL-Full", **declared)


def refresh(emu: Emulator, tmp_path: Path, entity: EntityConfig, **kwargs: object) -> RefreshOutcome:
    return refresh_from(emu, tmp_path, entity, **kwargs)


def loaded(tmp_path: Path, entity: EntityConfig) -> list[tuple]:
    return table_rows(tmp_path / "warehouse.duckdb", entity, "USMF")


def tables(tmp_path: Path) -> set[str]:
    """The tables of the warehouse (none when it was never written)."""
    path = tmp_path / "warehouse.duckdb"
    if not path.exists():
        return set()
    with duckdb.connect(str(path), read_only=True) as con:
        return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def notes(tmp_path: Path, table: str) -> list[Path]:
    """The exports noted in the spool for ``table`` and USMF (exported, not loaded yet)."""
    return sorted((tmp_path / "packages").glob(f"*/{table}/USMF/*.json"))


def exports(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.path.endswith(".ExportToPackage"))


class Emulators:
    """Emulators on one state folder: a restart keeps F&O's data and watermarks; all stop at the end."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.started: list[Emulator] = []

    def start(self, projects: dict[str, DataProject], **config: object) -> Emulator:
        """An emulator with ``projects`` beside the shipped ones; the previous one stops first."""
        for running in self.started:
            running.stop()
        settings = EmulatorConfig(rows=TEST_ROWS, extra_projects=projects, **QUICK_LIFECYCLE, **config)  # type: ignore[arg-type]
        self.started.append(Emulator(state_dir=self.state_dir, config=settings).start())
        return self.started[-1]


@pytest.fixture
def emulators(tmp_path: Path) -> Iterator[Emulators]:
    started = Emulators(tmp_path / "emulator")
    yield started
    for emu in started.started:
        emu.stop()


# -- each locale, declared, loads F&O's rows exactly -------------------------------------------------


@pytest.mark.parametrize("locale", ["ISO", "en-US", "en-GB", "de-DE"])
def test_each_declared_locale_loads_exactly_what_fo_holds(
    tmp_path: Path, emulators: Emulators, locale: str
) -> None:
    emu = emulators.start(gl_projects(locale))
    entity = gl_entity(tmp_path, locale)
    assert entity.locale == Locale(locale)

    refresh(emu, tmp_path, entity)  # the first change-tracked export holds every row
    assert loaded(tmp_path, entity) == source_rows(emu, entity, "USMF")
    emu.advance_activity(1)
    delta = refresh(emu, tmp_path, entity)
    assert delta.mode is RefreshMode.DELTA
    assert delta.load.rows_updated > 0
    assert set(source_rows(emu, entity, "USMF")) <= set(loaded(tmp_path, entity))  # deletes wait
    reconcile = refresh(emu, tmp_path, entity, mode=RefreshMode.FULL)
    assert reconcile.load.rows_deleted > 0
    assert loaded(tmp_path, entity) == source_rows(emu, entity, "USMF")


# -- a locale that changes in F&O: refused, held, loaded once declared --------------------------------


def test_a_locale_changed_in_fo_is_refused_and_no_delta_is_lost(tmp_path: Path, emulators: Emulators) -> None:
    emu = emulators.start(gl_projects("en-US"))
    us = gl_entity(tmp_path, "en-US")
    refresh(emu, tmp_path, us)
    before = loaded(tmp_path, us)
    assert before == source_rows(emu, us, "USMF")

    emu.advance_activity(1)
    emu = emulators.start(gl_projects("en-GB"))  # someone set the data format's locale to en-GB
    with pytest.raises(PackageValueError) as refused:
        refresh(emu, tmp_path, us)
    message = str(refused.value)
    assert f"entity {GL_LABEL!r}, column ACCOUNTINGDATE (date), data row 1:" in message
    assert "is not a date in the en-US form" in message
    assert "it is written in the en-GB form" in message
    assert "locale: en-GB" in message
    assert loaded(tmp_path, us) == before, "the table stays as it was"
    [held] = notes(tmp_path, us.table_name)  # F&O moved its watermark: the delta is kept

    exported = exports(emu)
    with pytest.raises(SpoolError, match=f"the export {held.stem} .* it is written in the en-GB form"):
        refresh(emu, tmp_path, us)  # the held delta is loaded first, and fails the same way
    assert exports(emu) == exported, "no new export while a delta is held"
    assert loaded(tmp_path, us) == before

    gb = gl_entity(tmp_path, "en-GB")  # the catalog follows F&O
    emu.advance_activity(1)
    outcome = refresh(emu, tmp_path, gb)
    assert [r.execution_id for r in outcome.replayed] == [held.stem]
    assert notes(tmp_path, gb.table_name) == []
    assert set(source_rows(emu, gb, "USMF")) <= set(loaded(tmp_path, gb)), "both deltas arrived"
    refresh(emu, tmp_path, gb, mode=RefreshMode.FULL)
    assert loaded(tmp_path, gb) == source_rows(emu, gb, "USMF")


@pytest.mark.parametrize("locale", ["en-GB", "de-DE"])
def test_without_a_declared_locale_day_first_dates_are_refused_never_swapped(
    tmp_path: Path, emulators: Emulators, locale: str
) -> None:
    emu = emulators.start(gl_projects(locale))
    undeclared = gl_entity(tmp_path, None)
    assert undeclared.locale is None
    with pytest.raises(PackageValueError) as refused:
        refresh(emu, tmp_path, undeclared)
    assert (refused.value.column, refused.value.row) == ("ACCOUNTINGDATE", 1)
    assert "(the catalog declares no locale)" in str(refused.value)
    assert f"locale: {locale}" in str(refused.value)
    assert tables(tmp_path) <= {"_load_ledger"}, "nothing was loaded"

    declared = gl_entity(tmp_path, locale)
    outcome = refresh(emu, tmp_path, declared)
    assert len(outcome.replayed) == 1, "the refused export was loaded, not exported again"
    assert set(source_rows(emu, declared, "USMF")) <= set(loaded(tmp_path, declared))
    refresh(emu, tmp_path, declared, mode=RefreshMode.FULL)
    assert loaded(tmp_path, declared) == source_rows(emu, declared, "USMF")


def test_german_numbers_are_never_read_as_english(tmp_path: Path, emulators: Emulators) -> None:
    """A de-DE amount such as 123.000,000000 is refused under en-US and ISO, never read otherwise."""
    german = {
        "LOC-Customers": DataProject("LOC-Customers", "Customers V3", "SEMICOLON-Unicode", locale="de-DE")
    }
    emu = emulators.start(german)
    for locale in ("en-US", "ISO", None):
        entity = entity_with(
            tmp_path,
            "CustomersV3",
            data_project="LOC-Customers",
            **({} if locale is None else {"locale": locale}),
        )
        with pytest.raises(PackageValueError, match="it is written in the de-DE form: ") as refused:
            refresh(emu, tmp_path, entity, discard_held=True)  # each time the last one is set aside
        assert refused.value.column == "CREDITLIMIT"
    assert tables(tmp_path) <= {"_load_ledger"}
    entity = entity_with(tmp_path, "CustomersV3", data_project="LOC-Customers", locale="de-DE")
    refresh(emu, tmp_path, entity, discard_held=True)
    assert loaded(tmp_path, entity) == source_rows(emu, entity, "USMF")
    limits = [row[entity.schema.names.index("CREDITLIMIT")] for row in loaded(tmp_path, entity)]
    assert max(limits) >= 1000, "thousands were grouped in the file"


# -- the catalog's locale key ---------------------------------------------------------------------------


def test_the_catalog_declares_a_locale_per_entity_or_under_defaults(tmp_path: Path) -> None:
    document = shipped_document()
    document["defaults"]["locale"] = "de-de"  # as F&O shows it: any case
    document_entity(document, "VendorsV2")["locale"] = "ISO"
    catalog = load_catalog(write_document(tmp_path / "catalog.yaml", document))
    assert catalog.entity("VendorsV2").locale is Locale.ISO
    assert catalog.entity("CustomersV3").locale is Locale.DE_DE
    assert {e.locale for e in load_catalog().entities} == {None}, "the shipped catalog declares none"


@pytest.mark.parametrize(
    ("where", "value", "expected"),
    [
        (
            "entity",
            "fr-FR",
            "entity VendorsV2: locale 'fr-FR' is not one the reader knows. Fix: use one of ISO, ",
        ),
        ("entity", None, "entity VendorsV2: locale None is not one the reader knows"),
        ("entity", 1, "entity VendorsV2: locale 1 is not one the reader knows"),
        ("defaults", "en_US", "defaults: locale 'en_US' is not one the reader knows"),
        ("defaults", None, "defaults: locale None is not one the reader knows"),
    ],
)
def test_an_unknown_locale_is_refused_naming_the_fix(
    tmp_path: Path, where: str, value: object, expected: str
) -> None:
    document = shipped_document()
    target = document["defaults"] if where == "defaults" else document_entity(document, "VendorsV2")
    target["locale"] = value
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_document(tmp_path / "catalog.yaml", document))
    assert expected in str(refused.value)
    assert "the language locale of the data project's source data format" in str(refused.value)


# -- enum columns typed from $metadata know their members ------------------------------------------------


def test_enum_labels_are_refused_when_metadata_lists_the_symbols(
    tmp_path: Path, emulators: Emulators
) -> None:
    label = "Released products V2"
    emu = emulators.start({"LOC-Products": DataProject("LOC-Products", label, enum_labels=True)})
    typed_by_fo = entity_with(
        tmp_path, "ReleasedProductsV2", without=("columns",), data_project="LOC-Products"
    )
    assert typed_by_fo.schema is None
    with pytest.raises(PackageValueError) as refused:
        refresh(emu, tmp_path, typed_by_fo)
    assert refused.value.column == "PRODUCTSUBTYPE"
    assert refused.value.value == "Product master"
    assert "is not a member of the enum as F&O's $metadata lists it (Product, ProductMaster, " in str(
        refused.value
    )
    assert tables(tmp_path) <= {"_load_ledger"}

    emu = emulators.start({"LOC-Products": DataProject("LOC-Products", label)})  # "Use enum label" off
    refresh(emu, tmp_path, typed_by_fo, discard_held=True)
    declared = load_catalog().entity("ReleasedProductsV2")
    assert loaded(tmp_path, declared) == source_rows(emu, declared, "USMF")


def test_a_catalog_enum_column_takes_labels_as_text(tmp_path: Path, emulators: Emulators) -> None:
    emu = emulators.start(
        {"LOC-Products": DataProject("LOC-Products", "Released products V2", enum_labels=True)}
    )
    entity = entity_with(tmp_path, "ReleasedProductsV2", data_project="LOC-Products")
    refresh(emu, tmp_path, entity)
    subtypes = {row[entity.schema.names.index("PRODUCTSUBTYPE")] for row in loaded(tmp_path, entity)}
    assert subtypes == {"Product", "Product master"}


# -- the manifest's fields in alphabetical order, unlike the file's ---------------------------------------


def test_an_xml_file_loads_by_name_whatever_order_the_manifest_lists(
    tmp_path: Path, emulators: Emulators
) -> None:
    """The reader takes an XML file's columns from the manifest, which F&O sorts: a new upstream
    column (sorted first) and the rest still land in their own columns."""
    emu = emulators.start({}, extra_columns={"CustomersV3": {"AARISKCLASS": "string"}})
    entity = entity_with(tmp_path, "CustomersV3", data_project="D365A-CustomersV3-XmlAttribute")
    outcome = refresh(emu, tmp_path, entity)
    assert outcome.drift.added == ("AARISKCLASS",)
    assert loaded(tmp_path, entity) == source_rows(emu, entity, "USMF")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        risk = dict(con.execute("SELECT CUSTOMERACCOUNT, AARISKCLASS FROM d365.customers_v3").fetchall())
    assert risk == {r["CUSTOMERACCOUNT"]: r["AARISKCLASS"] for r in emu.source_rows("CustomersV3", "USMF")}
