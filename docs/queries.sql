-- Three questions for the warehouse (data/warehouse.duckdb, schema d365).
-- Run them all:  duckdb -readonly data/warehouse.duckdb < docs/queries.sql
-- or see "Query the warehouse" in README.md. tests/test_queries.py checks each answer against F&O's data.
-- Tables carry F&O's upper-case column names, and company-specific tables the legal entity in DATAAREAID.

-- name: open_sales_by_customer
-- Open sales per company and customer: the order lines still on backorder (SALESORDERLINESTATUS
-- 'Backorder') of orders that are still open (SALESORDERSTATUS 'Backorder', "Open order" in F&O).
SELECT
    h.DATAAREAID,
    h.ORDERINGCUSTOMERACCOUNTNUMBER AS CUSTOMERACCOUNT,
    c.ORGANIZATIONNAME,
    count(DISTINCT h.SALESORDERNUMBER) AS OPEN_ORDERS,
    count(*) AS OPEN_LINES,
    sum(l.LINEAMOUNT) AS OPEN_AMOUNT,
    any_value(l.CURRENCYCODE) AS CURRENCYCODE
FROM d365.sales_order_headers_v2 AS h
JOIN d365.sales_order_lines_v2 AS l
    ON l.DATAAREAID = h.DATAAREAID AND l.SALESORDERNUMBER = h.SALESORDERNUMBER
LEFT JOIN d365.customers_v3 AS c
    ON c.DATAAREAID = h.DATAAREAID AND c.CUSTOMERACCOUNT = h.ORDERINGCUSTOMERACCOUNTNUMBER
WHERE h.SALESORDERSTATUS = 'Backorder' AND l.SALESORDERLINESTATUS = 'Backorder'
GROUP BY h.DATAAREAID, h.ORDERINGCUSTOMERACCOUNTNUMBER, c.ORGANIZATIONNAME
ORDER BY h.DATAAREAID, OPEN_AMOUNT DESC, CUSTOMERACCOUNT;

-- name: gl_balance_by_main_account
-- General ledger balance per company and main account (posting layer Current, in accounting
-- currency), named from the shared chart of accounts. With several charts of accounts, also match
-- m.CHARTOFACCOUNTS to the company ledger's chart.
SELECT
    g.DATAAREAID,
    g.MAINACCOUNT,
    m.NAME,
    m.MAINACCOUNTTYPE,
    count(*) AS ENTRIES,
    sum(g.ACCOUNTINGCURRENCYAMOUNT) AS BALANCE
FROM d365.general_journal_account_entries AS g
LEFT JOIN d365.main_accounts AS m
    ON m.MAINACCOUNTID = g.MAINACCOUNT
WHERE g.POSTINGLAYER = 'Current'
GROUP BY g.DATAAREAID, g.MAINACCOUNT, m.NAME, m.MAINACCOUNTTYPE
ORDER BY g.DATAAREAID, g.MAINACCOUNT;

-- name: top_vendors_by_purchase_amount
-- The ten vendors per company with the largest purchase amount: the line amounts of every purchase
-- order line that is not canceled, by the order's vendor, in the order currency.
SELECT
    h.DATAAREAID,
    h.ORDERVENDORACCOUNTNUMBER AS VENDORACCOUNTNUMBER,
    v.VENDORORGANIZATIONNAME,
    count(DISTINCT h.PURCHASEORDERNUMBER) AS ORDERS,
    sum(l.LINEAMOUNT) AS PURCHASE_AMOUNT,
    any_value(l.CURRENCYCODE) AS CURRENCYCODE,
    row_number() OVER (
        PARTITION BY h.DATAAREAID ORDER BY sum(l.LINEAMOUNT) DESC, h.ORDERVENDORACCOUNTNUMBER
    ) AS RANK
FROM d365.purchase_order_lines_v2 AS l
JOIN d365.purchase_order_headers_v2 AS h
    ON h.DATAAREAID = l.DATAAREAID AND h.PURCHASEORDERNUMBER = l.PURCHASEORDERNUMBER
LEFT JOIN d365.vendors_v2 AS v
    ON v.DATAAREAID = h.DATAAREAID AND v.VENDORACCOUNTNUMBER = h.ORDERVENDORACCOUNTNUMBER
WHERE l.PURCHASEORDERLINESTATUS <> 'Canceled'
GROUP BY h.DATAAREAID, h.ORDERVENDORACCOUNTNUMBER, v.VENDORORGANIZATIONNAME
QUALIFY RANK <= 10
ORDER BY h.DATAAREAID, RANK;
