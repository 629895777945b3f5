"""The data entities the emulator knows: names, DMF labels, AOT names and typed columns.

The emulator plays F&O, so it keeps its own copy of the entity shapes instead of reading the
product's catalog. Column names, order and types match the shipped ``catalog.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ENTITIES", "ColumnsView", "EntityDef", "find_entity"]

STRING, ENUM, NOYES, INTEGER, DECIMAL, DATE, DATETIME = (
    "string",
    "enum",
    "noyes",
    "integer",
    "decimal",
    "date",
    "datetime",
)


class ColumnsView:
    """``column_names`` and ``column_types`` of anything with ``columns`` as ``(name, type)`` pairs."""

    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        """Upper-case column names in file order."""
        return tuple(name for name, _ in self.columns)

    @property
    def column_types(self) -> tuple[str, ...]:
        """Column types in file order (``string``, ``decimal``, ...)."""
        return tuple(kind for _, kind in self.columns)


@dataclass(frozen=True)
class EntityDef(ColumnsView):
    """One F&O data entity as the emulator serves it."""

    name: str
    """Public collection name (OData entity set), e.g. ``CustomersV3``."""
    label: str
    """DMF entity label: ``<EntityName>`` in Manifest.xml and the data file's name."""
    aot_name: str
    public_name: str
    company_specific: bool
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]
    default_rows: int


