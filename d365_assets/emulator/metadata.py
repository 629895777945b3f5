"""A small ``$metadata`` (EDMX) document describing the emulated entities and their property types.

Enum properties are typed by their F&O enum type, and each ``EnumType`` lists its members (the
symbols DMF files carry), as F&O's ``$metadata`` does: every symbol the emulator writes is among them.
"""

from __future__ import annotations

from functools import lru_cache
from xml.sax.saxutils import quoteattr

from .entities import ENTITIES

__all__ = ["ENUM_MEMBERS", "metadata_xml", "pascal_name"]

_EDM_TYPES = {
    "string": 'Type="Edm.String"',
    "noyes": 'Type="Microsoft.Dynamics.DataEntities.NoYes"',
    "integer": 'Type="Edm.Int64"',
    "decimal": 'Type="Edm.Decimal" Precision="32" Scale="6"',
    "date": 'Type="Edm.Date"',
    "datetime": 'Type="Edm.DateTimeOffset"',
}

_NS = "Microsoft.Dynamics.DataEntities"
_ENUM_TYPES = {
    "ONHOLDSTATUS": "CustVendorBlocked",
    "PRODUCTTYPE": "EcoResProductType",
    "PRODUCTSUBTYPE": "EcoResProductSubtype",
    "SALESORDERSTATUS": "SalesStatus",
    "SALESORDERLINESTATUS": "SalesStatus",
    "PURCHASEORDERSTATUS": "PurchStatus",
    "PURCHASEORDERLINESTATUS": "PurchStatus",
    "MAINACCOUNTTYPE": "DimensionLedgerAccountType",
    "POSTINGTYPE": "LedgerPostingType",
    "DEBITCREDITPROPOSAL": "DebCredProposal",
    "POSTINGLAYER": "CurrentOperationsTax",
    "JOURNALCATEGORY": "LedgerTransType",
}
"""F&O enum type of each enum column (the fallback is the column's OData name)."""

ENUM_MEMBERS: dict[str, tuple[str, ...]] = {
    "NoYes": ("No", "Yes"),
    "CustVendorBlocked": ("No", "Invoice", "All", "Payment", "Requisition", "Never"),
    "EcoResProductType": ("Item", "Service"),
    "EcoResProductSubtype": ("Product", "ProductMaster", "ProductVariant"),
    "SalesStatus": ("None", "Backorder", "Delivered", "Invoiced", "Canceled"),
    "PurchStatus": ("None", "Backorder", "Received", "Invoiced", "Canceled"),
    "DimensionLedgerAccountType": (
        "ProfitAndLoss", "Revenue", "Expense", "BalanceSheet", "Asset", "Liability", "Equity", "Total",
    ),
    "LedgerPostingType": (
        "None", "LedgerJournal", "CustBalance", "VendBalance", "Tax", "InventReceipt", "InventIssue",
        "Sales", "Purch", "Bank",
    ),
    "DebCredProposal": ("None", "Debit", "Credit"),
    "CurrentOperationsTax": ("Current", "Operations", "Tax"),
    "LedgerTransType": ("None", "Daily", "Sales", "Purch", "Payment", "Invent", "Tax"),
}  # fmt: skip
"""Member symbols of each enum type, in value order (the emulator's values 0, 1, ...)."""

_VOCABULARY = """
    ACCOUNT ACCOUNTING ACCOUNTS ACTIVE ADDRESS ALIAS ALLOW AMOUNT AUTOMATICALLY BANK BOM BUYER CATEGORY
    CHART CITY CODE CONFIRMED CONTACT CORRECTION COUNTRY CREATED CREATION CREDIT CURRENCY CUSTOMER
    CUSTOMERS DATA DATE DATETIME DEBIT DEFAULT DELIVERY DESCRIPTION DIMENSION DISCOUNT DISPLAY DO
    DOCUMENT EMAIL ENTRY FROM GENERAL GROUP HOLD ID INVENTORY INVOICE IS ITEM JOURNAL LANGUAGE LAYER LEDGER
    LINE LIMIT LOT MAIN MANUAL MINORITY MODE MODEL NAME NET NOT NUMBER OF ON ONE ORDER ORDERED ORDERING
    ORGANIZATION OWNED PARTY PAYMENT POSTING PRICE PRIMARY PROCUREMENT PRODUCT PROPOSAL PURCHASE
    QUANTITY RECEIPT RECEIVING REC REFERENCE REGION REPORTING REQUESTED SALES SEARCH SEQUENCE
    SHIPPING SITE STATUS STORAGE STREET SUB SUSPENDED SYMBOL TAX TERMS TEXT TIME TO TRACKING
    TRANSACTION TYPE UNIT UPDATED VENDOR VOUCHER WAREHOUSE WEIGHT WITHHOLDING ZIP"""
_WORDS = sorted(_VOCABULARY.split(), key=len, reverse=True)
_SPECIAL = {"DATETIME": "DateTime", "BOM": "BOM", "ID": "Id", "REC": "Rec"}


@lru_cache(maxsize=512)
def pascal_name(column: str) -> str:
    """OData property name for an upper-case DMF column (``CUSTOMERACCOUNT`` -> ``CustomerAccount``)."""
    out, rest = [], column
    while rest:
        word = next((w for w in _WORDS if rest.startswith(w)), None)
        if word is None:
            out.append(rest.capitalize())
            break
        out.append(_SPECIAL.get(word, word.capitalize()))
        rest = rest[len(word) :]
    return "".join(out)


def _enum_type(column: str) -> str:
    return _ENUM_TYPES.get(column) or pascal_name(column)


def _property_type(column: str, kind: str) -> str:
    if kind == "enum":
        return f'Type="{_NS}.{_enum_type(column)}"'
    return _EDM_TYPES[kind]


def _enum_type_xml(name: str) -> str:
    members = "".join(
        f'<Member Name={quoteattr(member)} Value="{value}"/>'
        for value, member in enumerate(ENUM_MEMBERS.get(name, ()))
    )
    return f"<EnumType Name={quoteattr(name)}>{members}</EnumType>"


@lru_cache(maxsize=1)
def metadata_xml() -> bytes:
    """The EDMX document served at ``/data/$metadata``."""
    types, sets = [], []
    for entity in ENTITIES:
        keys = "".join(f'<PropertyRef Name="{pascal_name(k)}"/>' for k in entity.key)
        if entity.company_specific:
            keys = '<PropertyRef Name="dataAreaId"/>' + keys
        props = "".join(
            f'<Property Name="{pascal_name(name)}" {_property_type(name, kind)}/>'
            for name, kind in entity.columns
        )
        if entity.company_specific:
            props = '<Property Name="dataAreaId" Type="Edm.String" Nullable="false" MaxLength="4"/>' + props
        types.append(
            f"<EntityType Name={quoteattr(entity.public_name)}><Key>{keys}</Key>{props}</EntityType>"
        )
        sets.append(
            f"<EntitySet Name={quoteattr(entity.name)} "
            f'EntityType="Microsoft.Dynamics.DataEntities.{entity.public_name}"/>'
        )
    enums = sorted({_enum_type(name) for e in ENTITIES for name, kind in e.columns if kind == "enum"})
    text = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>'
        '<Schema Namespace="Microsoft.Dynamics.DataEntities" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        + "".join(_enum_type_xml(name) for name in ["NoYes", *enums])
        + "".join(types)
        + '<EntityContainer Name="Resources">'
        + "".join(sets)
        + "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"
    )
    return text.encode("utf-8")
