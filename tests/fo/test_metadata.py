"""Entity schemas from OData ``$metadata``: the EDMX parser, and the client against the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from d365_assets.emulator import Emulator
from d365_assets.fo import MetadataError
from d365_assets.fo.metadata import parse_metadata
from d365_assets.schema import Column, ColumnType, EntitySchema
from tests.support.catalog import CATALOG
from tests.support.environment import client_for

EDMX = b"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>
<Schema Namespace="Microsoft.Dynamics.DataEntities" Alias="mde" xmlns="http://docs.oasis-open.org/odata/ns/edm">
  <EnumType Name="NoYes"><Member Name="No" Value="0"/><Member Name="Yes" Value="1"/></EnumType>
  <EnumType Name="SalesStatus">
    <Member Name="Backorder" Value="1"/><Member Name="Delivered" Value="2"/>
  </EnumType>
  <EnumType Name="Access" IsFlags="true">
    <Member Name="Read" Value="1"/><Member Name="Write" Value="2"/>
  </EnumType>
  <EnumType Name="Unlisted"/>
  <EntityType Name="Base" Abstract="true"><Property Name="RecId" Type="Edm.Int64"/></EntityType>
  <EntityType Name="SalesOrderLine" BaseType="mde.Base">
    <Key><PropertyRef Name="dataAreaId"/><PropertyRef Name="InventoryLotId"/></Key>
    <Property Name="dataAreaId" Type="Edm.String" Nullable="false"/>
    <Property Name="InventoryLotId" Type="Edm.String"/>
    <Property Name="LineNumber" Type="Edm.Int32"/>
    <Property Name="SalesPrice" Type="Edm.Decimal" Precision="32" Scale="6"/>
    <Property Name="IsDelivered" Type="Microsoft.Dynamics.DataEntities.NoYes"/>
    <Property Name="LineStatus" Type="mde.SalesStatus"/>
    <Property Name="Access" Type="mde.Access"/>
    <Property Name="Other" Type="mde.Unlisted"/>
    <Property Name="ShipDate" Type="Edm.Date"/>
    <Property Name="ModifiedDateTime" Type="Edm.DateTimeOffset"/>
    <Property Name="Picture" Type="Edm.Binary"/>
    <NavigationProperty Name="Header" Type="mde.SalesOrderHeader"/>
  </EntityType>
  <EntityContainer Name="Resources">
    <EntitySet Name="SalesOrderLines" EntityType="Microsoft.Dynamics.DataEntities.SalesOrderLine"/>
    <EntitySet Name="Orphans" EntityType="Microsoft.Dynamics.DataEntities.Missing"/>
  </EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"""


def test_parse_metadata_maps_types_and_upper_cases_names() -> None:
    schemas = parse_metadata(EDMX)
    assert list(schemas) == ["SalesOrderLines"]
    assert schemas["SalesOrderLines"] == EntitySchema(
        (
            Column("RECID", ColumnType.INTEGER),  # from the base type, first
            Column("INVENTORYLOTID", ColumnType.STRING),  # dataAreaId is left out
            Column("LINENUMBER", ColumnType.INTEGER),
            Column("SALESPRICE", ColumnType.DECIMAL),
            Column("ISDELIVERED", ColumnType.NOYES),
            # referenced through the schema's alias; an enum column knows its members
            Column("LINESTATUS", ColumnType.ENUM, ("Backorder", "Delivered")),
            Column("ACCESS", ColumnType.ENUM),  # a flags enum's values combine members: not checked
            Column("OTHER", ColumnType.ENUM),  # no members listed: not known
            Column("SHIPDATE", ColumnType.DATE),
            Column("MODIFIEDDATETIME", ColumnType.DATETIME),
            Column("PICTURE", ColumnType.STRING),  # unknown types stay text
        )
    )


@pytest.mark.parametrize("data", [b"not xml", b"<root/>", b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'])
def test_parse_metadata_refuses_other_documents(data: bytes) -> None:
    with pytest.raises(MetadataError):
        parse_metadata(data)


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(tmp_path_factory.mktemp("metadata")) as emulator:
        yield emulator


def test_client_schemas_match_the_catalog(emu: Emulator) -> None:
    emu.clear_requests()
    with client_for(emu) as client:
        for entity in CATALOG.entities:
            schema = client.get_entity_schema(entity.name)
            assert [(c.name, c.type) for c in schema] == [(c.name, c.type) for c in entity.schema], (
                entity.name
            )
            assert all(c.members for c in schema if c.type is ColumnType.ENUM), entity.name
        customers = client.get_entity_schema("customersv3")
        assert customers.names == CATALOG.entity("CustomersV3").schema.names
        with pytest.raises(MetadataError, match="NoSuchEntities"):
            client.get_entity_schema("NoSuchEntities")
    fetched = [r for r in emu.requests if r.path.endswith("/$metadata")]
    assert len(fetched) == 1  # parsed once per client
    assert fetched[0].had_authorization