def _cols(spec: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in spec.split():
        name, kind = item.split(":")
        pairs.append((name, kind))
    return tuple(pairs)


ENTITIES: tuple[EntityDef, ...] = (
    EntityDef(
        name="CustomersV3",
        label="Customers V3",
        aot_name="CustCustomerV3Entity",
        public_name="CustomerV3",
        company_specific=True,
        key=("CUSTOMERACCOUNT",),
        columns=_cols(
            "CUSTOMERACCOUNT:string PARTYNUMBER:string ORGANIZATIONNAME:string NAMEALIAS:string "
            "CUSTOMERGROUPID:string SALESCURRENCYCODE:string CREDITLIMIT:decimal PAYMENTTERMS:string "
            "ISONETIMECUSTOMER:noyes ONHOLDSTATUS:enum ADDRESSSTREET:string ADDRESSCITY:string "
            "ADDRESSZIPCODE:string ADDRESSCOUNTRYREGIONID:string PRIMARYCONTACTEMAIL:string "
            "LANGUAGEID:string"
        ),
        default_rows=300,
    ),
    EntityDef(
        name="VendorsV2",
        label="Vendors V2",
        aot_name="VendVendorV2Entity",
        public_name="VendorV2",
        company_specific=True,
        key=("VENDORACCOUNTNUMBER",),
        columns=_cols(
            "VENDORACCOUNTNUMBER:string PARTYNUMBER:string VENDORORGANIZATIONNAME:string "
            "VENDORGROUPID:string CURRENCYCODE:string CREDITLIMIT:decimal ONHOLDSTATUS:enum "
            "DEFAULTPAYMENTTERMSNAME:string WITHHOLDINGTAXGROUPCODE:string BANKACCOUNTID:string "
            "DEFAULTDELIVERYMODEID:string ADDRESSCITY:string ADDRESSCOUNTRYREGIONID:string "
            "ISMINORITYOWNED:noyes"
        ),
        default_rows=200,
    ),
    EntityDef(
        name="ReleasedProductsV2",
        label="Released products V2",
        aot_name="EcoResReleasedProductV2Entity",
        public_name="ReleasedProductV2",
        company_specific=True,
        key=("ITEMNUMBER",),
        columns=_cols(
            "ITEMNUMBER:string PRODUCTNUMBER:string PRODUCTNAME:string SEARCHNAME:string PRODUCTTYPE:enum "
            "PRODUCTSUBTYPE:enum PRODUCTGROUPID:string ITEMMODELGROUPID:string "
            "STORAGEDIMENSIONGROUPNAME:string TRACKINGDIMENSIONGROUPNAME:string BOMUNITSYMBOL:string "
            "SALESPRICE:decimal PURCHASEPRICE:decimal NETPRODUCTWEIGHT:decimal "
            "ISPURCHASEPRICEAUTOMATICALLYUPDATED:noyes"
        ),
        default_rows=400,
    ),
    EntityDef(
        name="SalesOrderHeadersV2",
        label="Sales order headers V2",
        aot_name="SalesOrderHeaderV2Entity",
        public_name="SalesOrderHeaderV2",
        company_specific=True,
        key=("SALESORDERNUMBER",),
        columns=_cols(
            "SALESORDERNUMBER:string SALESORDERSTATUS:enum ORDERINGCUSTOMERACCOUNTNUMBER:string "
            "INVOICECUSTOMERACCOUNTNUMBER:string CURRENCYCODE:string CUSTOMERSORDERREFERENCE:string "
            "DEFAULTSHIPPINGSITEID:string DEFAULTSHIPPINGWAREHOUSEID:string DELIVERYMODECODE:string "
            "PAYMENTTERMSNAME:string REQUESTEDSHIPPINGDATE:date REQUESTEDRECEIPTDATE:date "
            "ISONETIMECUSTOMER:noyes ORDERCREATIONDATETIME:datetime"
        ),
        default_rows=1200,
    ),
    EntityDef(
        name="SalesOrderLinesV2",
        label="Sales order lines V2",
        aot_name="SalesOrderLineV2Entity",
        public_name="SalesOrderLineV2",
        company_specific=True,
        key=("INVENTORYLOTID",),
        columns=_cols(
            "INVENTORYLOTID:string SALESORDERNUMBER:string LINECREATIONSEQUENCENUMBER:integer "
            "SALESORDERLINESTATUS:enum ITEMNUMBER:string LINEDESCRIPTION:string "
            "ORDEREDSALESQUANTITY:decimal SALESUNITSYMBOL:string SALESPRICE:decimal "
            "LINEDISCOUNTAMOUNT:decimal LINEAMOUNT:decimal CURRENCYCODE:string SHIPPINGWAREHOUSEID:string "
            "REQUESTEDRECEIPTDATE:date CONFIRMEDRECEIPTDATE:date"
        ),
        default_rows=3000,
    ),
    EntityDef(
        name="PurchaseOrderHeadersV2",
        label="Purchase order headers V2",
        aot_name="PurchPurchaseOrderHeaderV2Entity",
        public_name="PurchaseOrderHeaderV2",
        company_specific=True,
        key=("PURCHASEORDERNUMBER",),
        columns=_cols(
            "PURCHASEORDERNUMBER:string PURCHASEORDERSTATUS:enum ORDERVENDORACCOUNTNUMBER:string "
            "INVOICEVENDORACCOUNTNUMBER:string CURRENCYCODE:string VENDORORDERREFERENCE:string "
            "DEFAULTRECEIVINGSITEID:string DEFAULTRECEIVINGWAREHOUSEID:string PAYMENTTERMSNAME:string "
            "BUYERGROUPID:string REQUESTEDDELIVERYDATE:date CONFIRMEDDELIVERYDATE:date"
        ),
        default_rows=800,
    ),
    EntityDef(
        name="PurchaseOrderLinesV2",
        label="Purchase order lines V2",
        aot_name="PurchPurchaseOrderLineV2Entity",
        public_name="PurchaseOrderLineV2",
        company_specific=True,
        key=("PURCHASEORDERNUMBER", "LINENUMBER"),
        columns=_cols(
            "PURCHASEORDERNUMBER:string LINENUMBER:integer PURCHASEORDERLINESTATUS:enum ITEMNUMBER:string "
            "LINEDESCRIPTION:string ORDEREDPURCHASEQUANTITY:decimal PURCHASEPRICE:decimal "
            "LINEAMOUNT:decimal CURRENCYCODE:string RECEIVINGWAREHOUSEID:string "
            "PROCUREMENTPRODUCTCATEGORYNAME:string REQUESTEDDELIVERYDATE:date"
        ),
        default_rows=2000,
    ),
    EntityDef(
        name="MainAccounts",
        label="Main account",
        aot_name="MainAccountEntity",
        public_name="MainAccount",
        company_specific=False,
        key=("CHARTOFACCOUNTS", "MAINACCOUNTID"),
        columns=_cols(
            "MAINACCOUNTID:string CHARTOFACCOUNTS:string NAME:string MAINACCOUNTTYPE:enum "
            "MAINACCOUNTCATEGORY:string POSTINGTYPE:enum DEBITCREDITPROPOSAL:enum ISSUSPENDED:noyes "
            "DONOTALLOWMANUALENTRY:noyes ACTIVEFROM:date ACTIVETO:date DEFAULTCURRENCY:string"
        ),
        default_rows=150,
    ),
    EntityDef(
        name="GeneralJournalAccountEntries",
        label="General journal account entry",
        aot_name="GeneralJournalAccountEntryEntity",
        public_name="GeneralJournalAccountEntry",
        company_specific=True,
        key=("GENERALJOURNALACCOUNTENTRYRECID",),
        columns=_cols(
            "GENERALJOURNALACCOUNTENTRYRECID:integer JOURNALNUMBER:string VOUCHER:string "
            "ACCOUNTINGDATE:date POSTINGLAYER:enum LEDGERNAME:string MAINACCOUNT:string "
            "LEDGERACCOUNT:string ACCOUNTDISPLAYVALUE:string TRANSACTIONCURRENCYCODE:string "
            "TRANSACTIONCURRENCYAMOUNT:decimal ACCOUNTINGCURRENCYAMOUNT:decimal "
            "REPORTINGCURRENCYAMOUNT:decimal QUANTITY:decimal ISCREDIT:noyes ISCORRECTION:noyes "
            "POSTINGTYPE:enum JOURNALCATEGORY:enum DOCUMENTNUMBER:string DOCUMENTDATE:date TEXT:string "
            "CREATEDDATETIME:datetime"
        ),
        default_rows=20000,
    ),
)

_BY_KEY = {key.casefold(): e for e in ENTITIES for key in (e.name, e.label, e.aot_name, e.public_name)}


def find_entity(name: str) -> EntityDef:
    """Look an entity up by collection name, DMF label, AOT name or public name (case-insensitive)."""
    try:
        return _BY_KEY[name.casefold()]
    except KeyError:
        raise KeyError(f"unknown entity {name!r}") from None
